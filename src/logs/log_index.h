// The log engine's index and readers, independent of HTTP and of the store: a sparse line index
// (every 64th line's offset, so a 5 M-line log costs 600 KB, not 40 MB) with the ANSI colours in
// force at each checkpoint, built in one memchr pass; reading lines [from, to] as escaped HTML
// from the nearest checkpoint, within a render budget; search over the index (line numbers from
// the checkpoints, big logs split across two cores); and the error summary of a whole log.
// Lines split on '\n' only: a CRLF ends a line once, a bare '\r' never splits (it is a
// progress-bar redraw within the line). Line numbers are 1-based.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "logs/ansi.h"
#include "logs/newlines.h"
#include "logs/search.h"
#include "logs/summary.h"
#include "platform/mapped_scan.h"
#include "platform/random_access.h"

namespace logbucket::logs {

using platform::RandomAccessBytes;

struct LogIndex {
  static constexpr uint64_t kStride = 64;
  std::vector<uint64_t> checkpoints;  // byte offset of lines 1, 1+kStride, 1+2·kStride, …
  // The colours in force at the checkpoints (what rendering from line 1 carries there), as the
  // checkpoints where they change: (checkpoint number, state from there on), ascending; before
  // the first entry, the defaults. A log coloured throughout costs one entry, not one per
  // checkpoint (ColoursAt() reads it).
  std::vector<std::pair<uint64_t, SgrState>> colour_changes;
  SgrState ColoursAt(uint64_t checkpoint) const;
  uint64_t lines = 0;
  uint64_t bytes = 0;
  HeaderFacts header;  // from the first lines (the summary's header, without the summary)
};

// Indexes the whole log in one pass. A line's first `line_bytes` (all of it the viewer ever
// renders) decide the colours it leaves open.
Result<LogIndex> BuildLogIndex(RandomAccessBytes& bytes, size_t line_bytes);

// The error summary of the whole log (one more pass).
Result<Summary> SummarizeLog(RandomAccessBytes& bytes);

// One rendered line: HTML (ANSI colours as spans, everything escaped) and whether it was cut.
struct RenderedLine {
  std::string html;
  uint64_t bytes = 0;  // the raw line's length
  bool truncated = false;
};

// Lines [from, to] (1-based, inclusive), rendered; `max_line_bytes` caps each line, and past
// 8 MB of HTML in one answer lines are cut to 1 KB (marked cut).
Result<std::vector<RenderedLine>> ReadLines(const LogIndex& index, RandomAccessBytes& bytes,
                                            uint64_t from, uint64_t to, size_t max_line_bytes);

// The first lines of a log without an index (the page served before indexing finishes).
Result<std::vector<RenderedLine>> ReadFirstLines(RandomAccessBytes& bytes, uint64_t count,
                                                 size_t max_line_bytes, bool* more);

// Searches from line `query.first_line` to the end (or the match cap). From
// `split_min_bytes` on, the second half runs on a helper thread when one is free (the answer is
// the same; `bytes` is read from both).
inline constexpr uint64_t kSplitSearchBytes = 64 << 20;
Result<SearchResult> SearchLog(const LogIndex& index, RandomAccessBytes& bytes,
                               const SearchQuery& query,
                               uint64_t split_min_bytes = kSplitSearchBytes);

inline constexpr size_t kReadChunk = 4 << 20;

// Reads [offset, end) in chunks, calling fn(chunk) until it returns false. Files are mapped a
// window at a time (a search for a rare literal is bound by read()'s copy otherwise); blobs are
// immutable (written under a temporary name, renamed, never truncated), so mapping is safe.
template <typename Fn>
Status ForEachChunk(RandomAccessBytes& bytes, uint64_t offset, Fn&& fn, uint64_t end = UINT64_MAX) {
  bool stopped = false;
  end = std::min(end, bytes.size());
  offset = platform::ScanMapped(bytes.fd(), offset, end, [&](std::string_view chunk) {
    stopped = !fn(chunk);
    return !stopped;
  });
  if (stopped || offset >= end) return Status::Ok();
  // Only when the bytes could not be mapped (in memory, or a remote store's ranged reads): as
  // large as the range needs, at most kReadChunk, and not zeroed (a small log read a page at a
  // time must not cost a 4 MB memset each time).
  const size_t capacity = static_cast<size_t>(std::min<uint64_t>(kReadChunk, end - offset));
  auto buffer = std::make_unique_for_overwrite<char[]>(capacity);
  while (offset < end) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(capacity, end - offset));
    auto got = bytes.ReadAt(offset, buffer.get(), want);
    if (!got) return got.error();
    if (*got == 0) return Error(ErrorCode::kInternalError, "object shorter than its size");
    offset += *got;
    if (!fn(std::string_view(buffer.get(), *got))) break;
  }
  return Status::Ok();
}

}  // namespace logbucket::logs
