// The first, byte-level pass of the error summary: which lines may match an error or section
// rule at all. Most lines of a build log match none, so this scan decides the summary's speed;
// the rules themselves run only on the lines it returns.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

namespace logbucket::logs {

// The words every rule's match contains (ANSI codes may sit between "file:1:2: " and "error:",
// never inside a word). `^` means the start of a line.
const std::vector<std::string_view>& CandidatePatterns();

class CandidateScanner {
 public:
  virtual ~CandidateScanner() = default;
  // `from` is the start of a line in `text`. Returns the offset of a byte inside the first line
  // at or after `from` that contains a candidate pattern, or npos. Lines never span `text`'s end.
  virtual size_t Next(std::string_view text, size_t from) = 0;
  virtual const char* engine() const = 0;
};

// The fastest engine built in: Hyperscan (several GB/s) when the build found libhs and the CPU
// supports it, RE2's DFA otherwise. Both answer the same; the unit tests compare them.
std::unique_ptr<CandidateScanner> NewCandidateScanner();
std::unique_ptr<CandidateScanner> NewRe2CandidateScanner();

}  // namespace logbucket::logs
