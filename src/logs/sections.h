// The sections of a build log as the summary reads it line by line (private to logs/): the
// markers of each syntax (fullLog.txt's `## Begin`/`## End`, GitHub's groups and steps, GitLab's
// section_start/end, Jenkins' pipeline stages, Buildkite's `--- `), nesting, and durations from
// `## End … (Ns)` or from the CI's timestamps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "logs/summary.h"

namespace logbucket::logs {

// A log is written by whoever wrote the build, so its markers are bounded like any other input:
// at most kMaxSections sections are kept (in the order they open), at most kMaxSectionDepth are
// open at once (each error is counted in every open section, each closing marker looks through
// them: unbounded nesting made both quadratic, 81 s of CPU for a 7 MB log), and names and
// titles are cut to kMaxSectionTitleBytes. Markers past the limits are counted, not kept.
inline constexpr size_t kMaxSections = 10000;
inline constexpr size_t kMaxSectionDepth = 32;
inline constexpr size_t kMaxSectionTitleBytes = 400;

class SectionTracker {
 public:
  // `raw` is the line without its CI prefix, `plain` its visible text, `time` its CI time ("" if
  // none). Returns true when the line was a marker (it opened or closed sections).
  bool HandleMarker(uint64_t line, std::string_view raw, std::string_view plain,
                    std::string_view time);
  // A downloaded job log's step column changed at `line`: from now on its steps are the
  // top-level sections (and `##[group]Run …` only a group inside one).
  void StartColumnStep(uint64_t line, const std::string& name, std::string_view time);
  // The end of the log: whatever is open ends at `line`, at `end_time`.
  void CloseAll(uint64_t line, std::string_view end_time);

  // Counts an error or warning in every open section.
  void Count(bool error);
  // The innermost open section's name ("" outside sections) and 1-based index (0 outside).
  std::string CurrentName() const;
  uint32_t CurrentIndex() const;

  std::vector<Section>& sections() { return sections_; }
  // Section markers not kept (past kMaxSections or kMaxSectionDepth).
  uint64_t omitted() const { return omitted_; }

 private:
  struct OpenSection {
    size_t index;  // into sections_
    // What a closing marker names it by (`## End <file>`, GitLab's section name), hashed: the
    // title kept may be cut, the name in the marker is not. 0 for the other syntaxes.
    uint64_t key;
  };
  // Opens a section unless a limit is reached (then it is counted in omitted_, and, for a
  // syntax with closing markers, remembered as waiting for one in unkept_open_).
  void Open(uint64_t line, std::string_view name, std::string_view title, const char* syntax,
            std::string_view time, std::optional<std::string_view> key = std::nullopt);
  // Closes the section at open_[depth_index] and anything left open inside it.
  void Close(size_t depth_index, uint64_t line, std::string_view end_time);
  void StartStep(uint64_t line, const std::string& name, std::string_view time);
  // A closing marker of `syntax`. Sections not kept were opened after every kept one still
  // open (none is kept while one waits at the depth limit, none at all past the count limit),
  // so they are the innermost: a marker that closes by position (no `key`) closes one of them
  // while any of its syntax waits, else the innermost kept one of its syntax; a marker that
  // names its section closes the kept one with that `key`, else one not kept.
  void CloseMarker(const char* syntax, uint64_t line, std::string_view time,
                   std::optional<std::string_view> key = std::nullopt, int64_t seconds = -1);

  std::vector<Section> sections_;  // in order of their begin line
  std::vector<OpenSection> open_;  // innermost last
  bool buildkite_open_ = false;
  bool step_column_ = false;
  uint64_t omitted_ = 0;
  // Per explicitly closed syntax ("begin-end", "github", "jenkins", "gitlab"), the sections not
  // kept that still wait for their closing marker. Steps and Buildkite sections end where the
  // next begins and are not counted.
  std::vector<std::pair<std::string_view, uint64_t>> unkept_open_;
};

}  // namespace logbucket::logs
