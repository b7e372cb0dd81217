// A failed build's log against a green one's: which lines are new. Lines compare by their masked
// visible text (logs::MaskedHash of the text without colours and without the CI's timestamp:
// numbers, hashes, directories masked), so a line that differs only by a PR's path, a time or
// a counter is "the same". Memory: 8 bytes per distinct line of the green log (its sorted
// hashes), never the lines themselves; both logs are read once, as a stream.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/status.h"
#include "platform/random_access.h"

namespace logbucket::logs {

struct DiffOptions {
  uint64_t context = 3;                   // lines shown around each new line
  uint64_t max_base_lines = 16ULL << 20;  // green lines remembered (128 MiB of hashes at most)
  size_t max_line_bytes = 4096;           // of each line, compared
};

struct LineDiff {
  uint64_t lines = 0;           // in the failed log
  uint64_t base_lines = 0;      // in the green log
  uint64_t new_lines = 0;       // lines of the failed log whose text the green one does not have
  bool base_truncated = false;  // the green log had more than max_base_lines
  // What to show: the new lines with their context, as 1-based inclusive ranges, in order.
  std::vector<std::pair<uint64_t, uint64_t>> shown;
};

Result<LineDiff> DiffAgainst(platform::RandomAccessBytes& log, platform::RandomAccessBytes& base,
                             const DiffOptions& options = {});

}  // namespace logbucket::logs
