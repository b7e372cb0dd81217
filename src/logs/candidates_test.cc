#include "logs/candidates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "logs/newlines.h"

namespace logbucket::logs {
namespace {

// Numbers (1-based) of the lines a scanner flags, walking as the analyzer does.
std::vector<uint64_t> FlaggedLines(CandidateScanner& scanner, std::string_view text) {
  std::vector<uint64_t> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t at = scanner.Next(text, pos);
    if (at == std::string_view::npos) break;
    EXPECT_GE(at, pos);
    lines.push_back(CountNewlines(text.data(), at) + 1);
    size_t nl = text.find('\n', at);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  return lines;
}

// A log mixing candidate words (whole, cut, at line starts and not) with plain noise.
std::string RandomLog(uint32_t seed) {
  static const char* pieces[] = {"error",
                                 "Error:",
                                 "ERRO",
                                 "rror",
                                 "FAILED: x.o",
                                 "warning: unused",
                                 "Warn",
                                 "## Begin ",
                                 " ## Begin ",
                                 "## End pkg",
                                 "::group::",
                                 "::endgroup::",
                                 "section_start:1:x",
                                 "--- a",
                                 "-- b",
                                 "+++ ",
                                 "~~~ ",
                                 "Built commit ",
                                 " Built commit ",
                                 "ld: ",
                                 "ld:",
                                 "***",
                                 "**",
                                 "Traceback (most",
                                 "egmentation",
                                 "SIGSEGV",
                                 "tests passed",
                                 "No logs found",
                                 "\x1b[01;31m\x1b[Kerror\x1b[m",
                                 "Killed signal",
                                 "plain text ",
                                 "12345 ",
                                 "/sw/BUILD/",
                                 "\r",
                                 "\t",
                                 "\n",
                                 "\n",
                                 "\n",
                                 "Finished building on ",
                                 "Nomad allocation: "};
  std::mt19937 rng(seed);
  std::string out;
  for (int i = 0; i < 4000; ++i) out += pieces[rng() % std::size(pieces)];
  return out;
}

TEST(CandidateScanner, TheFastEngineFlagsExactlyTheLinesRe2Flags) {
  auto fast = NewCandidateScanner();
  auto re2 = NewRe2CandidateScanner();
  std::printf("candidate engine: %s\n", fast->engine());
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::string log = RandomLog(seed);
    auto expected = FlaggedLines(*re2, log);
    EXPECT_FALSE(expected.empty());
    EXPECT_EQ(FlaggedLines(*fast, log), expected) << "seed " << seed;
  }
}

// Case-insensitive words stay so alone: "FAILED" does not become caseless in RE2's single
// alternation because "(?i)error" comes before it (summary_fuzz found the engines disagreeing).
TEST(CandidateScanner, CaselessPatternsDoNotLeakTheirFlag) {
  for (auto& scanner : {NewCandidateScanner(), NewRe2CandidateScanner()}) {
    EXPECT_EQ(FlaggedLines(*scanner, "prefailed\nbuild FAILED\nan ErRoR\n"),
              (std::vector<uint64_t>{2, 3}))
        << scanner->engine();
  }
}

// Brackets in markers are literal: "##[group]" is not "##" and one of g, r, o, u, p.
TEST(CandidateScanner, SectionMarkersAreLiteral) {
  for (auto& scanner : {NewCandidateScanner(), NewRe2CandidateScanner()}) {
    EXPECT_EQ(FlaggedLines(*scanner,
                           "##[group]Run x\n##g\n##[endgroup]\nan ##o\n[Pipeline] stage\n"
                           "Pipeline stage\nonly n \n"),
              (std::vector<uint64_t>{1, 3, 5}))
        << scanner->engine();
  }
}

TEST(CandidateScanner, AnchoredPatternsOnlyAtLineStarts) {
  auto scanner = NewCandidateScanner();
  EXPECT_EQ(FlaggedLines(*scanner, "x Finished building on a\nFinished building on b\n"),
            (std::vector<uint64_t>{2}));
  // Section markers are found behind a CI timestamp too.
  EXPECT_EQ(FlaggedLines(*scanner, "2022-05-30T09:11:02.1Z ## Begin a\nplain\n"),
            (std::vector<uint64_t>{1}));
  EXPECT_EQ(FlaggedLines(*scanner, "a --- b\n--- c\nd"), (std::vector<uint64_t>{2}));
  EXPECT_EQ(FlaggedLines(*scanner, "nothing here\nat all"), (std::vector<uint64_t>{}));
  EXPECT_EQ(FlaggedLines(*scanner, "x\n\nlast error"), (std::vector<uint64_t>{3}));
}

TEST(CountNewlines, MatchesACountAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::string data(20000, 'x');
  for (auto& c : data) c = "ab\n\xff\x0a\x8a"[rng() % 6];
  for (size_t start = 0; start < 17; ++start) {
    for (size_t len : {0ul, 1ul, 7ul, 15ul, 16ul, 17ul, 255ul * 16, 255ul * 16 + 3, 19000ul}) {
      EXPECT_EQ(
          CountNewlines(data.data() + start, len),
          static_cast<uint64_t>(std::count(data.begin() + static_cast<long>(start),
                                           data.begin() + static_cast<long>(start + len), '\n')))
          << start << "+" << len;
    }
  }
  std::string all(5000, '\n');  // every byte: the per-byte counters must not overflow
  EXPECT_EQ(CountNewlines(all.data(), all.size()), 5000u);
}

}  // namespace
}  // namespace logbucket::logs
