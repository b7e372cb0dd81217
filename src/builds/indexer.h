// Keeps the build index in step with a bucket: a background thread that indexes the build logs
// it is told about (the embedded store tells it of every committed change) and crawls the
// bucket(s) for what it was not told (`serve --store` over any S3, a restart, an index deleted
// by hand): new or changed keys by ETag, deleted ones removed, rate-limited.
//
// Each log's summary comes from the summary.json beside it when push wrote one for these bytes
// (its size matches and it is not older), else from reading the log (`.gz` decompressed).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "builds/index.h"
#include "common/status.h"
#include "store/store.h"

namespace logbucket::builds {

struct IndexerOptions {
  std::vector<std::string> buckets;  // empty: every bucket the store lists
  // A full pass over the bucket(s) this often; the first starts at once. 0: the first only.
  int crawl_interval_seconds = 600;
  // Store requests (list, head, get) per second, crawl and indexing together; 0: no limit.
  double requests_per_second = 100;
  // A summary.json larger than this is not read (the log is).
  size_t max_summary_json_bytes = 16 << 20;
  // Notified keys waiting; past this, the oldest are left to the next crawl.
  size_t max_queued = 100000;
  // Logs a crawl reads at once (over a remote store each read waits for the network).
  int crawl_threads = 4;
};

struct IndexerStats {
  uint64_t indexed = 0;  // logs (re)indexed
  uint64_t from_summary_json = 0;
  uint64_t removed = 0;
  uint64_t requests = 0;  // store requests made
  uint64_t errors = 0;
  uint64_t crawls = 0;  // full passes finished
  uint64_t queued = 0;  // waiting now
};

class Indexer {
 public:
  Indexer(store::Store& store, BuildIndex& index, IndexerOptions options);
  ~Indexer();  // stops the thread
  Indexer(const Indexer&) = delete;
  Indexer& operator=(const Indexer&) = delete;

  void Start();
  void Stop();

  // A key changed (written, replaced, deleted). Cheap, any thread: keys that are not part of a
  // build (a log or its summary.json) are ignored at once.
  void Notify(const std::string& bucket, const std::string& key);

  // Synchronous: indexes (or, when it is gone, removes) one build log now.
  Status IndexKey(const std::string& bucket, const std::string& key);
  // Synchronous: one full pass over the bucket(s).
  Status Crawl();

  // Waits until every key notified before the call is indexed and, if `crawled` is set, a full
  // pass has finished; false on timeout. For tests and `push --wait`-like callers.
  bool WaitIdle(int timeout_ms, bool crawled = false);

  IndexerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the local store's object listener calls: forwards to an indexer that is attached later
// (the store is opened before the viewer) and detached before it goes (the store outlives it).
class IndexerHook {
 public:
  void Attach(Indexer* indexer) {
    std::lock_guard lock(mu_);
    indexer_ = indexer;
  }
  void Detach() { Attach(nullptr); }
  void Notify(const std::string& bucket, const std::string& key) {
    std::lock_guard lock(mu_);
    if (indexer_ != nullptr) indexer_->Notify(bucket, key);
  }

 private:
  std::mutex mu_;
  Indexer* indexer_ = nullptr;
};

}  // namespace logbucket::builds
