// A log object prepared for the viewer: a sparse line index (every 64th line's offset, so a
// 5 M-line log costs 600 KB, not 40 MB, and the ANSI colours open there), built in one memchr
// pass on first view, and its error
// summary, built on first request for it (so scrolling never waits for the summary). Both are
// kept in a small LRU keyed by bucket, key and ETag (an overwritten object is re-indexed).
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
#include "logs/ansi.h"
#include "logs/search.h"
#include "logs/summary.h"
#include "platform/file_system.h"
#include "store/store.h"

namespace logbucket::web {

// The bytes of a log (an object body, or the decompressed copy of a .gz object).
class LogBytes {
 public:
  virtual ~LogBytes() = default;
  virtual uint64_t size() const = 0;
  // Safe to call from several threads at once (a big search reads both halves together).
  virtual Result<size_t> ReadAt(uint64_t offset, char* buffer, size_t length) = 0;
  // A descriptor of a file holding exactly these bytes (scans map it), or -1.
  virtual int fd() const { return -1; }
};

struct LogIndex {
  static constexpr uint64_t kStride = 64;
  std::vector<uint64_t> checkpoints;  // byte offset of lines 1, 1+kStride, 1+2·kStride, …
  // The colours in force at the checkpoints (what rendering from line 1 carries there), as the
  // checkpoints where they change: (checkpoint number, state from there on), ascending; before
  // the first entry, the defaults. A log coloured throughout costs one entry, not one per
  // checkpoint (ColoursAt() reads it).
  std::vector<std::pair<uint64_t, logs::SgrState>> colour_changes;
  logs::SgrState ColoursAt(uint64_t checkpoint) const;
  uint64_t lines = 0;
  uint64_t bytes = 0;
  logs::HeaderFacts header;  // from the first lines (the summary's header, without the summary)
};

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

// One rendered line: HTML (ANSI colours as spans, everything escaped) and whether it was cut.
struct RenderedLine {
  std::string html;
  uint64_t bytes = 0;  // the raw line's length
  bool truncated = false;
};

// Lines [from, to] (1-based, inclusive), rendered; `max_line_bytes` caps each line.
Result<std::vector<RenderedLine>> ReadLines(const LogIndex& index, LogBytes& bytes, uint64_t from,
                                            uint64_t to, size_t max_line_bytes);

// The first lines of an object without an index (the page served before indexing finishes).
Result<std::vector<RenderedLine>> ReadFirstLines(LogBytes& bytes, uint64_t count,
                                                 size_t max_line_bytes, bool* more);

// Searches from line `query.first_line` to the end (or the match cap). From
// `split_min_bytes` on, the second half runs on a helper thread when one is free (the answer is
// the same; `bytes` is read from both).
inline constexpr uint64_t kSplitSearchBytes = 64 << 20;
Result<logs::SearchResult> SearchLog(const LogIndex& index, LogBytes& bytes,
                                     const logs::SearchQuery& query,
                                     uint64_t split_min_bytes = kSplitSearchBytes);

// The object's own bytes, through the Store.
std::shared_ptr<LogBytes> ObjectBytes(std::unique_ptr<store::ObjectBody> body, uint64_t size);

}  // namespace logbucket::web
