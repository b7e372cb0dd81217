// Test helper for the summary's tests (private to logs/).
#pragma once

#include <string_view>

#include "logs/summary.h"

namespace logbucket::logs {

// Feeds the log in pieces of `step` bytes: results must not depend on how reads fall.
inline Summary SummarizeInSteps(std::string_view log, size_t step) {
  Analyzer analyzer;
  for (size_t at = 0; at < log.size(); at += step) analyzer.Feed(log.substr(at, step));
  return analyzer.Finish(log.size());
}

}  // namespace logbucket::logs
