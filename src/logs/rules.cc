#include "logs/rules.h"

#include <cstdint>
#include <optional>

namespace logbucket::logs {

const std::vector<RuleSpec>& ErrorRuleSpecs() {
  static const std::vector<RuleSpec> rules = {
      // aliBuild and the machines it runs on.
      {"alibuild", "broken-builder", kDecisive, R"(^No logs found\. Please check the aurora log)"},
      {"build", "compiler-killed", kDecisive,
       R"(fatal error: Killed signal terminated program|internal compiler error: Killed)"},
      {"build", "code-check", kDecisive, R"(=== List of errors found ===|List of issues found)"},
      // What the CI system itself says. A failed step's exit code is a consequence; an
      // annotation a tool wrote (a test reporter, a linter) is what failed.
      {"ci", "ci-exit", kConsequence,
       R"(^(?:##\[error\]|Error: )?Process completed with exit code \d+|)"
       R"(^ERROR: Job failed: |^ERROR: script returned exit code \d+|)"
       R"(^Build step '.*' marked build as failure|^Finished: FAILURE$)",
       0},
      {"ci", "timeout", kDecisive, R"(^Build timed out \(after \d+ minutes\))", 0},
      {"ci", "ci-annotation", kDecisive, R"(^##\[error\]|^::error(?: [^:]*)?::)"},
      // Maven: the compiler's and surefire's lines are the cause; "Failed to execute goal" and
      // "BUILD FAILURE" follow from them.
      {"maven", "test-failure", kDecisive,
       R"(<<< (?:FAILURE|ERROR)!|^\[ERROR\] Tests run: .*(?:Failures: [1-9]|Errors: [1-9]))", 8},
      {"maven", "compile-error", kErrorTier, R"(^\[ERROR\] .*\.(?:java|kt|scala):\[\d+,\d+\])"},
      {"maven", "build-failed", kConsequence,
       R"(^\[ERROR\] Failed to execute goal|^\[(?:INFO|ERROR)\] BUILD FAILURE)", 0},
      // The JVM: an uncaught exception ends the program; running out of heap kills a build.
      {"java", "exception", kErrorTier, R"(^Exception in thread ")", 8},
      {"java", "out-of-memory", kErrorTier, R"(java\.lang\.OutOfMemoryError)", 4},
      // Kotlin (Gradle builds): "e: file:///x/A.kt:12:5 …", before 2.0 "e: /x/A.kt: (12, 5): …".
      {"kotlin", "compile-error", kErrorTier,
       R"(^e: (?:file://)?\S+\.kts?(?::\d+:\d+|: \(\d+, \d+\)))", 3},
      // Gradle: a failed test and "What went wrong" are causes; the failed task and "Build
      // failed" follow.
      {"gradle", "test-failure", kDecisive, R"(^\S.* > .+ FAILED$)", 6},
      {"gradle", "error", kErrorTier, R"(^\* What went wrong:)", 4, /*joins_next=*/true},
      {"gradle", "build-failed", kConsequence,
       R"(^> Task \S+ FAILED$|^FAILURE: Build failed with an exception|^BUILD FAILED in )", 0},
      // pytest.
      {"pytest", "test-failure", kDecisive, R"(^FAILED \S+::\S+|^ERROR \S+::\S+)"},
      {"pytest", "test-summary", kConsequence, R"(^=+ (?:\d+ (?:failed|errors?)[,\s].*) =+$)", 0},
      // cargo.
      {"cargo", "test-failure", kDecisive, R"(^test \S+ \.\.\. FAILED$)", 8},
      {"cargo", "build-failed", kConsequence,
       R"(^error: could not compile |^test result: FAILED|^error: test failed, to rerun)", 0},
      {"cargo", "compile-error", kErrorTier, R"(^error\[E\d+\]:)", 6},
      // go.
      {"go", "test-failure", kDecisive, R"(^\s*--- FAIL: )", 6},
      {"go", "panic", kErrorTier, R"(^panic: )", 12},
      {"go", "build-failed", kConsequence, R"(^FAIL\s|^FAIL$)", 0},
      // Compilers, linkers and build drivers.
      {"build", "internal-compiler-error", kErrorTier, R"(internal compiler error)"},
      {"build", "linker", kErrorTier,
       R"(undefined reference to|\bld(?:\.\w+)?: (?:error|fatal error|cannot find)|)"
       R"(collect2: error|ld returned \d+ exit status|multiple definition of|)"
       R"(^Undefined symbols for architecture|linker command failed)"},
      {"build", "compile-error", kErrorTier, R"(:\s*(?:fatal )?error(?: [A-Z]+\d+)?:|^error: )"},
      {"build", "segfault", kErrorTier,
       R"(Segmentation fault|segmentation violation|SIGSEGV|\*\*\*Exception: SegFault)"},
      {"build", "build-stopped", kConsequence,
       R"(ninja: build stopped|make.*: \*\*\*|^-- Configuring incomplete, errors occurred)", 0},
      // git and shells.
      {"git", "git", kErrorTier, R"(^fatal: )"},
      {"shell", "shell", kErrorTier, R"(: command not found$)"},
      // Generic words last.
      {"generic", "error", kErrorTier,
       R"(^Error(?::| in )|^ERROR:? |\[ERROR\]|\[FATAL\]|^FATAL: | -> FAILED)"},
  };
  return rules;
}

const std::vector<RuleSpec>& WarningRuleSpecs() {
  static const std::vector<RuleSpec> rules = {
      {"build", "warning", kErrorTier, R"(: warning:|^Warning: |^WARNING: |^##\[warning\])", 2},
      {"build", "cmake-warning", kErrorTier, R"(^CMake Warning)", 2},
  };
  return rules;
}

const char* NoisePattern() {
  return R"(^WARNING:.*fatal error:.*No such file|)"  // aliBuild probing optional headers
         R"(^\[ERROR\] (?:-> \[Help 1\]|To see the full stack trace|Re-run Maven using|)"
         R"(For more information about the errors|After correcting the problems|)"
         R"(\[Help 1\] http|COMPILATION ERROR :?\s*$|\s*$))";
}

namespace {

bool Digits(std::string_view s, size_t at, size_t n) {
  if (at + n > s.size()) return false;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// "2022-05-30T09:11:02[.8576463]Z" at `at`: its length, or 0.
size_t IsoTimestamp(std::string_view s, size_t at) {
  if (!Digits(s, at, 4) || s.size() < at + 20 || s[at + 4] != '-' || !Digits(s, at + 5, 2) ||
      s[at + 7] != '-' || !Digits(s, at + 8, 2) || s[at + 10] != 'T' || !Digits(s, at + 11, 2) ||
      s[at + 13] != ':' || !Digits(s, at + 14, 2) || s[at + 16] != ':' || !Digits(s, at + 17, 2)) {
    return 0;
  }
  size_t i = at + 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < at + 30) ++i;
  }
  if (i < s.size() && s[i] == 'Z') return i + 1 - at;
  if (i + 6 <= s.size() && (s[i] == '+' || s[i] == '-') && Digits(s, i + 1, 2) && s[i + 3] == ':' &&
      Digits(s, i + 4, 2)) {
    return i + 6 - at;
  }
  return 0;
}

// "09:11:02" at `at`: 8, or 0.
size_t ClockTime(std::string_view s, size_t at) {
  return Digits(s, at, 2) && s.size() > at + 7 && s[at + 2] == ':' && Digits(s, at + 3, 2) &&
                 s[at + 5] == ':' && Digits(s, at + 6, 2)
             ? 8
             : 0;
}

}  // namespace

CiPrefix ParseCiPrefix(std::string_view line) {
  CiPrefix prefix;
  if (line.empty()) return prefix;
  // A raw GitHub Actions log starts with a byte-order mark.
  size_t at = line.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  // A downloaded GitHub Actions job log: "<job>\t<step>\t<timestamp> ".
  if (size_t tab = line.substr(0, 200).find('\t'); tab != std::string_view::npos) {
    size_t tab2 = line.substr(0, 400).find('\t', tab + 1);
    if (tab2 != std::string_view::npos && IsoTimestamp(line, tab2 + 1) > 0) {
      at = tab2 + 1;
      prefix.step = line.substr(tab + 1, tab2 - tab - 1);
    }
  }
  if (at >= line.size()) return CiPrefix{};
  if (line[at] == '[') {  // Jenkins timestamper: "[<ISO or HH:MM:SS>] "
    size_t n = IsoTimestamp(line, at + 1);
    if (n == 0) n = ClockTime(line, at + 1);
    if (n > 0 && at + 1 + n + 1 < line.size() && line[at + 1 + n] == ']' &&
        line[at + 2 + n] == ' ') {
      prefix.length = at + n + 3;
      prefix.time = line.substr(at + 1, n);
    }
    return prefix.length > 0 ? prefix : CiPrefix{};
  }
  size_t n = IsoTimestamp(line, at);
  if (n == 0) {
    n = prefix.step.empty() ? ClockTime(line, at) : 0;  // Jenkins timestamper's "09:11:02 "
    if (n > 0 && at + n < line.size() && line[at + n] == ' ') {
      prefix.length = at + n + 1;
      prefix.time = line.substr(at, n);
      return prefix;
    }
    return CiPrefix{};
  }
  size_t end = at + n;
  if (end >= line.size() || line[end] != ' ') return CiPrefix{};
  prefix.time = line.substr(at, n);
  ++end;
  // GitLab: the stream ("00O", "01E") and a '+' on continued lines.
  if (Digits(line, end, 2) && end + 3 < line.size() &&
      (line[end + 2] == 'O' || line[end + 2] == 'E')) {
    size_t after = end + 3;
    if (after < line.size() && line[after] == '+') ++after;
    if (after < line.size() && line[after] == ' ') end = after + 1;
  }
  prefix.length = end;
  return prefix;
}

namespace {

int Number(std::string_view s, size_t at, size_t n) {
  int v = 0;
  for (size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Seconds since the epoch (a full timestamp) or since midnight (a clock time); `full` says which.
std::optional<double> Seconds(std::string_view t, bool& full) {
  full = IsoTimestamp(t, 0) == t.size() && !t.empty();
  if (!full) {
    if (ClockTime(t, 0) != t.size() || t.empty()) return std::nullopt;
    return Number(t, 0, 2) * 3600.0 + Number(t, 3, 2) * 60.0 + Number(t, 6, 2);
  }
  double seconds =
      static_cast<double>(DaysFromCivil(Number(t, 0, 4), static_cast<unsigned>(Number(t, 5, 2)),
                                        static_cast<unsigned>(Number(t, 8, 2)))) *
          86400.0 +
      Number(t, 11, 2) * 3600.0 + Number(t, 14, 2) * 60.0 + Number(t, 17, 2);
  size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    double scale = 0.1;
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, scale /= 10) {
      seconds += (t[i] - '0') * scale;
    }
  }
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
    double offset = Number(t, i + 1, 2) * 3600.0 + Number(t, i + 4, 2) * 60.0;
    seconds += t[i] == '+' ? -offset : offset;
  }
  return seconds;
}

}  // namespace

double CiSecondsBetween(std::string_view from, std::string_view to) {
  bool from_full = false, to_full = false;
  std::optional<double> a = Seconds(from, from_full);
  std::optional<double> b = Seconds(to, to_full);
  if (!a || !b || from_full != to_full) return -1;
  double d = *b - *a;
  if (!from_full && d < 0) d += 86400;  // past midnight
  return d < 0 ? -1 : d;
}

}  // namespace logbucket::logs
