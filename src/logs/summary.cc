#include "logs/summary.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "common/encoding.h"
#include "common/hash.h"
#include "logs/ansi.h"
#include "logs/candidates.h"
#include "logs/newlines.h"
#include "logs/rules.h"
#include "logs/sections.h"
#include "logs/text.h"
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

namespace {

// MaskForDedup's rules, written to a sink: Put(c), Blank() (a space or tab: the next token
// starts), DropToken() (a '/': what the token had so far was a directory, keep the last part).
template <typename Sink>
void MaskInto(std::string_view text, Sink& out) {
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
  if (digits >= 6) text.remove_prefix(i);
  const size_t n = text.size();
  size_t hex_checked_to = 0;  // a run of hex digits too short to be a hash is looked at once
  for (size_t k = 0; k < n; ++k) {
    char c = text[k];
    if (c == ' ' || c == '\t') {
      out.Blank();
      continue;
    }
    if (c == '/') {
      out.DropToken();
      continue;
    }
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (hex && k >= hex_checked_to) {
      size_t run = k;
      bool any_digit = false;
      while (run < n &&
             ((text[run] >= '0' && text[run] <= '9') || (text[run] >= 'a' && text[run] <= 'f'))) {
        any_digit |= text[run] >= '0' && text[run] <= '9';
        ++run;
      }
      if (run - k >= 8 && any_digit) {  // a hash or an address
        out.Put('#');
        k = run - 1;
        continue;
      }
      hex_checked_to = run;
    }
    if (c >= '0' && c <= '9') {
      while (k + 1 < n && text[k + 1] >= '0' && text[k + 1] <= '9') ++k;
      out.Put('#');
      continue;
    }
    out.Put(c);
  }
}

struct StringSink {
  std::string out;
  size_t token_start = 0;
  void Put(char c) { out += c; }
  void Blank() {
    out += ' ';
    token_start = out.size();
  }
  void DropToken() { out.resize(token_start); }
};

// FNV-1a over what StringSink would hold, keeping only the current token.
struct HashSink {
  uint64_t hash = 14695981039346656037ULL;
  std::string token;
  void Mix(char c) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  void Flush() {
    for (char c : token) Mix(c);
    token.clear();
  }
  void Put(char c) { token += c; }
  void Blank() {
    Flush();
    Mix(' ');
  }
  void DropToken() { token.clear(); }
};

}  // namespace

std::string MaskForDedup(std::string_view text) {
  StringSink sink;
  sink.out.reserve(text.size());
  MaskInto(text, sink);
  return std::move(sink.out);
}

uint64_t MaskedHash(std::string_view text) {
  thread_local HashSink sink;
  sink.hash = 14695981039346656037ULL;
  sink.token.clear();
  MaskInto(text, sink);
  sink.Flush();
  return sink.hash;
}

std::string ErrorSignature(std::string_view kind, std::string_view text) {
  std::string unscratched;
  unscratched.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    std::string_view rest = text.substr(i);
    if ((rest.starts_with("/tmp/") || rest.starts_with("/var/tmp/")) &&
        (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\'' || text[i - 1] == '"' ||
         text[i - 1] == '`' || text[i - 1] == '(' || text[i - 1] == '=')) {
      unscratched += "<tmp>";
      while (i < text.size() && text[i] != ' ' && text[i] != '\'' && text[i] != '"' &&
             text[i] != '`' && text[i] != ')' && text[i] != ':') {
        ++i;
      }
      continue;
    }
    unscratched += text[i++];
  }
  std::string digest = Sha256(std::string(kind) + '\0' + MaskForDedup(unscratched));
  return HexEncode(std::string_view(digest).substr(0, 8));
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
  SectionTracker tracker;
  std::vector<Finding> errors;
  std::vector<Finding> warnings;
  std::unordered_map<std::string, size_t> error_groups;
  std::unordered_map<std::string, size_t> warning_groups;
  uint64_t error_occurrences = 0;
  uint64_t warning_occurrences = 0;
  uint64_t last_failed_line = 0;  // the latest `FAILED:` (ninja) line: start of a failure block
  bool broken_builder = false;
  // CI time: the timestamp of the line being handled (valid during the call), and of the first
  // and the last line that have one.
  std::string_view line_time;
  std::string first_time;
  std::string last_time;
  uint64_t last_time_line = 0;  // the line last_time was read from
  std::string current_step;     // a downloaded job log's step column, as far as read

  explicit Impl(AnalyzerOptions o)
      : options(o), chunker(std::max<size_t>(o.max_classified_line_bytes, 512)) {}

  // Adds an occurrence; returns the group's index, or npos when the group cap is reached.
  size_t Record(bool error, const char* kind, int tier, uint64_t line, std::string_view text,
                uint64_t context_from, uint64_t context_to) {
    tracker.Count(error);
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
    f.section = tracker.CurrentName();
    f.section_index = tracker.CurrentIndex();
    f.time = std::string(line_time);
    groups.emplace(std::move(key), list.size());
    list.push_back(std::move(f));
    return list.size() - 1;
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
    if (tracker.HandleMarker(line, raw, plain, line_time)) return;
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

  // The line starting at `pos`, as much of it as a CI prefix may take.
  static std::string_view HeadOfLine(std::string_view block, size_t pos) {
    std::string_view head = block.substr(pos, 512);
    return head.substr(0, head.find('\n'));
  }
  static size_t NextLine(std::string_view block, size_t pos) {
    const void* nl = std::memchr(block.data() + pos, '\n', block.size() - pos);
    return nl ? static_cast<size_t>(static_cast<const char*>(nl) - block.data()) + 1 : block.size();
  }

  // The CI times the summary reports are those of the first line that has one among the log's
  // first kTimeWindowLines lines, and of the last among its last kTimeWindowLines: only the
  // ends of each block are read for them, and the answer is the same however the log was cut.
  static constexpr uint64_t kTimeWindowLines = 100;

  // `block` holds whole lines; the last one may lack its '\n' only at Finish. Notes the CI
  // times of the log's first and last lines and cuts the block where a downloaded job log's
  // step column changes (cheaply: only a block whose first and last lines differ from the
  // current step is walked line by line).
  void ProcessBlock(std::string_view block) {
    if (block.empty()) return;
    for (size_t pos = 0, n = 0;
         first_time.empty() && lines + n < kTimeWindowLines && pos < block.size(); ++n) {
      first_time = std::string(ParseCiPrefix(HeadOfLine(block, pos)).time);
      pos = NextLine(block, pos);
    }
    // The block's last lines, latest first, up to the first that has a time (the block ends
    // with its '\n', except at Finish): the latest timed line of the log so far, if it lies
    // within kTimeWindowLines of the block's end. Finish keeps it only if it also lies within
    // kTimeWindowLines of the log's end.
    std::string_view last_step;
    std::string block_last_time;
    uint64_t lines_after_it = 0;
    {
      size_t end = block.back() == '\n' ? block.size() - 1 : block.size();
      for (uint64_t n = 0; n < kTimeWindowLines; ++n) {
        const void* nl = end > 0 ? memrchr(block.data(), '\n', end) : nullptr;
        size_t start =
            nl ? static_cast<size_t>(static_cast<const char*>(nl) - block.data()) + 1 : 0;
        CiPrefix prefix = ParseCiPrefix(HeadOfLine(block, start));
        if (n == 0) last_step = prefix.step;
        if (!prefix.time.empty()) {
          block_last_time = std::string(prefix.time);
          lines_after_it = n;
          break;
        }
        if (start == 0) break;
        end = start - 1;
      }
    }
    ProcessBlockLines(block, last_step);
    if (!block_last_time.empty()) {
      last_time = std::move(block_last_time);
      last_time_line = lines - lines_after_it;  // `lines` now counts the block's lines
    }
  }

  void ProcessBlockLines(std::string_view block, std::string_view last_step) {
    if (ParseCiPrefix(HeadOfLine(block, 0)).step == current_step && last_step == current_step) {
      ProcessLines(block);
      return;
    }
    size_t segment = 0;
    for (size_t pos = 0; pos < block.size(); pos = NextLine(block, pos)) {
      CiPrefix prefix = ParseCiPrefix(HeadOfLine(block, pos));
      if (prefix.step.empty() || prefix.step == current_step) continue;
      ProcessLines(block.substr(segment, pos - segment));
      segment = pos;
      current_step = std::string(prefix.step);
      tracker.StartColumnStep(lines + 1, current_step, prefix.time);
    }
    ProcessLines(block.substr(segment));
  }

  void ProcessLines(std::string_view block) {
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
        CiPrefix prefix = ParseCiPrefix(raw);
        line_time = prefix.time;
        raw.remove_prefix(prefix.length);
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
      CiPrefix prefix = ParseCiPrefix(raw);
      line_time = prefix.time;
      raw.remove_prefix(prefix.length);
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

  // Cleanup that runs whatever happened before it (GitHub's "Post …" steps, Jenkins' post
  // actions): what fails there is rarely why the build failed.
  static bool IsCleanup(const Section& s) {
    return s.title.starts_with("Post ") || s.title == "Declarative: Post Actions";
  }

  // Rank: decisive kinds first (killed, CMake, failed tests), then errors, then what merely
  // reports that the build stopped; within a tier the latest section first (the package that
  // failed, not one that merely finished later without errors; cleanup counts as no section),
  // then the first line in it (later errors in one block are mostly consequences of the first).
  // When the CI says which step failed (its "exit code N" line lies in a top-level section),
  // the causes in that step come first, by tier and line. Counts never rank.
  void Rank() {
    const std::vector<Section>& sections = tracker.sections();
    std::vector<bool> cleanup(sections.size(), false);
    for (size_t i = 0; i < sections.size(); ++i) {
      if (!IsCleanup(sections[i])) continue;
      for (size_t k = i; k < sections.size() && sections[k].begin_line <= sections[i].end_line;
           ++k) {
        cleanup[k] = true;
      }
    }
    uint64_t failing_from = 0, failing_to = 0;
    uint64_t exit_line = 0;
    for (const Finding& f : errors) {
      if (f.kind == "ci-exit" && (exit_line == 0 || f.line < exit_line)) exit_line = f.line;
    }
    for (const Section& sec : sections) {
      if (exit_line != 0 && sec.depth == 0 && sec.begin_line <= exit_line &&
          exit_line <= sec.end_line) {
        failing_from = sec.begin_line;
        failing_to = sec.end_line;
      }
    }
    auto in_failing_step = [&](const Finding& f) {
      return f.tier < kConsequence && failing_from <= f.line && f.line <= failing_to &&
             failing_to > 0;
    };
    auto section_rank = [&](const Finding& f) -> uint32_t {
      return f.section_index == 0 || cleanup[f.section_index - 1] ? 0 : f.section_index;
    };
    std::stable_sort(errors.begin(), errors.end(), [&](const Finding& a, const Finding& b) {
      bool a_failing = in_failing_step(a), b_failing = in_failing_step(b);
      if (a_failing != b_failing) return a_failing;
      if (a.tier != b.tier) return a.tier < b.tier;
      if (!a_failing && section_rank(a) != section_rank(b)) {
        return section_rank(a) > section_rank(b);
      }
      return a.line < b.line;
    });
  }

  Summary Finish(uint64_t total_bytes) {
    chunker.Flush([&](std::string_view block) { ProcessBlock(block); });
    if (last_time_line + kTimeWindowLines <= lines) last_time.clear();
    pending.reset();
    tracker.CloseAll(std::max<uint64_t>(lines, 1), last_time);
    std::vector<Section>& sections = tracker.sections();

    Summary s;
    s.total_bytes = std::max(total_bytes, fed);
    s.read_bytes = fed;
    s.lines = lines;
    s.header = std::move(header);
    s.error_occurrences = error_occurrences;
    s.warning_occurrences = warning_occurrences;
    s.first_time = std::move(first_time);
    s.last_time = std::move(last_time);
    Rank();
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
    s.sections_omitted = tracker.omitted();
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
nlohmann::json FindingJson(const Finding& f, const std::string& first_time, bool error) {
  nlohmann::json j = {{"line", f.line},      {"kind", f.kind},
                      {"text", f.text},      {"context", {f.context_from, f.context_to}},
                      {"count", f.count},    {"last_line", f.last_line},
                      {"section", f.section}};
  if (error) j["signature"] = ErrorSignature(f.kind, f.text);
  if (!f.time.empty()) {
    j["time"] = f.time;
    double elapsed = CiSecondsBetween(first_time, f.time);
    if (elapsed >= 0) j["elapsed"] = static_cast<int64_t>(std::llround(elapsed));
  }
  return j;
}
}  // namespace

std::string SummaryToJson(const Summary& s) {
  nlohmann::json j;
  j["verdict"] = s.verdict;
  j["total_bytes"] = s.total_bytes;
  j["read_bytes"] = s.read_bytes;
  j["lines"] = s.lines;
  j["errors"] = nlohmann::json::array();
  for (const auto& f : s.errors) j["errors"].push_back(FindingJson(f, s.first_time, true));
  j["warnings"] = nlohmann::json::array();
  for (const auto& f : s.warnings) j["warnings"].push_back(FindingJson(f, s.first_time, false));
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
    if (!sec.time.empty()) js["time"] = sec.time;
    j["sections"].push_back(std::move(js));
  }
  if (s.sections_omitted > 0) j["sections_omitted"] = s.sections_omitted;
  if (s.tail_to > 0) j["tail"] = {s.tail_from, s.tail_to};
  if (!s.first_time.empty()) j["first_time"] = s.first_time;
  if (!s.last_time.empty()) j["last_time"] = s.last_time;
  // Log bytes need not be UTF-8; PlainText already replaced invalid sequences, and `replace`
  // keeps a stray one (e.g. in a section title) from throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace logbucket::logs
