#include "logs/sections.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>

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
  return open_.empty() ? std::string() : sections_[open_.back().index].name;
}

uint32_t SectionTracker::CurrentIndex() const {
  return open_.empty() ? 0 : static_cast<uint32_t>(open_.back().index + 1);
}

void SectionTracker::Count(bool error) {
  for (const OpenSection& o : open_) {
    if (error) {
      ++sections_[o.index].errors;
    } else {
      ++sections_[o.index].warnings;
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

namespace {

// 0 stands for "closed by position, not by name".
uint64_t KeyHash(std::optional<std::string_view> key) {
  return key ? std::hash<std::string_view>{}(*key) | 1 : 0;
}

}  // namespace

void SectionTracker::Open(uint64_t line, std::string_view name, std::string_view title,
                          const char* syntax, std::string_view time,
                          std::optional<std::string_view> key) {
  if (sections_.size() >= kMaxSections || open_.size() >= kMaxSectionDepth) {
    ++omitted_;
    std::string_view kind = syntax;
    if (kind != "step" && kind != "buildkite") {
      auto it = std::find_if(unkept_open_.begin(), unkept_open_.end(),
                             [&](const auto& entry) { return entry.first == kind; });
      if (it == unkept_open_.end()) {
        unkept_open_.emplace_back(kind, 1);
      } else {
        ++it->second;
      }
    }
    return;
  }
  Section s;
  s.name = Cap(name, kMaxSectionTitleBytes);
  s.title = Cap(title, kMaxSectionTitleBytes);
  s.syntax = syntax;
  s.begin_line = line;
  s.end_line = line;
  s.time = std::string(time);
  s.depth = static_cast<uint32_t>(open_.size());
  sections_.push_back(std::move(s));
  open_.push_back({sections_.size() - 1, KeyHash(key)});
}

void SectionTracker::Close(size_t depth_index, uint64_t line, std::string_view end_time) {
  // Whatever was not kept opened inside the kept sections still open: it closes with them.
  unkept_open_.clear();
  while (open_.size() > depth_index) {
    Section& s = sections_[open_.back().index];
    s.end_line = line;
    if (s.seconds < 0 && !s.time.empty() && !end_time.empty()) {
      double seconds = CiSecondsBetween(s.time, end_time);
      if (seconds >= 0) s.seconds = std::llround(seconds);
    }
    if (s.syntax == std::string("buildkite")) buildkite_open_ = false;
    open_.pop_back();
  }
}

void SectionTracker::CloseMarker(const char* syntax, uint64_t line, std::string_view time,
                                 std::optional<std::string_view> key, int64_t seconds) {
  auto unkept = std::find_if(unkept_open_.begin(), unkept_open_.end(),
                             [&](const auto& entry) { return entry.first == syntax; });
  // By position: the innermost of its syntax, and sections not kept are the innermost.
  if (!key && unkept != unkept_open_.end() && unkept->second > 0) {
    --unkept->second;
    return;
  }
  const uint64_t hash = KeyHash(key);
  for (size_t d = open_.size(); d-- > 0;) {
    Section& s = sections_[open_[d].index];
    if (s.syntax == syntax && (hash == 0 || open_[d].key == hash)) {
      if (seconds >= 0) s.seconds = seconds;
      Close(d, line, time);
      return;
    }
  }
  // By name, and none kept has it: one not kept did.
  if (unkept != unkept_open_.end() && unkept->second > 0) --unkept->second;
}

// A CI step begins at `line`: it ends the previous one (at the time this one starts).
void SectionTracker::StartStep(uint64_t line, const std::string& name, std::string_view time) {
  for (size_t d = 0; d < open_.size(); ++d) {
    if (sections_[open_[d].index].syntax == std::string("step")) {
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
    std::string_view rest = Trim(plain.substr(9));
    std::string_view file = FirstToken(rest);
    std::string pkg;
    bool package = RE2::PartialMatch(file, PackageLogPattern(), &pkg);
    Open(line, package ? std::string_view(pkg) : file, rest, "begin-end", time, file);
    return true;
  }
  if (plain.starts_with("## End ")) {
    std::string seconds;
    int64_t duration = -1;
    if (RE2::PartialMatch(plain, EndSecondsPattern(), &seconds)) {
      duration = std::strtoll(seconds.c_str(), nullptr, 10);
    }
    CloseMarker("begin-end", line, time, FirstToken(Trim(plain.substr(7))), duration);
    return true;
  }
  if (plain.starts_with("::group::") || plain.starts_with("##[group]")) {
    std::string_view title = Trim(plain.substr(9));
    Open(line, title, title, "github", time);
    return true;
  }
  // Jenkins pipelines: "[Pipeline] { (Build)" opens the stage named Build, "[Pipeline] //
  // stage" closes it (parallel branches: "[Pipeline] { (Branch: x)" … "[Pipeline] // parallel").
  if (plain.starts_with("[Pipeline] { (") && plain.ends_with(")")) {
    std::string_view name = plain.substr(14, plain.size() - 15);
    Open(line, name, name, "jenkins", time);
    return true;
  }
  if (plain.starts_with("[Pipeline] // stage") || plain.starts_with("[Pipeline] // parallel")) {
    CloseMarker("jenkins", line, time);
    return true;
  }
  if (plain.starts_with("::endgroup::") || plain.starts_with("##[endgroup]")) {
    CloseMarker("github", line, time);
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
      std::string_view title = Trim(plain);
      Open(line, name, title.empty() ? name : title, "gitlab", time, name);
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
    CloseMarker("gitlab", line, time, name);
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
          if (sections_[open_[d].index].syntax == std::string("buildkite")) {
            Close(d, line - 1, time);
            break;
          }
        }
      }
      Open(line, title, title, "buildkite", time);
      buildkite_open_ = true;
      return true;
    }
  }
  return false;
}

}  // namespace logbucket::logs
