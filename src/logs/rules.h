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

// The length of a CI system's prefix on a line, 0 when there is none: GitHub Actions'
// timestamp ("2022-05-30T09:11:02.8576463Z "), its downloaded job logs' "job<TAB>step<TAB>"
// before it, GitLab's timestamp and stream ("2024-01-05T10:00:00.123456Z 00O "), Jenkins
// timestamper's "[2022-05-30T09:11:02.857Z] ", "[09:11:02] " or "09:11:02 ". Rules match what
// follows it; the viewer still shows it.
size_t CiPrefixLength(std::string_view line);

}  // namespace logbucket::logs
