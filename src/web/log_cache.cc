#include "web/log_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>

#include "common/encoding.h"
#include "common/headers.h"
#include "logs/ansi.h"
#include "logs/gunzip.h"
#include "platform/mapped_scan.h"

namespace logbucket::web {
namespace {

// A finished copy (decompressed, pretty-printed) as log bytes: the scratch file has no name, so
// nothing is left behind on any exit; a second descriptor keeps it alive once the writer is gone.
Result<std::shared_ptr<LogBytes>> ReadableCopy(const platform::ScratchFile& file, uint64_t size) {
  int fd = ::fcntl(file.fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return platform::PosixError("reopen", "a decompressed copy", errno);
  return std::shared_ptr<LogBytes>(std::make_shared<platform::FileBytes>(
      std::make_shared<const platform::ScopedFd>(fd), size, "a decompressed copy"));
}

// `charge(n)` is asked before n more bytes are written; false stops with kServiceUnavailable.
// A full disk is kStorageFull (transient: the next view tries again).
Result<std::shared_ptr<LogBytes>> Decompress(LogBytes& compressed, platform::FileSystem& fs,
                                             const std::string& dir, uint64_t max_bytes,
                                             const std::function<bool(uint64_t)>& charge) {
  auto file = fs.NewScratchFile(dir.empty() ? std::string("/tmp") : dir);
  if (!file) return file.error();
  logs::GzipDecoder gunzip(max_bytes);
  uint64_t written = 0;
  Status write_status;
  Status st = logs::ForEachChunk(compressed, 0, [&](std::string_view chunk) {
    Status s = gunzip.Feed(chunk, [&](std::string_view plain) {
      if (plain.empty() || !write_status.ok()) return;
      if (!charge(plain.size())) {
        write_status = Error(ErrorCode::kServiceUnavailable,
                             "too many large .gz logs are open at once; try again in a while");
        return;
      }
      write_status = (*file)->Append(plain);
      if (write_status.ok()) written += plain.size();
    });
    if (!s.ok()) write_status = s;
    return write_status.ok() && !gunzip.limit_reached();
  });
  if (!st.ok()) return st;
  if (!write_status.ok()) return write_status;
  if (!gunzip.limit_reached()) LB_RETURN_IF_ERROR(gunzip.Finish());
  return ReadableCopy(**file, written);
}

// A JSON document up to this size is shown pretty-printed (machine-written JSON is often one
// line of megabytes, which the viewer would cut at max_line_bytes).
constexpr uint64_t kMaxPrettyJsonBytes = 16 << 20;
constexpr int kMaxPrettyJsonDepth = 256;

bool IsJson(const store::ObjectInfo& info) {
  std::string_view key = info.key;
  if (key.ends_with(".gz")) key.remove_suffix(3);
  std::string type = AsciiLower(FindHeader(info.headers, "content-type").value_or(""));
  return key.ends_with(".json") || type.starts_with("application/json");
}

// The document indented two spaces a level, in a scratch file, or nullptr when it is not valid
// JSON (then it is shown as stored).
Result<std::shared_ptr<LogBytes>> PrettyJson(LogBytes& source, platform::FileSystem& fs,
                                             const std::string& dir,
                                             const std::function<bool(uint64_t)>& charge) {
  std::string text;
  text.reserve(source.size());
  LB_RETURN_IF_ERROR(logs::ForEachChunk(source, 0, [&](std::string_view chunk) {
    text.append(chunk);
    return true;
  }));
  // dump() recurses once per level: a document nested deeper than any real one is shown as
  // stored, or a few megabytes of "[[[[" would overflow a worker's stack.
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  if (deepest > kMaxPrettyJsonDepth) return std::shared_ptr<LogBytes>();
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::shared_ptr<LogBytes>();
  std::string pretty =
      parsed.dump(2, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  pretty.push_back('\n');
  if (!charge(pretty.size())) {
    return Error(ErrorCode::kServiceUnavailable,
                 "too many large documents are open at once; try again in a while");
  }
  auto file = fs.NewScratchFile(dir.empty() ? std::string("/tmp") : dir);
  if (!file) return file.error();
  LB_RETURN_IF_ERROR((*file)->Append(pretty));
  return ReadableCopy(**file, pretty.size());
}

}  // namespace

struct LogCache::Entry {
  std::mutex build_mu;  // one build per entry; later readers wait for it
  bool built = false;
  Status error;
  std::shared_ptr<const LogIndex> index;
  std::shared_ptr<LogBytes> decompressed;  // .gz, and pretty-printed JSON
  bool document = false;                   // JSON: shown, not analysed for errors
  // Under the cache's mu_: bytes of the decompressed-copy budget this entry holds, whether it is
  // still in the cache, and whether its copy is being written (not a victim then).
  uint64_t charged = 0;
  bool in_cache = true;
  bool decompressing = false;
  std::mutex summary_mu;  // separate: ?lines never waits for a summary being made
  std::shared_ptr<const LogSummary> summary;
  Status summary_error;
};

LogCache::LogCache(store::Store& store, LogCacheOptions options)
    : store_(store), options_(std::move(options)) {}
LogCache::~LogCache() = default;

Result<OpenedLog> LogCache::Open(const std::string& bucket, const store::ObjectInfo& info) {
  std::string id = bucket + '\0' + info.key + '\0' + info.etag;
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      entry = it->second;
      lru_.remove(id);
    } else {
      entry = std::make_shared<Entry>();
      entries_.emplace(id, entry);
      while (entries_.size() > options_.max_entries && !lru_.empty()) {
        EraseLocked(std::string(lru_.back()));
      }
    }
    lru_.push_front(id);
  }
  auto object = store_.GetObject(bucket, info.key);
  if (!object) return object.error();
  OpenedLog opened;
  opened.info = object->info;
  opened.bytes = std::move(object->body);
  std::lock_guard build(entry->build_mu);
  if (!entry->built) {
    entry->built = true;
    std::shared_ptr<LogBytes> source = opened.bytes;
    if (logs::IsGzipName(info.key)) {
      {
        std::lock_guard lock(mu_);
        entry->decompressing = true;
      }
      // A copy larger than the whole budget is cut there, as one over max_decompressed_bytes
      // is: the viewer shows the part it has and says so.
      auto plain = Decompress(
          *opened.bytes, options_.fs ? *options_.fs : platform::FileSystem::Posix(),
          options_.cache_dir,
          std::min(options_.max_decompressed_bytes, options_.max_decompressed_total_bytes),
          [&](uint64_t bytes) { return ChargeDecompressed(*entry, bytes); });
      std::lock_guard lock(mu_);
      entry->decompressing = false;
      if (!plain) {
        entry->error = plain.error();
        // The copy is gone with the error: its bytes go back. A copy that found no room (in the
        // budget or on the disk) is not remembered, so the next view tries again; a broken .gz
        // is.
        if (plain.error().code() == ErrorCode::kServiceUnavailable ||
            plain.error().code() == ErrorCode::kStorageFull) {
          ++decompressed_refused_;
          if (entry->in_cache) EraseLocked(id);
        } else {
          decompressed_bytes_ -= entry->charged;
          entry->charged = 0;
        }
      } else {
        entry->decompressed = *plain;
        source = *plain;
      }
    }
    if (entry->error.ok() && IsJson(info)) {
      entry->document = true;
      if (source->size() <= kMaxPrettyJsonBytes) {
        auto pretty = PrettyJson(
            *source, options_.fs ? *options_.fs : platform::FileSystem::Posix(), options_.cache_dir,
            [&](uint64_t bytes) { return ChargeDecompressed(*entry, bytes); });
        if (!pretty) {
          entry->error = pretty.error();
          std::lock_guard lock(mu_);
          if (entry->in_cache) EraseLocked(id);  // not remembered: the next view tries again
        } else if (*pretty) {
          entry->decompressed = *pretty;
          source = *pretty;
        }
      }
    }
    if (entry->error.ok()) {
      auto index = logs::BuildLogIndex(*source, options_.line_bytes);
      if (!index) {
        entry->error = index.error();
      } else {
        entry->index = std::make_shared<const LogIndex>(std::move(*index));
      }
    }
  }
  if (!entry->error.ok()) return entry->error;
  opened.index = entry->index;
  if (entry->decompressed) opened.bytes = entry->decompressed;
  opened.entry = entry;
  return opened;
}

void LogCache::EraseLocked(const std::string& id) {
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    // Readers holding the copy keep its file open until their request ends; the budget counts
    // what the cache keeps alive. A copy still being written stops at its next charge.
    decompressed_bytes_ -= it->second->charged;
    it->second->charged = 0;
    it->second->in_cache = false;
    entries_.erase(it);
  }
  lru_.remove(id);
}

bool LogCache::ChargeDecompressed(Entry& entry, uint64_t bytes) {
  std::lock_guard lock(mu_);
  if (!entry.in_cache) return false;  // dropped meanwhile (the entry limit): nothing holds it
  while (decompressed_bytes_ + bytes > options_.max_decompressed_total_bytes) {
    // The least recently used other finished copy goes (one being written has a reader).
    auto victim = lru_.rend();
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
      auto e = entries_.find(*it);
      if (e != entries_.end() && e->second.get() != &entry && e->second->charged > 0 &&
          !e->second->decompressing) {
        victim = it;
        break;
      }
    }
    if (victim == lru_.rend()) return false;
    ++decompressed_evictions_;
    EraseLocked(std::string(*victim));
  }
  decompressed_bytes_ += bytes;
  entry.charged += bytes;
  return true;
}

LogCache::Stats LogCache::stats() const {
  std::lock_guard lock(mu_);
  return {entries_.size(), decompressed_bytes_, decompressed_evictions_, decompressed_refused_};
}

Result<std::shared_ptr<const LogSummary>> LogCache::Summary(const OpenedLog& log) {
  auto* entry = static_cast<Entry*>(log.entry.get());
  std::lock_guard lock(entry->summary_mu);
  if (!entry->summary && entry->summary_error.ok() && entry->document) {
    // A document, not a build log: the error rules would find "errors" in its values.
    auto made = std::make_shared<LogSummary>();
    made->summary.verdict = "document";
    made->summary.total_bytes = log.bytes->size();
    made->summary.lines = log.index ? log.index->lines : 0;
    made->json = logs::SummaryToJson(made->summary);
    entry->summary = std::move(made);
  }
  if (!entry->summary && entry->summary_error.ok()) {
    auto summary = logs::SummarizeLog(*log.bytes);
    if (!summary) {
      entry->summary_error = summary.error();
    } else {
      auto made = std::make_shared<LogSummary>();
      made->summary = std::move(*summary);
      made->json = logs::SummaryToJson(made->summary);
      entry->summary = std::move(made);
    }
  }
  if (!entry->summary_error.ok()) return entry->summary_error;
  return entry->summary;
}

}  // namespace logbucket::web
