// The sections of a build log as the summary reads it line by line (private to logs/): the
// markers of each syntax (fullLog.txt's `## Begin`/`## End`, GitHub's groups and steps, GitLab's
// section_start/end, Jenkins' pipeline stages, Buildkite's `--- `), nesting, and durations from
// `## End … (Ns)` or from the CI's timestamps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logs/summary.h"

namespace logbucket::logs {

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

 private:
  void Open(uint64_t line, std::string name, std::string title, const char* syntax,
            std::string_view time);
  // Closes the section at open_[depth_index] and anything left open inside it.
  void Close(size_t depth_index, uint64_t line, std::string_view end_time);
  void StartStep(uint64_t line, const std::string& name, std::string_view time);

  std::vector<Section> sections_;  // in order of their begin line
  std::vector<size_t> open_;       // indices into sections_, innermost last
  bool buildkite_open_ = false;
  bool step_column_ = false;
};

}  // namespace logbucket::logs
