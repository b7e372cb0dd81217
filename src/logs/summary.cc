#include "logs/summary.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "logs/ansi.h"
#include "logs/candidates.h"
#include "logs/newlines.h"
#include "logs/rules.h"
#include "logs/whole_lines.h"

namespace logbucket::logs {
namespace {

struct Rule {
  const char* kind;
  int tier;
  int lines_after;
  bool joins_next;
  RE2 re;
  explicit Rule(const RuleSpec& spec)
      : kind(spec.kind),
        tier(spec.tier),
        lines_after(spec.lines_after),
        joins_next(spec.joins_next),
        re(spec.pattern) {}
};

// The vocabulary of rules.cc, compiled. Ordered: the first rule that matches a line decides
// its kind (the compiler-killed rule comes before the generic `fatal error:` one: an OOM kill is
// not a compile error).
struct Rules {
  RE2 test_result{R"(^\s*(?:\d+/\d+\s+)?Test\s+#\d+: .*\*\*\*(Failed|Timeout|Exception|Not Run))"};
  RE2 tests_passed{R"((\d+)% tests passed, (\d+) tests? failed out of (\d+))"};
  RE2 ctest_status{R"(^\s*(?:\d+/\d+\s+Test\s+#\d+:|Start\s+\d+:)|^\d+% tests passed|)"
                   R"(^The following tests|^Errors while running CTest)"};
  RE2 exception_line{R"(^[A-Za-z_][\w.]*(?::|$))"};
  RE2 noise{NoisePattern()};
  RE2 end_seconds{R"(\((\d+)s\)\s*$)"};
  RE2 package_log{R"((?:^|/)([^/\s]+)-latest(?:-[^/\s]*)?/log$)"};
  RE2 pr_url{R"(https?://[^\s/]+/([^\s/]+/[^\s/]+)/pull/(\d+))"};
  std::vector<std::unique_ptr<Rule>> errors;
  std::vector<std::unique_ptr<Rule>> warnings;
  // All error and warning rules in one automaton: one pass per candidate line says which match.
  RE2::Set all{RE2::DefaultOptions, RE2::UNANCHORED};

  Rules() {
    for (const RuleSpec& spec : ErrorRuleSpecs()) errors.push_back(std::make_unique<Rule>(spec));
    for (const RuleSpec& spec : WarningRuleSpecs())
      warnings.push_back(std::make_unique<Rule>(spec));
    for (const auto& rule : errors) all.Add(rule->re.pattern(), nullptr);
    for (const auto& rule : warnings) all.Add(rule->re.pattern(), nullptr);
    all.Compile();
  }
  // The first rule (errors before warnings) that matches, or -1.
  int Classify(std::string_view text) const {
    std::vector<int> hits;
    if (!all.Match(text, &hits) || hits.empty()) return -1;
    return *std::min_element(hits.begin(), hits.end());
  }
};

const Rules& GetRules() {
  static const Rules* rules = new Rules();  // RE2 objects are thread-safe for matching
  return *rules;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Cuts at a UTF-8 boundary so the JSON stays valid.
std::string Cap(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…";
}

// The visible text of a line, without a copy when there is nothing to strip (plain printable
// ASCII: most lines of a build log).
std::string_view Visible(std::string_view raw, std::string& holder) {
  bool plain = true;
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u >= 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return raw;
  holder = PlainText(raw);
  return holder;
}

bool StartsWithSpace(std::string_view s) { return !s.empty() && (s[0] == ' ' || s[0] == '\t'); }

// "## Begin sw/BUILD/O2-latest/log Wed Nov 18 …" → "sw/BUILD/O2-latest/log"
std::string_view FirstToken(std::string_view s) {
  size_t end = s.find(' ');
  return end == std::string_view::npos ? s : s.substr(0, end);
}

// Lines after a match that belong to it (a CMake error's explanation, a traceback's frames, a
// failed test's output, a code-check report). While one is open, lines are fed to it first.
struct Pending {
  enum class Kind { kCmake, kTraceback, kTest, kCodeCheck, kJoinNext } kind;
  size_t finding_slot = 0;  // for cmake/test/code-check: the group to extend
  uint64_t start_line = 0;
  uint64_t lines = 0;
  std::string text;  // cmake: the error's first line, completed by its first body line
  bool completed = false;
};

}  // namespace

std::string MaskForDedup(std::string_view text) {
  // A leading timestamp: [2026-11-18 13:24:03.123] / 2026-11-18T13:24:03Z / 13:24:03
  size_t i = 0;
  auto is_ts_char = [](char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == ':' || c == '.' || c == 'T' || c == 'Z' ||
           c == '[' || c == ']' || c == ' ' || c == ',' || c == '+';
  };
  size_t digits = 0;
  while (i < text.size() && i < 40 && is_ts_char(text[i])) {
    if (text[i] >= '0' && text[i] <= '9') ++digits;
    ++i;
  }
  if (digits >= 6) {
    text.remove_prefix(i);
  }
  std::string out;
  out.reserve(text.size());
  size_t n = text.size();
  size_t token_start = 0;  // start of the current whitespace-separated token in `out`
  for (size_t k = 0; k < n; ++k) {
    char c = text[k];
    if (c == ' ' || c == '\t') {
      out += ' ';
      token_start = out.size();
      continue;
    }
    if (c == '/') {
      // A directory: drop what the token had so far, keep the last component.
      out.resize(token_start);
      continue;
    }
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (hex) {
      size_t run = k;
      bool any_digit = false;
      while (run < n &&
             ((text[run] >= '0' && text[run] <= '9') || (text[run] >= 'a' && text[run] <= 'f'))) {
        any_digit |= text[run] >= '0' && text[run] <= '9';
        ++run;
      }
      if (run - k >= 8 && any_digit) {  // a hash or an address
        out += '#';
        k = run - 1;
        continue;
      }
    }
    if (c >= '0' && c <= '9') {
      while (k + 1 < n && text[k + 1] >= '0' && text[k + 1] <= '9') ++k;
      out += '#';
      continue;
    }
    out += c;
  }
  return out;
}

struct Analyzer::Impl {
  AnalyzerOptions options;
  const Rules& rules = GetRules();
  std::unique_ptr<CandidateScanner> scanner = NewCandidateScanner();
  WholeLines chunker;
  uint64_t fed = 0;
  uint64_t lines = 0;  // complete lines processed so far
  bool stopped = false;
  std::optional<Pending> pending;
  HeaderFacts header;
  std::vector<Section> sections;
  std::vector<size_t> open;  // indices into sections, innermost last
  bool buildkite_open = false;
  std::vector<Finding> errors;
  std::vector<Finding> warnings;
  std::unordered_map<std::string, size_t> error_groups;
  std::unordered_map<std::string, size_t> warning_groups;
  uint64_t error_occurrences = 0;
  uint64_t warning_occurrences = 0;
  uint64_t last_failed_line = 0;  // the latest `FAILED:` (ninja) line: start of a failure block
  bool broken_builder = false;

  explicit Impl(AnalyzerOptions o) : options(o) {}

  std::string CurrentSectionName() const {
    return open.empty() ? std::string() : sections[open.back()].name;
  }
  uint32_t CurrentSectionIndex() const {
    return open.empty() ? 0 : static_cast<uint32_t>(open.back() + 1);
  }

  void CountInSections(bool error) {
    for (size_t idx : open) {
      if (error) {
        ++sections[idx].errors;
      } else {
        ++sections[idx].warnings;
      }
    }
  }

  // Adds an occurrence; returns the group's index, or npos when the group cap is reached.
  size_t Record(bool error, const char* kind, int tier, uint64_t line, std::string_view text,
                uint64_t context_from, uint64_t context_to) {
    CountInSections(error);
    auto& list = error ? errors : warnings;
    auto& groups = error ? error_groups : warning_groups;
    (error ? error_occurrences : warning_occurrences)++;
    std::string key = std::string(kind) + '\0' + MaskForDedup(text);
    auto it = groups.find(key);
    if (it != groups.end()) {
      Finding& f = list[it->second];
      ++f.count;
      f.last_line = line;
      return it->second;
    }
    size_t cap = error ? options.max_error_groups : options.max_warning_groups;
    if (list.size() >= cap) return std::string::npos;
    Finding f;
    f.line = line;
    f.last_line = line;
    f.kind = kind;
    f.tier = tier;
    f.text = Cap(text, options.max_text_bytes);
    f.context_from = context_from;
    f.context_to = context_to;
    f.section = CurrentSectionName();
    f.section_index = CurrentSectionIndex();
    groups.emplace(std::move(key), list.size());
    list.push_back(std::move(f));
    return list.size() - 1;
  }

  void OpenSectionAt(uint64_t line, std::string name, std::string title, const char* syntax) {
    Section s;
    s.name = std::move(name);
    s.title = std::move(title);
    s.syntax = syntax;
    s.begin_line = line;
    s.end_line = line;
    s.depth = static_cast<uint32_t>(open.size());
    sections.push_back(std::move(s));
    open.push_back(sections.size() - 1);
  }

  void CloseSection(size_t depth_index, uint64_t line) {
    // Closes the section at open[depth_index] and anything left open inside it.
    while (open.size() > depth_index) {
      Section& s = sections[open.back()];
      s.end_line = line;
      if (s.syntax == std::string("buildkite")) buildkite_open = false;
      open.pop_back();
    }
  }

  // Section markers; returns true when the line was one.
  bool HandleSectionMarker(uint64_t line, std::string_view raw, std::string_view plain) {
    if (plain.starts_with("## Begin ")) {
      std::string_view rest = plain.substr(9);
      std::string file(FirstToken(rest));
      std::string name = file;
      std::string pkg;
      if (RE2::PartialMatch(file, rules.package_log, &pkg)) name = pkg;
      OpenSectionAt(line, name, std::string(Trim(rest)), "begin-end");
      return true;
    }
    if (plain.starts_with("## End ")) {
      std::string file(FirstToken(plain.substr(7)));
      for (size_t d = open.size(); d-- > 0;) {
        Section& s = sections[open[d]];
        if (s.syntax == std::string("begin-end") && FirstToken(s.title) == file) {
          std::string seconds;
          if (RE2::PartialMatch(plain, rules.end_seconds, &seconds)) {
            s.seconds = std::strtoll(seconds.c_str(), nullptr, 10);
          }
          CloseSection(d, line);
          break;
        }
      }
      return true;
    }
    if (plain.starts_with("::group::") || plain.starts_with("##[group]")) {
      std::string title(Trim(plain.substr(9)));
      OpenSectionAt(line, title, title, "github");
      return true;
    }
    // Jenkins pipelines: "[Pipeline] { (Build)" opens the stage named Build, "[Pipeline] //
    // stage" closes it (parallel branches: "[Pipeline] { (Branch: x)" … "[Pipeline] // parallel").
    if (plain.starts_with("[Pipeline] { (") && plain.ends_with(")")) {
      std::string name(plain.substr(14, plain.size() - 15));
      OpenSectionAt(line, name, name, "jenkins");
      return true;
    }
    if (plain.starts_with("[Pipeline] // stage") || plain.starts_with("[Pipeline] // parallel")) {
      for (size_t d = open.size(); d-- > 0;) {
        if (sections[open[d]].syntax == std::string("jenkins")) {
          CloseSection(d, line);
          break;
        }
      }
      return true;
    }
    if (plain.starts_with("::endgroup::") || plain.starts_with("##[endgroup]")) {
      for (size_t d = open.size(); d-- > 0;) {
        if (sections[open[d]].syntax == std::string("github")) {
          CloseSection(d, line);
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
        OpenSectionAt(line, std::string(name), title.empty() ? std::string(name) : title, "gitlab");
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
      for (size_t d = open.size(); d-- > 0;) {
        if (sections[open[d]].syntax == std::string("gitlab") && sections[open[d]].name == name) {
          CloseSection(d, line);
          break;
        }
      }
      return true;
    }
    // Buildkite: `--- title` (collapsed), `+++ title` (expanded), `~~~ title`. Not diff headers
    // (`--- a/file`, `+++ /dev/null`), and not inside another syntax's section (a package's
    // build output may well print a diff).
    if ((plain.starts_with("--- ") || plain.starts_with("+++ ") || plain.starts_with("~~~ ")) &&
        (open.empty() || buildkite_open)) {
      std::string_view title = Trim(plain.substr(4));
      bool diff_header = title.starts_with("a/") || title.starts_with("b/") ||
                         title.starts_with("/") || title.find('\t') != std::string_view::npos;
      // go test's results ("--- FAIL: TestX (0.00s)") are not sections either.
      bool go_test =
          title.starts_with("FAIL:") || title.starts_with("PASS:") || title.starts_with("SKIP:");
      if (!title.empty() && !diff_header && !go_test) {
        if (buildkite_open) {
          for (size_t d = 0; d < open.size(); ++d) {
            if (sections[open[d]].syntax == std::string("buildkite")) {
              CloseSection(d, line - 1);
              break;
            }
          }
        }
        OpenSectionAt(line, std::string(title), std::string(title), "buildkite");
        buildkite_open = true;
        return true;
      }
    }
    return false;
  }

  void HandleHeader(uint64_t line, std::string_view plain) {
    if (line > 20) return;
    if (plain.starts_with("Finished building on ")) {
      std::string_view rest = plain.substr(21);
      size_t at = rest.find(" at ");
      header.host = std::string(Trim(rest.substr(0, at)));
      if (at != std::string_view::npos) header.finished = std::string(Trim(rest.substr(at + 4)));
    } else if (plain.starts_with("Built commit ")) {
      std::string_view rest = plain.substr(13);
      header.commit = std::string(FirstToken(rest));
      size_t from = rest.find(" from ");
      if (from != std::string_view::npos) {
        header.pr_url = std::string(Trim(rest.substr(from + 6)));
        RE2::PartialMatch(header.pr_url, rules.pr_url, &header.repo, &header.pr);
      }
    } else if (plain.starts_with("Nomad allocation: ")) {
      header.nomad_url = std::string(Trim(plain.substr(18)));
    }
  }

  // Feeds a line to the open Pending block; returns true when the line belongs to it.
  bool FeedPending(uint64_t line, std::string_view raw) {
    Pending& p = *pending;
    std::string plain_holder;
    std::string_view plain_text =
        Visible(raw.substr(0, options.max_classified_line_bytes), plain_holder);
    auto plain = [&]() -> std::string_view { return plain_text; };
    auto finish = [&] { pending.reset(); };
    // The block's first occurrence grows to cover this (non-blank) line.
    auto extend = [&](std::string_view t) -> Finding* {
      if (Trim(t).empty() || p.finding_slot == std::string::npos) return nullptr;
      Finding& f = errors[p.finding_slot];
      if (f.line != p.start_line) return nullptr;  // a repeat: keep the first one's context
      f.context_to = line;
      return &f;
    };
    switch (p.kind) {
      case Pending::Kind::kCmake: {
        std::string_view t = plain();
        bool body = t.empty() || StartsWithSpace(t) || t.starts_with("Call Stack");
        if (!body || p.lines >= 30) {
          finish();
          return false;
        }
        ++p.lines;
        if (Finding* f = extend(t); f != nullptr && !p.completed && !t.starts_with("Call Stack")) {
          // The first line only says where; the first line of the body says what.
          f->text = Cap(p.text + " " + std::string(Trim(t)), options.max_text_bytes);
          p.completed = true;
        }
        return true;
      }
      case Pending::Kind::kTraceback: {
        std::string_view t = plain();
        if (t.empty() || StartsWithSpace(t) || t.starts_with("During handling") ||
            t.starts_with("The above exception") || t.starts_with("Traceback (most recent")) {
          if (++p.lines > 400) {
            finish();
            return false;
          }
          return true;
        }
        // The exception line ends the traceback: it is what the viewer jumps to.
        std::string text(Trim(t));
        finish();
        if (RE2::PartialMatch(text, rules.exception_line)) {
          Record(true, "python-traceback", kErrorTier, line, text, p.start_line, line);
          return true;
        }
        return false;
      }
      case Pending::Kind::kTest: {
        std::string_view t = plain();
        if (RE2::PartialMatch(t, rules.ctest_status) || p.lines >= 2000 ||
            t.starts_with("## End ") || t.starts_with("## Begin ")) {
          finish();
          return false;
        }
        ++p.lines;
        extend(t);
        return true;  // the test's own output (and its crash report) belongs to the failure
      }
      case Pending::Kind::kJoinNext: {
        std::string_view t = Trim(plain());
        if (t.empty()) {
          if (++p.lines > 2) finish();
          return true;
        }
        // (the context stays the rule's: the lines after the message say more)
        if (p.finding_slot != std::string::npos && errors[p.finding_slot].line == p.start_line) {
          errors[p.finding_slot].text = Cap(p.text + " " + std::string(t), options.max_text_bytes);
        }
        finish();
        return true;
      }
      case Pending::Kind::kCodeCheck: {
        std::string_view t = plain();
        if (t.starts_with("## End ") || t.starts_with("::endgroup::") ||
            raw.find("section_end:") != std::string_view::npos) {
          finish();
          return false;
        }
        ++p.lines;
        extend(t);
        return true;
      }
    }
    return false;
  }

  // A candidate line (or any line right after a Pending block ended).
  void HandleLine(uint64_t line, std::string_view raw) {
    std::string plain_owned;
    std::string_view plain = Visible(raw.substr(0, options.max_classified_line_bytes), plain_owned);
    if (HandleSectionMarker(line, raw, plain)) return;
    HandleHeader(line, plain);
    if (plain.starts_with("FAILED: ")) last_failed_line = line;
    std::string_view text = Trim(plain);
    if (text.empty()) return;

    // ctest results come first: their `***Exception: SegFault` is a test failure, not a crash
    // of the build.
    std::string what;
    if (RE2::PartialMatch(plain, rules.test_result, &what)) {
      const char* kind =
          text.find("SegFault") != std::string_view::npos ? "segfault" : "test-failure";
      size_t slot = Record(true, kind, kDecisive, line, text, line, line);
      pending = Pending{Pending::Kind::kTest, slot, line, 0, {}};
      return;
    }
    int passed = 0;
    uint64_t failed = 0, total = 0;
    if (RE2::PartialMatch(plain, rules.tests_passed, &passed, &failed, &total)) {
      if (failed > 0) Record(true, "test-failure", kDecisive, line, text, line, line);
      return;
    }
    if (plain.starts_with("CMake Error")) {
      size_t slot = Record(true, "cmake", kDecisive, line, text, line, line);
      pending = Pending{Pending::Kind::kCmake, slot, line, 0, std::string(text)};
      return;
    }
    if (plain.starts_with("Traceback (most recent call last)")) {
      pending = Pending{Pending::Kind::kTraceback, std::string::npos, line, 0, {}};
      return;
    }
    if (RE2::PartialMatch(plain, rules.noise)) return;

    int hit = rules.Classify(plain);
    if (hit < 0) return;
    if (static_cast<size_t>(hit) >= rules.errors.size()) {
      const Rule& rule = *rules.warnings[static_cast<size_t>(hit) - rules.errors.size()];
      Record(false, rule.kind, 0, line, text, line, line + static_cast<uint64_t>(rule.lines_after));
      return;
    }
    const Rule& rule = *rules.errors[static_cast<size_t>(hit)];
    std::string_view kind = rule.kind;
    if (kind == "broken-builder") broken_builder = true;
    uint64_t from = line >= 3 ? line - 2 : 1;
    uint64_t to = line + static_cast<uint64_t>(rule.lines_after);
    // A ninja failure block starts at its `FAILED:` line; show it when it is near.
    if (last_failed_line != 0 && last_failed_line < line && line - last_failed_line <= 40) {
      from = last_failed_line;
    }
    size_t slot = Record(true, rule.kind, rule.tier, line, text, from, to);
    if (kind == "code-check") {
      pending = Pending{Pending::Kind::kCodeCheck, slot, line, 0, {}};
    } else if (rule.joins_next) {
      pending = Pending{Pending::Kind::kJoinNext, slot, line, 0, std::string(text)};
    }
  }

  // `block` holds whole lines; the last one may lack its '\n' only at Finish.
  void ProcessBlock(std::string_view block) {
    size_t pos = 0;
    const size_t size = block.size();
    auto line_end_at = [&](size_t from) {
      const void* nl = std::memchr(block.data() + from, '\n', size - from);
      return nl ? static_cast<size_t>(static_cast<const char*>(nl) - block.data()) : size;
    };
    while (pos < size) {
      if (pending) {
        size_t end = line_end_at(pos);
        uint64_t line = lines + 1;
        std::string_view raw = block.substr(pos, end - pos);
        raw.remove_prefix(CiPrefixLength(raw));
        if (!FeedPending(line, raw)) HandleLine(line, raw);
        ++lines;
        pos = end + 1;
        continue;
      }
      size_t match_at = scanner->Next(block, pos);
      if (match_at == std::string_view::npos) {
        lines += static_cast<uint64_t>(CountNewlines(block.data() + pos, size - pos));
        if (block.back() != '\n') ++lines;  // the final line without '\n' (Finish only)
        return;
      }
      size_t line_start = pos;
      if (match_at > pos) {
        const void* nl = memrchr(block.data() + pos, '\n', match_at - pos);
        if (nl != nullptr)
          line_start = static_cast<size_t>(static_cast<const char*>(nl) - block.data()) + 1;
      }
      lines += static_cast<uint64_t>(CountNewlines(block.data() + pos, line_start - pos));
      size_t end = line_end_at(match_at);
      std::string_view raw = block.substr(line_start, end - line_start);
      raw.remove_prefix(CiPrefixLength(raw));
      HandleLine(lines + 1, raw);
      ++lines;
      pos = end + 1;
    }
  }

  bool Feed(std::string_view bytes) {
    if (stopped) return false;
    if (options.max_read_bytes > 0 && fed + bytes.size() > options.max_read_bytes) {
      bytes = bytes.substr(0, options.max_read_bytes - fed);
      stopped = true;
    }
    fed += bytes.size();
    chunker.Feed(bytes, [&](std::string_view block) { ProcessBlock(block); });
    return !stopped;
  }

  Summary Finish(uint64_t total_bytes) {
    chunker.Flush([&](std::string_view block) { ProcessBlock(block); });
    pending.reset();
    for (size_t idx : open) sections[idx].end_line = std::max<uint64_t>(lines, 1);
    open.clear();

    Summary s;
    s.total_bytes = std::max(total_bytes, fed);
    s.read_bytes = fed;
    s.lines = lines;
    s.header = std::move(header);
    s.error_occurrences = error_occurrences;
    s.warning_occurrences = warning_occurrences;
    // Rank: decisive kinds first (killed, CMake, failed tests), then errors, then what merely
    // reports that the build stopped; within a tier the latest section first (the package that
    // failed, not one that merely finished later without errors), then the first line in it
    // (later errors in one block are mostly consequences of the first). Counts never rank.
    std::stable_sort(errors.begin(), errors.end(), [](const Finding& a, const Finding& b) {
      if (a.tier != b.tier) return a.tier < b.tier;
      if (a.section_index != b.section_index) return a.section_index > b.section_index;
      return a.line < b.line;
    });
    for (auto& f : errors) f.context_to = std::min(std::max(f.context_to, f.line), lines);
    for (auto& f : warnings) f.context_to = std::min(std::max(f.context_to, f.line), lines);
    if (!errors.empty() && errors.front().section_index > 0) {
      sections[errors.front().section_index - 1].failed = true;
      // …and the sections around it, so the viewer opens the path down to it.
      for (auto& sec : sections) {
        if (sec.begin_line <= errors.front().line && sec.end_line >= errors.front().line) {
          sec.failed = true;
        }
      }
    }
    s.verdict = broken_builder ? "broken-builder" : errors.empty() ? "no-errors-found" : "failed";
    if (errors.empty() && lines > 0) {
      uint64_t to = lines;
      uint64_t from = to > 30 ? to - 29 : 1;
      if (!sections.empty()) {
        const Section& last = sections.back();
        to = last.end_line;
        from = std::max(last.begin_line, to > 30 ? to - 29 : 1);
      }
      s.tail_from = from;
      s.tail_to = to;
    }
    s.sections = std::move(sections);
    s.errors = std::move(errors);
    s.warnings = std::move(warnings);
    return s;
  }
};

Analyzer::Analyzer(AnalyzerOptions options) : impl_(std::make_unique<Impl>(options)) {}
Analyzer::~Analyzer() = default;
bool Analyzer::Feed(std::string_view bytes) { return impl_->Feed(bytes); }
Summary Analyzer::Finish(uint64_t total_bytes) { return impl_->Finish(total_bytes); }

Summary Summarize(std::string_view log, AnalyzerOptions options) {
  Analyzer analyzer(options);
  analyzer.Feed(log);
  return analyzer.Finish(log.size());
}

namespace {
nlohmann::json FindingJson(const Finding& f) {
  return {{"line", f.line},      {"kind", f.kind},
          {"text", f.text},      {"context", {f.context_from, f.context_to}},
          {"count", f.count},    {"last_line", f.last_line},
          {"section", f.section}};
}
}  // namespace

std::string SummaryToJson(const Summary& s) {
  nlohmann::json j;
  j["verdict"] = s.verdict;
  j["total_bytes"] = s.total_bytes;
  j["read_bytes"] = s.read_bytes;
  j["lines"] = s.lines;
  j["errors"] = nlohmann::json::array();
  for (const auto& f : s.errors) j["errors"].push_back(FindingJson(f));
  j["warnings"] = nlohmann::json::array();
  for (const auto& f : s.warnings) j["warnings"].push_back(FindingJson(f));
  j["error_occurrences"] = s.error_occurrences;
  j["warning_occurrences"] = s.warning_occurrences;
  nlohmann::json header = nlohmann::json::object();
  auto put = [&](const char* k, const std::string& v) {
    if (!v.empty()) header[k] = v;
  };
  put("host", s.header.host);
  put("finished", s.header.finished);
  put("commit", s.header.commit);
  put("pr_url", s.header.pr_url);
  put("repo", s.header.repo);
  put("pr", s.header.pr);
  put("nomad_url", s.header.nomad_url);
  j["header"] = header;
  j["sections"] = nlohmann::json::array();
  for (const auto& sec : s.sections) {
    nlohmann::json js = {{"name", sec.name},         {"title", sec.title},
                         {"syntax", sec.syntax},     {"begin_line", sec.begin_line},
                         {"end_line", sec.end_line}, {"depth", sec.depth},
                         {"errors", sec.errors},     {"warnings", sec.warnings},
                         {"failed", sec.failed}};
    if (sec.seconds >= 0) js["seconds"] = sec.seconds;
    j["sections"].push_back(std::move(js));
  }
  if (s.tail_to > 0) j["tail"] = {s.tail_from, s.tail_to};
  // Log bytes need not be UTF-8; PlainText already replaced invalid sequences, and `replace`
  // keeps a stray one (e.g. in a section title) from throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace logbucket::logs
