#include "logs/sections.h"

#include <re2/re2.h>

#include <cmath>
#include <cstdlib>

#include "logs/rules.h"
#include "logs/text.h"

namespace logbucket::logs {
namespace {

const RE2& EndSecondsPattern() {
  static const RE2* re = new RE2(R"(\((\d+)s\)\s*$)");
  return *re;
}

// "sw/BUILD/O2-latest/log" → "O2": a fullLog.txt section is named after its package.
const RE2& PackageLogPattern() {
  static const RE2* re = new RE2(R"((?:^|/)([^/\s]+)-latest(?:-[^/\s]*)?/log$)");
  return *re;
}

}  // namespace

std::string SectionTracker::CurrentName() const {
  return open_.empty() ? std::string() : sections_[open_.back()].name;
}

uint32_t SectionTracker::CurrentIndex() const {
  return open_.empty() ? 0 : static_cast<uint32_t>(open_.back() + 1);
}

void SectionTracker::Count(bool error) {
  for (size_t idx : open_) {
    if (error) {
      ++sections_[idx].errors;
    } else {
      ++sections_[idx].warnings;
    }
  }
}

void SectionTracker::StartColumnStep(uint64_t line, const std::string& name,
                                     std::string_view time) {
  step_column_ = true;
  StartStep(line, name, time);
}

void SectionTracker::CloseAll(uint64_t line, std::string_view end_time) {
  Close(0, line, end_time);
}

void SectionTracker::Open(uint64_t line, std::string name, std::string title, const char* syntax,
                          std::string_view time) {
  Section s;
  s.name = std::move(name);
  s.title = std::move(title);
  s.syntax = syntax;
  s.begin_line = line;
  s.end_line = line;
  s.time = std::string(time);
  s.depth = static_cast<uint32_t>(open_.size());
  sections_.push_back(std::move(s));
  open_.push_back(sections_.size() - 1);
}

void SectionTracker::Close(size_t depth_index, uint64_t line, std::string_view end_time) {
  while (open_.size() > depth_index) {
    Section& s = sections_[open_.back()];
    s.end_line = line;
    if (s.seconds < 0 && !s.time.empty() && !end_time.empty()) {
      double seconds = CiSecondsBetween(s.time, end_time);
      if (seconds >= 0) s.seconds = std::llround(seconds);
    }
    if (s.syntax == std::string("buildkite")) buildkite_open_ = false;
    open_.pop_back();
  }
}

// A CI step begins at `line`: it ends the previous one (at the time this one starts).
void SectionTracker::StartStep(uint64_t line, const std::string& name, std::string_view time) {
  for (size_t d = 0; d < open_.size(); ++d) {
    if (sections_[open_[d]].syntax == std::string("step")) {
      Close(d, line - 1, time);
      break;
    }
  }
  Open(line, name, name, "step", time);
}

bool SectionTracker::HandleMarker(uint64_t line, std::string_view raw, std::string_view plain,
                                  std::string_view time) {
  // A raw GitHub Actions log: each step starts with its command's group (the output follows
  // the group) or with the job's cleanup. A downloaded log's step column says it instead.
  if (!step_column_ && (plain.starts_with("##[group]Run ") || plain == "Post job cleanup.")) {
    StartStep(
        line,
        std::string(plain.starts_with("##[group]") ? Trim(plain.substr(9)) : "Post job cleanup"),
        time);
    return true;
  }
  if (plain.starts_with("## Begin ")) {
    std::string_view rest = plain.substr(9);
    std::string file(FirstToken(rest));
    std::string name = file;
    std::string pkg;
    if (RE2::PartialMatch(file, PackageLogPattern(), &pkg)) name = pkg;
    Open(line, name, std::string(Trim(rest)), "begin-end", time);
    return true;
  }
  if (plain.starts_with("## End ")) {
    std::string file(FirstToken(plain.substr(7)));
    for (size_t d = open_.size(); d-- > 0;) {
      Section& s = sections_[open_[d]];
      if (s.syntax == std::string("begin-end") && FirstToken(s.title) == file) {
        std::string seconds;
        if (RE2::PartialMatch(plain, EndSecondsPattern(), &seconds)) {
          s.seconds = std::strtoll(seconds.c_str(), nullptr, 10);
        }
        Close(d, line, time);
        break;
      }
    }
    return true;
  }
  if (plain.starts_with("::group::") || plain.starts_with("##[group]")) {
    std::string title(Trim(plain.substr(9)));
    Open(line, title, title, "github", time);
    return true;
  }
  // Jenkins pipelines: "[Pipeline] { (Build)" opens the stage named Build, "[Pipeline] //
  // stage" closes it (parallel branches: "[Pipeline] { (Branch: x)" … "[Pipeline] // parallel").
  if (plain.starts_with("[Pipeline] { (") && plain.ends_with(")")) {
    std::string name(plain.substr(14, plain.size() - 15));
    Open(line, name, name, "jenkins", time);
    return true;
  }
  if (plain.starts_with("[Pipeline] // stage") || plain.starts_with("[Pipeline] // parallel")) {
    for (size_t d = open_.size(); d-- > 0;) {
      if (sections_[open_[d]].syntax == std::string("jenkins")) {
        Close(d, line, time);
        break;
      }
    }
    return true;
  }
  if (plain.starts_with("::endgroup::") || plain.starts_with("##[endgroup]")) {
    for (size_t d = open_.size(); d-- > 0;) {
      if (sections_[open_[d]].syntax == std::string("github")) {
        Close(d, line, time);
        break;
      }
    }
    return true;
  }
  // GitLab: ESC[0Ksection_start:1560896352:name[collapsed=true]\rESC[0KHeader. The \r
  // overwrite hides the marker from the plain text, so it is parsed from the raw bytes.
  size_t at = raw.find("section_start:");
  if (at != std::string_view::npos && at <= 8) {
    std::string_view rest = raw.substr(at + 14);
    size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = rest.substr(colon + 1);
      size_t stop = name.find_first_of("[\r\x1b");
      name = name.substr(0, stop);
      std::string title(Trim(plain));
      Open(line, std::string(name), title.empty() ? std::string(name) : title, "gitlab", time);
      return true;
    }
  }
  at = raw.find("section_end:");
  if (at != std::string_view::npos && at <= 8) {
    std::string_view rest = raw.substr(at + 12);
    size_t colon = rest.find(':');
    std::string_view name =
        colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    name = name.substr(0, name.find_first_of("[\r\x1b"));
    for (size_t d = open_.size(); d-- > 0;) {
      if (sections_[open_[d]].syntax == std::string("gitlab") && sections_[open_[d]].name == name) {
        Close(d, line, time);
        break;
      }
    }
    return true;
  }
  // Buildkite: `--- title` (collapsed), `+++ title` (expanded), `~~~ title`. Not diff headers
  // (`--- a/file`, `+++ /dev/null`), and not inside another syntax's section (a package's
  // build output may well print a diff).
  if ((plain.starts_with("--- ") || plain.starts_with("+++ ") || plain.starts_with("~~~ ")) &&
      (open_.empty() || buildkite_open_)) {
    std::string_view title = Trim(plain.substr(4));
    bool diff_header = title.starts_with("a/") || title.starts_with("b/") ||
                       title.starts_with("/") || title.find('\t') != std::string_view::npos;
    // go test's results ("--- FAIL: TestX (0.00s)") are not sections either.
    bool go_test =
        title.starts_with("FAIL:") || title.starts_with("PASS:") || title.starts_with("SKIP:");
    if (!title.empty() && !diff_header && !go_test) {
      if (buildkite_open_) {
        for (size_t d = 0; d < open_.size(); ++d) {
          if (sections_[open_[d]].syntax == std::string("buildkite")) {
            Close(d, line - 1, time);
            break;
          }
        }
      }
      Open(line, std::string(title), std::string(title), "buildkite", time);
      buildkite_open_ = true;
      return true;
    }
  }
  return false;
}

}  // namespace logbucket::logs
