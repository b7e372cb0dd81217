#include "web/log_index.h"

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
#include "logs/line_index.h"
#include "platform/mapped_scan.h"

namespace logbucket::web {
namespace {

constexpr size_t kReadChunk = 4 << 20;
constexpr size_t kRenderBudgetBytes = 8 << 20;  // HTML per answer before lines are cut short
constexpr size_t kCutLineBytes = 1024;

class BodyBytes final : public LogBytes {
 public:
  BodyBytes(std::unique_ptr<store::ObjectBody> body, uint64_t size)
      : body_(std::move(body)), size_(size) {}
  uint64_t size() const override { return size_; }
  Result<size_t> ReadAt(uint64_t offset, char* buffer, size_t length) override {
    return body_->ReadAt(offset, buffer, length);
  }
  int fd() const override { return body_->fd(); }

 private:
  std::unique_ptr<store::ObjectBody> body_;
  uint64_t size_;
};

// A decompressed copy: a scratch file (no name), so nothing is left behind on any exit.
class FileBytes final : public LogBytes {
 public:
  FileBytes(std::unique_ptr<platform::ScratchFile> file, uint64_t size)
      : file_(std::move(file)), size_(size) {}
  uint64_t size() const override { return size_; }
  int fd() const override { return file_->fd(); }
  Result<size_t> ReadAt(uint64_t offset, char* buffer, size_t length) override {
    while (true) {
      ssize_t n = ::pread(file_->fd(), buffer, length, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Error(ErrorCode::kInternalError, std::strerror(errno));
    }
  }

 private:
  std::unique_ptr<platform::ScratchFile> file_;
  uint64_t size_;
};

// Reads [offset, end) in chunks, calling fn(chunk) until it returns false. Files are mapped a
// window at a time (a search for a rare literal is bound by read()'s copy otherwise); blobs are
// immutable (written under a temporary name, renamed, never truncated), so mapping is safe.
template <typename Fn>
Status Stream(LogBytes& bytes, uint64_t offset, Fn&& fn, uint64_t end = UINT64_MAX) {
  bool stopped = false;
  end = std::min(end, bytes.size());
  offset = platform::ScanMapped(bytes.fd(), offset, end, [&](std::string_view chunk) {
    stopped = !fn(chunk);
    return !stopped;
  });
  if (stopped || offset >= end) return Status::Ok();
  std::vector<char> buffer(kReadChunk);  // (only when the bytes could not be mapped)
  while (offset < end) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), end - offset));
    auto got = bytes.ReadAt(offset, buffer.data(), want);
    if (!got) return got.error();
    if (*got == 0) return Error(ErrorCode::kInternalError, "object shorter than its size");
    offset += *got;
    if (!fn(std::string_view(buffer.data(), *got))) break;
  }
  return Status::Ok();
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
  Status st = Stream(compressed, 0, [&](std::string_view chunk) {
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
  return std::shared_ptr<LogBytes>(std::make_shared<FileBytes>(std::move(*file), written));
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
  LB_RETURN_IF_ERROR(Stream(source, 0, [&](std::string_view chunk) {
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
  return std::shared_ptr<LogBytes>(std::make_shared<FileBytes>(std::move(*file), pretty.size()));
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

namespace {

constexpr uint64_t kHeaderBytes = 256 << 10;  // the fullLog.txt header is a dozen lines

}  // namespace

std::shared_ptr<LogBytes> ObjectBytes(std::unique_ptr<store::ObjectBody> body, uint64_t size) {
  return std::make_shared<BodyBytes>(std::move(body), size);
}

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
  opened.bytes = ObjectBytes(std::move(object->body), object->info.size);
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
      auto index = std::make_shared<LogIndex>();
      logs::AnalyzerOptions header_only;
      header_only.max_read_bytes = kHeaderBytes;
      logs::Analyzer header(header_only);
      uint64_t offset = 0;
      bool at_line_start = true;
      // ANSI colours carried from line to line: only lines holding an ESC change them, and
      // those are found with a second memchr, so plain logs pay nearly nothing. A line's first
      // line_bytes count, as in Walk().
      const size_t state_bytes = options_.line_bytes;
      logs::SgrState sgr;
      std::string carry;       // the current line's start, when it began in an earlier chunk
      bool carry_esc = false;  // ... and that start holds an ESC
      Status st = Stream(*source, 0, [&](std::string_view chunk) {
        // Line starts: one memchr pass; every kStride-th start is kept.
        const char* p = chunk.data();
        const char* end = p + chunk.size();
        const char* esc = p;  // the next ESC at or after p (end: none), found lazily
        bool esc_known = false;
        while (p < end) {
          if (at_line_start) {
            if (index->lines % LogIndex::kStride == 0) {
              if (!(sgr == (index->colour_changes.empty() ? logs::SgrState{}
                                                          : index->colour_changes.back().second))) {
                index->colour_changes.emplace_back(index->checkpoints.size(), sgr);
              }
              index->checkpoints.push_back(offset + static_cast<uint64_t>(p - chunk.data()));
            }
            ++index->lines;
            at_line_start = false;
          }
          const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
          const char* line_end = nl == nullptr ? end : static_cast<const char*>(nl);
          if (!esc_known || esc < p) {
            const void* e = std::memchr(p, 0x1b, static_cast<size_t>(end - p));
            esc = e == nullptr ? end : static_cast<const char*>(e);
            esc_known = true;
          }
          bool has_esc = esc < line_end;
          size_t take = static_cast<size_t>(line_end - p);
          if (nl == nullptr) {  // the line goes on in the next chunk
            carry.append(p, std::min(take, state_bytes - std::min(state_bytes, carry.size())));
            carry_esc = carry_esc || has_esc;
            break;
          }
          if (carry_esc || has_esc) {
            if (carry.empty()) {
              logs::AdvanceSgrState(std::string_view(p, std::min(take, state_bytes)), sgr);
            } else {
              carry.append(p, std::min(take, state_bytes - std::min(state_bytes, carry.size())));
              logs::AdvanceSgrState(carry, sgr);
            }
          }
          carry.clear();
          carry_esc = false;
          p = line_end + 1;
          at_line_start = true;
        }
        if (offset < kHeaderBytes) header.Feed(chunk);
        offset += chunk.size();
        return true;
      });
      if (!st.ok()) {
        entry->error = st;
      } else {
        index->bytes = offset;
        index->header = header.Finish(offset).header;
        entry->index = std::move(index);
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
    logs::Analyzer analyzer;
    Status st = Stream(*log.bytes, 0, [&](std::string_view chunk) { return analyzer.Feed(chunk); });
    if (!st.ok()) {
      entry->summary_error = st;
    } else {
      auto made = std::make_shared<LogSummary>();
      made->summary = analyzer.Finish(log.bytes->size());
      made->json = logs::SummaryToJson(made->summary);
      entry->summary = std::move(made);
    }
  }
  if (!entry->summary_error.ok()) return entry->summary_error;
  return entry->summary;
}

namespace {

// Renders the line's first `display_bytes`; its first `max_line_bytes` (all of it that the
// viewer ever shows) decide the colours it leaves open, however much of it is displayed, so
// every path to a line agrees on them (LogCache::Open's index included).
RenderedLine Render(std::string_view raw, logs::SgrState& state, size_t display_bytes,
                    size_t max_line_bytes) {
  RenderedLine line;
  line.bytes = raw.size();
  std::string_view counted = raw.substr(0, std::min(raw.size(), max_line_bytes));
  line.truncated = raw.size() > std::min(display_bytes, max_line_bytes);
  if (counted.size() <= display_bytes) {
    line.html = logs::RenderLineHtml(counted, state);
    return line;
  }
  logs::SgrState shown = state;
  line.html = logs::RenderLineHtml(counted.substr(0, display_bytes), shown);
  logs::AdvanceSgrState(counted, state);
  return line;
}

// Walks lines from byte `offset` (the start of line `first`, where `state` is in force),
// rendering [from, to].
Result<std::vector<RenderedLine>> Walk(LogBytes& bytes, uint64_t offset, uint64_t first,
                                       logs::SgrState state, uint64_t from, uint64_t to,
                                       size_t max_line_bytes, bool* more) {
  std::vector<RenderedLine> out;
  uint64_t line = first;
  uint64_t position = offset;  // absolute offset of the next unconsumed byte
  std::string partial;         // the current line so far (capped at max_line_bytes + 1)
  uint64_t partial_bytes = 0;
  bool done = false;
  // Each line may be long, but one answer must stay bounded: past the budget, lines are cut
  // short (and marked cut) so 5000 lines of 256 KB never become a 1 GB response.
  size_t rendered_bytes = 0;
  auto finish_line = [&] {
    if (line >= from) {
      size_t cap = rendered_bytes > kRenderBudgetBytes ? kCutLineBytes : max_line_bytes;
      RenderedLine r = Render(partial, state, cap, max_line_bytes);
      rendered_bytes += r.html.size();
      r.bytes = partial_bytes;
      out.push_back(std::move(r));
    } else {
      logs::AdvanceSgrState(partial.substr(0, std::min(partial.size(), max_line_bytes)), state);
    }
    partial.clear();
    partial_bytes = 0;
    if (line >= to) done = true;
    ++line;
  };
  Status st = Stream(bytes, offset, [&](std::string_view chunk) {
    while (!chunk.empty() && !done) {
      size_t nl = chunk.find('\n');
      std::string_view piece = chunk.substr(0, nl);
      partial_bytes += piece.size();
      if (partial.size() <= max_line_bytes) {
        partial.append(piece.substr(0, max_line_bytes + 1 - partial.size()));
      }
      if (nl == std::string_view::npos) break;
      finish_line();
      chunk.remove_prefix(nl + 1);
      position += nl + 1;
    }
    if (!done) position += chunk.size();
    return !done;
  });
  if (!st.ok()) return st;
  if (!done && (partial_bytes > 0)) finish_line();  // last line without '\n'
  if (more != nullptr) *more = done && position < bytes.size();
  return out;
}

}  // namespace

Result<std::vector<RenderedLine>> ReadLines(const LogIndex& index, LogBytes& bytes, uint64_t from,
                                            uint64_t to, size_t max_line_bytes) {
  if (index.lines == 0 || from > index.lines) return std::vector<RenderedLine>{};
  from = std::max<uint64_t>(from, 1);
  to = std::min(to, index.lines);
  uint64_t slot = (from - 1) / LogIndex::kStride;
  return Walk(bytes, index.checkpoints[slot], slot * LogIndex::kStride + 1, index.ColoursAt(slot),
              from, to, max_line_bytes, nullptr);
}

logs::SgrState LogIndex::ColoursAt(uint64_t checkpoint) const {
  auto after = std::upper_bound(colour_changes.begin(), colour_changes.end(), checkpoint,
                                [](uint64_t c, const std::pair<uint64_t, logs::SgrState>& change) {
                                  return c < change.first;
                                });
  return after == colour_changes.begin() ? logs::SgrState{} : std::prev(after)->second;
}

Result<std::vector<RenderedLine>> ReadFirstLines(LogBytes& bytes, uint64_t count,
                                                 size_t max_line_bytes, bool* more) {
  *more = false;
  auto lines = Walk(bytes, 0, 1, logs::SgrState{}, 1, count, max_line_bytes, more);
  return lines;
}

namespace {

// Turns line-start offsets (ascending) into line numbers with the sparse index: from the nearest
// checkpoint (or the previous answer, when nearer) only the bytes between are counted.
class LineNumbers {
 public:
  LineNumbers(const LogIndex& index, LogBytes& bytes) : index_(index), bytes_(bytes) {}
  Result<uint64_t> At(uint64_t offset) {
    auto it = std::upper_bound(index_.checkpoints.begin(), index_.checkpoints.end(), offset);
    size_t slot = static_cast<size_t>(it - index_.checkpoints.begin()) - 1;
    uint64_t from = index_.checkpoints[slot];
    uint64_t line = slot * LogIndex::kStride + 1;
    if (last_offset_ >= from && last_offset_ <= offset && last_line_ != 0) {
      from = last_offset_;
      line = last_line_;
    }
    while (from < offset) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), offset - from));
      auto got = bytes_.ReadAt(from, buffer_.data(), want);
      if (!got) return got.error();
      if (*got == 0) return Error(ErrorCode::kInternalError, "object shorter than its index");
      line += logs::CountNewlines(buffer_.data(), *got);
      from += *got;
    }
    last_offset_ = offset;
    last_line_ = line;
    return line;
  }

 private:
  const LogIndex& index_;
  LogBytes& bytes_;
  std::vector<char> buffer_ = std::vector<char>(64 << 10);
  uint64_t last_offset_ = 0;
  uint64_t last_line_ = 0;
};

// Searches [query.first_offset, end) (end: a line start, or the log's end).
Result<logs::SearchResult> SearchRange(LogBytes& bytes, const logs::SearchQuery& query,
                                       uint64_t end) {
  auto searcher = logs::Searcher::Create(query);
  if (!searcher) return searcher.error();
  Status st = Stream(
      bytes, query.first_offset, [&](std::string_view chunk) { return (*searcher)->Feed(chunk); },
      end);
  if (!st.ok()) return st;
  return (*searcher)->Finish();
}

// Where the line holding `offset` ends (past its '\n'), or the log's end.
Result<uint64_t> LineEndAfter(LogBytes& bytes, uint64_t offset) {
  std::vector<char> buffer(64 << 10);
  while (offset < bytes.size()) {
    auto got = bytes.ReadAt(offset, buffer.data(), buffer.size());
    if (!got) return got.error();
    if (*got == 0) break;
    if (const void* nl = std::memchr(buffer.data(), '\n', *got)) {
      return offset + static_cast<uint64_t>(static_cast<const char*>(nl) - buffer.data()) + 1;
    }
    offset += *got;
  }
  return bytes.size();
}

// A search of a big log runs on two cores: the second half on a helper thread. Helpers are
// few, server-wide (one fewer than the cores), so concurrent searches cannot multiply threads;
// without a free one the search runs alone, as before.
std::atomic<unsigned> search_helpers_busy{0};
const unsigned kMaxSearchHelpers = std::max(1u, std::thread::hardware_concurrency()) - 1;

bool TakeSearchHelper() {
  unsigned busy = search_helpers_busy.load();
  while (busy < kMaxSearchHelpers) {
    if (search_helpers_busy.compare_exchange_weak(busy, busy + 1)) return true;
  }
  return false;
}

// The matches of [q.first_offset, the log's end), as one sequential pass would report them
// (the next page may start at a later line when the cap falls in the second half: the lines
// between hold no match).
Result<logs::SearchResult> SearchWhole(const LogIndex& index, LogBytes& bytes,
                                       const logs::SearchQuery& q, uint64_t split_min_bytes) {
  const uint64_t end = bytes.size();
  size_t mid_slot = 0;
  if (end > q.first_offset && end - q.first_offset >= split_min_bytes) {
    uint64_t half = q.first_offset + (end - q.first_offset) / 2;
    mid_slot = static_cast<size_t>(
        std::upper_bound(index.checkpoints.begin(), index.checkpoints.end(), half) -
        index.checkpoints.begin() - 1);
  }
  if (mid_slot == 0 || index.checkpoints[mid_slot] <= q.first_offset || !TakeSearchHelper()) {
    return SearchRange(bytes, q, end);
  }
  logs::SearchQuery second = q;
  second.first_offset = index.checkpoints[mid_slot];
  second.first_line = mid_slot * LogIndex::kStride + 1;
  std::optional<Result<logs::SearchResult>> later;
  std::thread helper;
  try {
    helper = std::thread([&] {
      try {
        later.emplace(SearchRange(bytes, second, end));
      } catch (const std::exception& e) {
        later.emplace(Error(ErrorCode::kInternalError, e.what()));
      } catch (...) {
        later.emplace(Error(ErrorCode::kInternalError, "search helper failed"));
      }
    });
  } catch (const std::system_error&) {  // no thread to be had: search alone
    search_helpers_busy.fetch_sub(1);
    return SearchRange(bytes, q, end);
  }
  auto earlier = SearchRange(bytes, q, second.first_offset);
  helper.join();
  search_helpers_busy.fetch_sub(1);
  if (!earlier) return earlier.error();
  if (!later->has_value()) return later->error();
  logs::SearchResult first = std::move(*earlier);
  logs::SearchResult& rest = **later;
  if (!q.last && first.truncated) return first;  // the cap was reached in the first half
  logs::SearchResult merged;
  merged.offsets = std::move(first.offsets);
  merged.offsets.insert(merged.offsets.end(), rest.offsets.begin(), rest.offsets.end());
  merged.scanned_bytes = first.scanned_bytes + rest.scanned_bytes;
  const size_t cap = q.max_matches;
  if (q.last) {
    merged.earlier = first.earlier || rest.earlier || merged.offsets.size() > cap;
    if (merged.offsets.size() > cap) {
      merged.offsets.erase(merged.offsets.begin(),
                           merged.offsets.end() - static_cast<std::ptrdiff_t>(cap));
    }
  } else if (merged.offsets.size() >= cap && (merged.offsets.size() > cap || rest.truncated)) {
    merged.offsets.resize(cap);
    merged.truncated = true;
    auto next = LineEndAfter(bytes, merged.offsets.back());
    if (!next) return next.error();
    merged.next_offset = *next;
  }
  return merged;
}

}  // namespace

Result<logs::SearchResult> SearchLog(const LogIndex& index, LogBytes& bytes,
                                     const logs::SearchQuery& query, uint64_t split_min_bytes) {
  logs::SearchResult empty;
  if (query.first_line > index.lines) return empty;
  uint64_t from = std::max<uint64_t>(query.first_line, 1);
  uint64_t slot = (from - 1) / LogIndex::kStride;
  logs::SearchQuery q = query;
  q.first_line = slot * LogIndex::kStride + 1;
  q.first_offset = index.checkpoints[slot];
  q.count_lines = false;  // the index numbers the few matching lines instead
  // Lines between the checkpoint and `from` may match too; allow for them in the cap (the
  // last matches are the last, wherever the search started).
  if (!query.last) q.max_matches = query.max_matches + static_cast<size_t>(from - q.first_line);
  auto searched = SearchWhole(index, bytes, q, split_min_bytes);
  if (!searched) return searched.error();
  logs::SearchResult result = std::move(*searched);
  LineNumbers numbers(index, bytes);
  for (uint64_t offset : result.offsets) {
    auto line = numbers.At(offset);
    if (!line) return line.error();
    if (*line >= from) result.lines.push_back(*line);
  }
  if (result.truncated) {
    if (result.next_offset >= index.bytes) {
      result.truncated = false;  // the cap was hit by the very last line
    } else {
      auto next = numbers.At(result.next_offset);
      if (!next) return next.error();
      result.next_line = *next;
    }
  }
  if (query.last) {
    result.truncated = false;
    result.next_line = 0;
    if (!result.lines.empty() && result.lines.front() < from) {
      // (a last-window that reaches back before `from`: those are not asked for)
      result.lines.erase(result.lines.begin(),
                         std::lower_bound(result.lines.begin(), result.lines.end(), from));
    }
  } else if (result.lines.size() > query.max_matches) {
    result.next_line = result.lines[query.max_matches];
    result.lines.resize(query.max_matches);
    result.truncated = true;
  }
  result.offsets.clear();
  return result;
}

}  // namespace logbucket::web
