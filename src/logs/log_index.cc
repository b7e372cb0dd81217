#include "logs/log_index.h"

#include <atomic>
#include <cstring>
#include <optional>
#include <system_error>
#include <thread>

#include "logs/rules.h"

namespace logbucket::logs {
namespace {

constexpr size_t kRenderBudgetBytes = 8 << 20;  // HTML per answer before lines are cut short
constexpr size_t kCutLineBytes = 1024;
constexpr uint64_t kHeaderBytes = 256 << 10;  // the fullLog.txt header is a dozen lines

}  // namespace

Result<LogIndex> BuildLogIndex(RandomAccessBytes& bytes, size_t line_bytes) {
  auto index = std::make_unique<LogIndex>();
  AnalyzerOptions header_only;
  header_only.max_read_bytes = kHeaderBytes;
  Analyzer header(header_only);
  uint64_t offset = 0;
  bool at_line_start = true;
  // ANSI colours carried from line to line: only lines holding an ESC change them, and
  // those are found with a second memchr, so plain logs pay nearly nothing. A line's first
  // line_bytes count, as in Walk().
  const size_t state_bytes = line_bytes;
  SgrState sgr;
  std::string carry;       // the current line's start, when it began in an earlier chunk
  bool carry_esc = false;  // ... and that start holds an ESC
  Status st = ForEachChunk(bytes, 0, [&](std::string_view chunk) {
    // Line starts: one memchr pass; every kStride-th start is kept.
    const char* p = chunk.data();
    const char* end = p + chunk.size();
    const char* esc = p;  // the next ESC at or after p (end: none), found lazily
    bool esc_known = false;
    while (p < end) {
      if (at_line_start) {
        if (index->lines % LogIndex::kStride == 0) {
          if (!(sgr == (index->colour_changes.empty() ? SgrState{}
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
          AdvanceSgrState(std::string_view(p, std::min(take, state_bytes)), sgr);
        } else {
          carry.append(p, std::min(take, state_bytes - std::min(state_bytes, carry.size())));
          AdvanceSgrState(carry, sgr);
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
  if (!st.ok()) return st;
  index->bytes = offset;
  index->header = header.Finish(offset).header;
  return std::move(*index);
}

Result<Summary> SummarizeLog(RandomAccessBytes& bytes) {
  Analyzer analyzer;
  LB_RETURN_IF_ERROR(
      ForEachChunk(bytes, 0, [&](std::string_view chunk) { return analyzer.Feed(chunk); }));
  return analyzer.Finish(bytes.size());
}

namespace {

// The CI's prefix (timestamp; a downloaded job log's job and step) goes in its own span, which
// the viewer's timestamps toggle hides. Only a prefix of plain text: no escape, no '\r' (a
// terminal would apply them across the whole line).
std::string RenderWithCiPrefix(std::string_view text, SgrState& state) {
  size_t prefix = CiPrefixLength(text);
  for (size_t i = 0; i < prefix; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) prefix = 0;
  }
  if (prefix == 0 || prefix >= text.size()) return RenderLineHtml(text, state);
  std::string html = "<span class=\"ts\">";
  html += RenderLineHtml(text.substr(0, prefix), state);
  html += "</span>";
  html += RenderLineHtml(text.substr(prefix), state);
  return html;
}

// Renders the line's first `display_bytes`; its first `max_line_bytes` (all of it that the
// viewer ever shows) decide the colours it leaves open, however much of it is displayed, so
// every path to a line agrees on them (LogCache::Open's index included).
RenderedLine Render(std::string_view raw, SgrState& state, size_t display_bytes,
                    size_t max_line_bytes) {
  RenderedLine line;
  line.bytes = raw.size();
  std::string_view counted = raw.substr(0, std::min(raw.size(), max_line_bytes));
  line.truncated = raw.size() > std::min(display_bytes, max_line_bytes);
  if (counted.size() <= display_bytes) {
    line.html = RenderWithCiPrefix(counted, state);
    return line;
  }
  SgrState shown = state;
  line.html = RenderWithCiPrefix(counted.substr(0, display_bytes), shown);
  AdvanceSgrState(counted, state);
  return line;
}

// Walks lines from byte `offset` (the start of line `first`, where `state` is in force),
// rendering [from, to].
Result<std::vector<RenderedLine>> Walk(RandomAccessBytes& bytes, uint64_t offset, uint64_t first,
                                       SgrState state, uint64_t from, uint64_t to,
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
      AdvanceSgrState(partial.substr(0, std::min(partial.size(), max_line_bytes)), state);
    }
    partial.clear();
    partial_bytes = 0;
    if (line >= to) done = true;
    ++line;
  };
  Status st = ForEachChunk(bytes, offset, [&](std::string_view chunk) {
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

Result<std::vector<RenderedLine>> ReadLines(const LogIndex& index, RandomAccessBytes& bytes,
                                            uint64_t from, uint64_t to, size_t max_line_bytes) {
  if (index.lines == 0 || from > index.lines) return std::vector<RenderedLine>{};
  from = std::max<uint64_t>(from, 1);
  to = std::min(to, index.lines);
  uint64_t slot = (from - 1) / LogIndex::kStride;
  return Walk(bytes, index.checkpoints[slot], slot * LogIndex::kStride + 1, index.ColoursAt(slot),
              from, to, max_line_bytes, nullptr);
}

SgrState LogIndex::ColoursAt(uint64_t checkpoint) const {
  auto after = std::upper_bound(
      colour_changes.begin(), colour_changes.end(), checkpoint,
      [](uint64_t c, const std::pair<uint64_t, SgrState>& change) { return c < change.first; });
  return after == colour_changes.begin() ? SgrState{} : std::prev(after)->second;
}

Result<std::vector<RenderedLine>> ReadFirstLines(RandomAccessBytes& bytes, uint64_t count,
                                                 size_t max_line_bytes, bool* more) {
  *more = false;
  auto lines = Walk(bytes, 0, 1, SgrState{}, 1, count, max_line_bytes, more);
  return lines;
}

namespace {

// Turns line-start offsets (ascending) into line numbers with the sparse index: from the nearest
// checkpoint (or the previous answer, when nearer) only the bytes between are counted.
class LineNumbers {
 public:
  LineNumbers(const LogIndex& index, RandomAccessBytes& bytes) : index_(index), bytes_(bytes) {}
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
      line += CountNewlines(buffer_.data(), *got);
      from += *got;
    }
    last_offset_ = offset;
    last_line_ = line;
    return line;
  }

 private:
  const LogIndex& index_;
  RandomAccessBytes& bytes_;
  std::vector<char> buffer_ = std::vector<char>(64 << 10);
  uint64_t last_offset_ = 0;
  uint64_t last_line_ = 0;
};

// Searches [query.first_offset, end) (end: a line start, or the log's end).
Result<SearchResult> SearchRange(RandomAccessBytes& bytes, const SearchQuery& query, uint64_t end) {
  auto searcher = Searcher::Create(query);
  if (!searcher) return searcher.error();
  Status st = ForEachChunk(
      bytes, query.first_offset, [&](std::string_view chunk) { return (*searcher)->Feed(chunk); },
      end);
  if (!st.ok()) return st;
  return (*searcher)->Finish();
}

// Where the line holding `offset` ends (past its '\n'), or the log's end.
Result<uint64_t> LineEndAfter(RandomAccessBytes& bytes, uint64_t offset) {
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
Result<SearchResult> SearchWhole(const LogIndex& index, RandomAccessBytes& bytes,
                                 const SearchQuery& q, uint64_t split_min_bytes) {
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
  SearchQuery second = q;
  second.first_offset = index.checkpoints[mid_slot];
  second.first_line = mid_slot * LogIndex::kStride + 1;
  std::optional<Result<SearchResult>> later;
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
  SearchResult first = std::move(*earlier);
  SearchResult& rest = **later;
  if (!q.last && first.truncated) return first;  // the cap was reached in the first half
  SearchResult merged;
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

Result<SearchResult> SearchLog(const LogIndex& index, RandomAccessBytes& bytes,
                               const SearchQuery& query, uint64_t split_min_bytes) {
  SearchResult empty;
  if (query.first_line > index.lines) return empty;
  uint64_t from = std::max<uint64_t>(query.first_line, 1);
  uint64_t slot = (from - 1) / LogIndex::kStride;
  SearchQuery q = query;
  q.first_line = slot * LogIndex::kStride + 1;
  q.first_offset = index.checkpoints[slot];
  q.count_lines = false;  // the index numbers the few matching lines instead
  // Lines between the checkpoint and `from` may match too; allow for them in the cap (the
  // last matches are the last, wherever the search started).
  if (!query.last) q.max_matches = query.max_matches + static_cast<size_t>(from - q.first_line);
  auto searched = SearchWhole(index, bytes, q, split_min_bytes);
  if (!searched) return searched.error();
  SearchResult result = std::move(*searched);
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

}  // namespace logbucket::logs
