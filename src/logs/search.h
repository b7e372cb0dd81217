// Server-side search over a whole log: a literal (memchr on its rarest byte) or an RE2 regex
// (linear time, no backtracking blow-ups on attacker-chosen patterns), optionally case-insensitive.
// Returns the numbers of matching lines, at most `max_matches`, and where to continue. Streams:
// feed the log from the line the search starts at, in chunks of any size.
//
// It matches what the reader sees: a line with ANSI escape sequences is searched in its visible
// text (PlainText), so a query pasted from the screen is found although gcc puts colour codes
// between `error:` and the message. `raw_bytes` searches the bytes as stored instead, as grep
// does (for the escape sequences themselves).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace logbucket::logs {

// A line is searched in its first 8 MB (when fed in pieces smaller than that, as the viewer
// does: a longer line straddles them).
inline constexpr size_t kMaxSearchedLineBytes = 8 << 20;

struct SearchQuery {
  std::string pattern;
  bool regex = false;
  bool case_insensitive = false;
  uint64_t first_line = 1;  // the line the fed bytes start at (1-based)
  size_t max_matches = 1000;
  uint64_t first_offset = 0;  // the byte offset the fed bytes start at
  // Counting lines costs a pass over every byte; a caller with its own line index turns the
  // offsets into line numbers instead (then `lines` stays empty and next_line 0).
  bool count_lines = true;
  bool raw_bytes = false;  // match the stored bytes, escape sequences included
  // The last max_matches matching lines instead of the first (searching to the end; `earlier`
  // says whether matches before them were dropped). Only with count_lines = false.
  bool last = false;
};

struct SearchResult {
  std::vector<uint64_t> lines;    // 1-based, ascending, one per matching line
  bool truncated = false;         // stopped at max_matches; continue from next_line
  uint64_t next_line = 0;         // first line not searched yet (0 when the end was reached)
  std::vector<uint64_t> offsets;  // where each matching line starts
  uint64_t next_offset = 0;       // where line next_line starts (when truncated)
  uint64_t scanned_bytes = 0;
  bool earlier = false;  // `last`: more matches precede the ones returned
};

class Searcher {
 public:
  // Rejects an empty pattern, one longer than 1000 bytes, and regex syntax errors (the message
  // is RE2's, for the user).
  static Result<std::unique_ptr<Searcher>> Create(const SearchQuery& query);
  ~Searcher();

  // Returns false once max_matches lines matched (feeding more does nothing).
  bool Feed(std::string_view bytes);
  SearchResult Finish();

 private:
  struct Impl;
  explicit Searcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace logbucket::logs
