// The error summary's vocabulary, as data: which lines are errors, of what kind, whether each is
// a cause (the error itself) or a consequence (what a tool prints after an error: "build
// stopped", "Failed to execute goal", "exit code 1"), and how many following lines belong to it.
// One table per ecosystem, tried in order (the first rule that matches decides); each rule has a
// unit test from a realistic snippet in summary_test.cc.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace logbucket::logs {

// Ranking: decisive kinds first, then errors, then consequences (each by first occurrence).
enum Tier { kDecisive = 0, kErrorTier = 1, kConsequence = 2 };

struct RuleSpec {
  std::string_view ecosystem;  // "build" (compilers, linkers, make/ninja), "ci", "maven", …
  const char* kind;            // the finding's kind, as the viewer and the JSON show it
  Tier tier;
  const char* pattern;  // RE2, matched against the visible text without a CI timestamp
  int lines_after = 3;  // context shown after the line
  // The line only announces the error; the next non-blank line says it (Gradle's "* What went
  // wrong:" then "Execution failed for task ':core:test'."): the finding's text joins them.
  bool joins_next = false;
};

// Error rules in the order they are tried: specific ecosystems before the generic ones.
const std::vector<RuleSpec>& ErrorRuleSpecs();
const std::vector<RuleSpec>& WarningRuleSpecs();

// Lines that look like errors and say nothing (Maven's "[ERROR] -> [Help 1]", "[ERROR] Re-run
// Maven using the -X switch…", aliBuild's probes for optional headers): never findings.
const char* NoisePattern();

// A CI system's prefix on a line: GitHub Actions' timestamp ("2022-05-30T09:11:02.8576463Z "),
// its downloaded job logs' "job<TAB>step<TAB>" before it, GitLab's timestamp and stream
// ("2024-01-05T10:00:00.123456Z 00O "), Jenkins timestamper's "[2022-05-30T09:11:02.857Z] ",
// "[09:11:02] " or "09:11:02 ". Rules match what follows it; the viewer shows it (or hides it:
// the timestamps toggle), and its time dates the line's findings and sections.
struct CiPrefix {
  size_t length = 0;      // 0: the line has none
  std::string_view time;  // as written, without brackets: "2022-05-30T09:11:02.857Z", "09:11:02"
  std::string_view step;  // a downloaded job log's step column ("" otherwise)
};
CiPrefix ParseCiPrefix(std::string_view line);
inline size_t CiPrefixLength(std::string_view line) { return ParseCiPrefix(line).length; }

// The seconds between two CI times as ParseCiPrefix returns them, or -1 when either is empty
// or they are of different forms. Full timestamps honour their offsets; bare clock times
// (Jenkins' "09:11:02") are taken to wrap at most once, at midnight.
double CiSecondsBetween(std::string_view from, std::string_view to);

}  // namespace logbucket::logs
