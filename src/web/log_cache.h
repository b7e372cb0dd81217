// Log objects prepared for the viewer: the log engine's index (logs/log_index.h), built on first
// view, and the error summary, built on first request for it (so scrolling never waits for the
// summary). Both are kept in a small LRU keyed by bucket, key and ETag (an overwritten object is
// re-indexed). JSON documents are shown pretty-printed.
// `.gz` objects are decompressed once into the cache directory and served from there; those
// copies are unlinked files (nothing is left behind on any exit, and `du` does not see them), so
// their bytes are bounded in total, not only by the number of entries.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "logs/log_index.h"
#include "logs/summary.h"
#include "platform/file_system.h"
#include "platform/random_access.h"
#include "store/store.h"

namespace logbucket::web {

// The bytes of a log: an object body, or the decompressed copy of a .gz object.
using LogBytes = platform::RandomAccessBytes;
using logs::LogIndex;

struct LogSummary {
  logs::Summary summary;
  std::string json;  // SummaryToJson(summary), made once: ?errors answers with it
};

struct OpenedLog {
  store::ObjectInfo info;
  std::shared_ptr<const LogIndex> index;
  std::shared_ptr<LogBytes> bytes;
  std::shared_ptr<void> entry;  // the cache's record, for Summary()
};

struct LogCacheOptions {
  std::string cache_dir;               // for decompressed .gz copies ("" = system temp dir)
  platform::FileSystem* fs = nullptr;  // where the copies are written (null: the real one)
  size_t max_entries = 16;             // indexed logs kept
  uint64_t max_decompressed_bytes = 4ULL << 30;  // one .gz log's decompressed copy
  // All decompressed copies the cache holds (web.gunzip_cache_bytes): least recently used ones
  // are dropped to make room, and a copy that cannot fit fails with kServiceUnavailable.
  uint64_t max_decompressed_total_bytes = 2ULL << 30;
  // The longest part of a line the viewer renders (ViewerOptions::max_line_bytes): what of a
  // line decides the colours it leaves open.
  size_t line_bytes = 256 * 1024;
};

class LogCache {
 public:
  LogCache(store::Store& store, LogCacheOptions options);
  ~LogCache();
  // Indexes the object on first use (the caller waits: a memchr pass), then serves from memory.
  Result<OpenedLog> Open(const std::string& bucket, const store::ObjectInfo& info);
  // The error summary of an opened log, made on first use (one more pass), then kept.
  Result<std::shared_ptr<const LogSummary>> Summary(const OpenedLog& log);

  struct Stats {
    uint64_t entries = 0;
    uint64_t decompressed_bytes = 0;      // held by cached .gz copies (and ones being made)
    uint64_t decompressed_evictions = 0;  // copies dropped to make room for another
    uint64_t decompressed_refused = 0;    // copies that could not fit at all
  };
  Stats stats() const;

 private:
  struct Entry;
  // Takes `bytes` more of the decompressed-copy budget for `entry`, dropping least recently
  // used copies (never `entry`'s) to make room; false when that is not enough.
  bool ChargeDecompressed(Entry& entry, uint64_t bytes);
  // Drops `id` from the cache (mu_ held), returning its copy's bytes to the budget.
  void EraseLocked(const std::string& id);
  store::Store& store_;
  LogCacheOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // bucket \0 key \0 etag
  std::list<std::string> lru_;                             // most recent first
  uint64_t decompressed_bytes_ = 0;                        // the entries' `charged`, summed
  uint64_t decompressed_evictions_ = 0;
  uint64_t decompressed_refused_ = 0;
};

}  // namespace logbucket::web
