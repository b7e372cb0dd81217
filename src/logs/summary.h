// The error summary: one pass over a build log that finds its sections, its header facts, and
// the errors and warnings that matter, ranked so that the first error is the decisive one.
// One rule set (DESIGN §4) serves the viewer's error panel, `logbucket errors`, and `push`.
//
// Streaming: Feed() takes the log in chunks of any size (a line may straddle chunks), Finish()
// returns the summary. Memory is bounded by the first 64 KB of a line (all of a line that is
// read) plus the kept findings and sections, never by the log. Line numbers are 1-based; lines
// split on '\n' only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace logbucket::logs {

// One de-duplicated error or warning. `line` is where the viewer should jump (for a Python
// traceback the exception line, for a CMake error its first line); `context` is the block
// worth showing around it.
struct Finding {
  uint64_t line = 0;
  std::string kind;  // compiler-killed, cmake, test-failure, ... (see kErrorKinds), or warning
  std::string text;  // the line's visible text (ANSI stripped), trimmed and capped
  uint64_t context_from = 0;
  uint64_t context_to = 0;
  uint64_t count = 1;          // occurrences of the same masked text
  uint64_t last_line = 0;      // latest occurrence
  std::string section;         // innermost section's short name ("" outside sections)
  int tier = 0;                // 0 decisive kinds, 1 errors, 2 consequences (build stopped)
  uint32_t section_index = 0;  // order of the section it was first seen in (1-based; 0 = none)
  std::string time;            // its line's CI timestamp as written ("" when it has none)
};

// A collapsible part of the log: `## Begin`/`## End` (fullLog.txt), GitHub `::group::`,
// GitLab `section_start`/`section_end`, Buildkite `--- `/`+++ `/`~~~ `, Jenkins pipeline stages,
// and CI steps: a downloaded GitHub Actions job log's step column, or in a raw one each
// `##[group]Run …` up to the next (the step's output follows its group).
struct Section {
  std::string name;    // short name: the package for fullLog.txt, else the title
  std::string title;   // as written in the log
  std::string syntax;  // "begin-end", "github", "gitlab", "buildkite", "jenkins", "step"
  uint64_t begin_line = 0;
  uint64_t end_line = 0;  // the closing marker, or the section's last line if never closed
  // Duration: `## End ... (Ns)`, else from the CI timestamps of its first line and of the line
  // that ends it (the next step's first line for a step); -1 if unknown.
  int64_t seconds = -1;
  std::string time;  // its first line's CI timestamp as written ("" when it has none)
  uint32_t depth = 0;
  uint64_t errors = 0;  // error occurrences inside (not de-duplicated)
  uint64_t warnings = 0;
  bool failed = false;  // holds the decisive error: the viewer opens it
};

// Facts from a fullLog.txt header (empty when absent).
struct HeaderFacts {
  std::string host;
  std::string finished;  // as written: 2026-11-18-13:24:03
  std::string commit;
  std::string pr_url;
  std::string repo;  // org/name from the PR URL
  std::string pr;    // number from the PR URL
  std::string nomad_url;
};

struct Summary {
  std::string verdict;  // "failed", "no-errors-found", "broken-builder" (the viewer: "document")
  uint64_t total_bytes = 0;
  uint64_t read_bytes = 0;
  uint64_t lines = 0;
  HeaderFacts header;
  std::vector<Section> sections;  // in order of their begin line
  // Section markers past the limits (sections.h: 10,000 sections, 32 open at once), not listed.
  uint64_t sections_omitted = 0;
  std::vector<Finding> errors;    // rank order, decisive first
  std::vector<Finding> warnings;  // in order of first appearance
  uint64_t error_occurrences = 0;
  uint64_t warning_occurrences = 0;
  // When nothing was found: the last lines of the last section (or of the log) to show instead.
  uint64_t tail_from = 0;
  uint64_t tail_to = 0;
  // The CI timestamps of the first and the last line that have one ("" when none do).
  std::string first_time;
  std::string last_time;
};

struct AnalyzerOptions {
  size_t max_error_groups = 1000;
  size_t max_warning_groups = 1000;
  size_t max_text_bytes = 400;
  // Only this much of a line is read (errors are at the start; a 10 MB line of base64 must not
  // cost 10 MB of regex work per rule, nor a 1 GB line 1 GB of memory). At least 512 (a CI
  // prefix's longest).
  size_t max_classified_line_bytes = 64 * 1024;
  // Stop after this many bytes (0 = read everything); the summary says how far it read.
  uint64_t max_read_bytes = 0;
};

class Analyzer {
 public:
  explicit Analyzer(AnalyzerOptions options = {});
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // Feeds the next bytes. Returns false once max_read_bytes is reached (the rest is ignored).
  bool Feed(std::string_view bytes);
  // `total_bytes` is the object's size when known (it may exceed what was fed).
  Summary Finish(uint64_t total_bytes = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience for tests and small inputs.
Summary Summarize(std::string_view log, AnalyzerOptions options = {});

// The JSON that `logbucket errors --json` prints and the viewer's `?errors` returns.
std::string SummaryToJson(const Summary& summary);

// Lower-cases nothing, masks what varies between repeats of one message: digits, long hex
// runs, directories of paths, and a leading timestamp. Exposed for tests.
std::string MaskForDedup(std::string_view text);
// FNV-1a of MaskForDedup(text), without building it: what the diff against a green build
// compares lines by.
uint64_t MaskedHash(std::string_view text);

// The same failure on different builds compares equal: 16 hex digits of a hash of the kind and
// the masked text (MaskForDedup, and temporary files' names: "/tmp/ccA1b2C3.s" → "<tmp>").
// What the build index groups recurring failures by; `errors --json` prints it.
std::string ErrorSignature(std::string_view kind, std::string_view text);

}  // namespace logbucket::logs
