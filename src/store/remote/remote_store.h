// The Store interface over one bucket of any S3 endpoint (Ceph RGW, AWS, MinIO, another
// logbucket), for `logbucket serve --store s3://BUCKET --endpoint URL`: the viewer, stateless,
// many instances side by side. Read-only: the viewer never writes, and writes go through
// `logbucket push` or any S3 client straight to the bucket.
//
// Object bodies are downloaded once into a size-capped disk cache keyed by (bucket, key, ETag),
// streamed (never whole in memory) and renamed into place when complete, then served from the
// file (sendfile, mapped scans) exactly as the embedded store serves its blobs. An overwritten
// object has a new ETag, so a stale copy is never served; the least recently used files go when
// the cache is over its cap. Objects larger than the cap are read with ranged GETs instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "platform/file_system.h"
#include "s3client/client.h"
#include "store/store.h"

namespace logbucket::store {

// What a frontend's body cache did, for its metrics (`GET /_metrics`): where the bytes of page
// views came from, and whether the cap is too small (evictions soon after downloads).
struct RemoteStoreCounters {
  std::atomic<uint64_t> cache_hits{0};  // bodies opened from the cache
  std::atomic<uint64_t> downloads{0};   // bodies fetched whole into it
  std::atomic<uint64_t> downloaded_bytes{0};
  std::atomic<uint64_t> download_failures{0};  // attempts that failed (each retried up to 3)
  std::atomic<uint64_t> ranged_reads{0};       // ranged GETs of objects above the cap
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> evicted_bytes{0};
  std::atomic<uint64_t> cached_bytes{0};  // after the latest eviction pass
};

struct RemoteStoreOptions {
  s3client::ClientOptions client;  // endpoint, region, credentials (none = anonymous)
  std::string bucket;
  std::string cache_dir;
  uint64_t cache_max_bytes = 10ULL << 30;
  int list_page_keys = 1000;
  // HEAD answers are reused this long: a page view asks for the same object's metadata several
  // times (page, ?meta, ?lines), each a round trip to the endpoint otherwise. An overwrite is
  // seen at most this late.
  int64_t metadata_ttl_ms = 2000;
  // Counted here when set (not owned; outlives the store).
  RemoteStoreCounters* counters = nullptr;
  // The cache directory's files go through this (not owned).
  platform::FileSystem* fs = &platform::FileSystem::Posix();
};

// "s3://bucket" or "s3://bucket/" → "bucket"; InvalidArgument otherwise.
Result<std::string> ParseS3Url(const std::string& url);

// Checks the bucket answers (HEAD bucket, or a one-key listing when HEAD is not allowed, as for
// an anonymous reader under a policy that grants only s3:GetObject/ListBucket).
Result<std::unique_ptr<Store>> OpenRemoteStore(const RemoteStoreOptions& options);

}  // namespace logbucket::store
