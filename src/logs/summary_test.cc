#include "logs/summary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "logs/gunzip.h"
#include "logs/rules.h"
#include "logs/search.h"
#include "logs/summary_testing.h"
#include "logs/whole_lines.h"

namespace logbucket::logs {
namespace {

const Finding& First(const Summary& s) {
  EXPECT_FALSE(s.errors.empty());
  static const Finding none;
  return s.errors.empty() ? none : s.errors.front();
}

TEST(Summary, EachErrorKindIsRecognised) {
  struct Case {
    const char* line;
    const char* kind;
  };
  const Case cases[] = {
      {"c++: \x1b[01;31m\x1b[Kfatal error: \x1b[m\x1b[KKilled signal terminated program cc1plus",
       "compiler-killed"},
      {"CMake Error at CMakeLists.txt:12 (find_package):", "cmake"},
      {"  3/10 Test  #3: o2-test-foo ......***Failed    1.2 sec", "test-failure"},
      {"  4/10 Test  #4: o2-test-bar ......***Timeout  60.0 sec", "test-failure"},
      {"=== List of errors found ===", "code-check"},
      {"\x1b[01m\x1b[Ka.cxx:1:2:\x1b[m\x1b[K \x1b[01;31m\x1b[Kerror: \x1b[m\x1b[Kexpected ';'",
       "compile-error"},
      {"a.cxx:9:1: fatal error: foo.h: No such file or directory", "compile-error"},
      {"a.cxx:3:4: internal compiler error: in tsubst, at cp/pt.c:1", "internal-compiler-error"},
      {"a.o: in function `f': a.cxx:7: undefined reference to `g()'", "linker"},
      {"collect2: error: ld returned 1 exit status", "linker"},
      {"ninja: build stopped: subcommand failed.", "build-stopped"},
      {"make[2]: *** [Makefile:12: all] Error 2", "build-stopped"},
      {"Segmentation fault (core dumped)", "segfault"},
      {"  5/10 Test  #5: o2-test-baz ......***Exception: SegFault  0.1 sec", "segfault"},
      {"Error: the package could not be built", "error"},
      {"ERROR: Error while executing sw/SPECS/O2/build.sh", "error"},
      {"[ERROR] Failed to execute goal", "build-failed"},
      // CI systems.
      {"##[error]Process completed with exit code 1.", "ci-exit"},
      {"ERROR: Job failed: exit code 1", "ci-exit"},
      {"Finished: FAILURE", "ci-exit"},
      {"Error: Process completed with exit code 2.", "ci-exit"},
      {"ERROR: script returned exit code 1", "ci-exit"},
      {"Build timed out (after 60 minutes). Marking the build as failed.", "timeout"},
      {"##[error]Missing import in src/a.py", "ci-annotation"},
      {"::error file=src/a.py,line=3,col=1::Missing import", "ci-annotation"},
      // Maven (plain and coloured).
      {"[ERROR] /src/main/java/org/x/A.java:[23,29] cannot find symbol", "compile-error"},
      {"[\x1b[1;31mERROR\x1b[m] /src/main/java/org/x/A.java:[23,29] cannot find symbol",
       "compile-error"},
      {"[ERROR] Tests run: 12, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.5 s <<< "
       "FAILURE! - in org.x.ATest",
       "test-failure"},
      {"[ERROR] testFoo(org.x.ATest)  Time elapsed: 0.01 s  <<< FAILURE!", "test-failure"},
      {"[INFO] BUILD FAILURE", "build-failed"},
      // The JVM, Kotlin.
      {"Exception in thread \"main\" java.lang.NoClassDefFoundError: org/x/Main", "exception"},
      {"Caused by: java.lang.OutOfMemoryError: Java heap space", "out-of-memory"},
      {"e: file:///w/app/src/main/kotlin/A.kt:12:5 Unresolved reference 'foo'.", "compile-error"},
      {"e: /w/app/src/main/kotlin/A.kt: (12, 5): Unresolved reference: foo", "compile-error"},
      // Gradle.
      {"> Task :core:test FAILED", "build-failed"},
      {"ATest > testX() FAILED", "test-failure"},
      {"FAILURE: Build failed with an exception.", "build-failed"},
      {"* What went wrong:", "error"},
      // pytest.
      {"FAILED tests/test_a.py::test_b - AssertionError: assert 1 == 2", "test-failure"},
      {"ERROR tests/test_a.py::test_c - ModuleNotFoundError: No module named 'x'", "test-failure"},
      {"========================= 1 failed, 3 passed in 0.12s =========================",
       "test-summary"},
      // cargo.
      {"error[E0425]: cannot find value `x` in this scope", "compile-error"},
      {"test tests::it_works ... FAILED", "test-failure"},
      {"test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
       "build-failed"},
      {"error: could not compile `foo` due to previous error", "build-failed"},
      // go.
      {"--- FAIL: TestAdd (0.00s)", "test-failure"},
      {"    --- FAIL: TestAdd/negative (0.00s)", "test-failure"},
      {"FAIL\tgithub.com/x/y\t0.005s", "build-failed"},
      {"panic: runtime error: index out of range [3] with length 3", "panic"},
      // git and shells.
      {"fatal: repository 'https://github.com/x/y/' not found", "git"},
      {"./build.sh: line 3: cmake3: command not found", "shell"},
      {"==> O2 -> FAILED", "error"},
      {"No logs found. Please check the aurora log.", "broken-builder"},
  };
  for (const auto& c : cases) {
    Summary s = Summarize(std::string("some output\n") + c.line + "\nmore output\n");
    ASSERT_EQ(s.errors.size(), 1u) << c.line;
    EXPECT_EQ(s.errors[0].kind, c.kind) << c.line;
    EXPECT_EQ(s.errors[0].line, 2u) << c.line;
  }
}

TEST(Summary, WordsThatOnlyContainErrorAreNotErrors) {
  Summary s = Summarize(
      "Checking for strerror_r... yes\n"
      "gcc.compile.c++ bin.v2/libs/system/error_code.o\n"
      "-- Performing Test HAVE_POSIX_REGEX -- failed to compile\n"
      "a.cxx:1:2: warning: unused variable 'x' [-Wunused-variable] [-Werror=unused]\n"
      "WARNING: fatal error: sys/foo.h: No such file or directory (system package probe)\n"
      "100% tests passed, 0 tests failed out of 1186\n");
  EXPECT_TRUE(s.errors.empty()) << s.errors[0].text;
  EXPECT_EQ(s.verdict, "no-errors-found");
  ASSERT_EQ(s.warnings.size(), 1u);  // the -Wunused one; the aliBuild probe is noise
  EXPECT_EQ(s.warnings[0].line, 4u);
}

TEST(Summary, DecisiveKindsOutrankLaterAndMoreFrequentErrors) {
  std::string log = "## Begin sw/BUILD/O2-latest/log x\n";
  for (int i = 0; i < 5; ++i) log += "b.cxx:" + std::to_string(i) + ":1: error: boom\n";
  log += "CMake Error at x.cmake:3 (message):\n  Target Foo does not exist.\n\n";
  log += "c.cxx:9:1: error: late\n## End sw/BUILD/O2-latest/log x (5s)\n";
  Summary s = Summarize(log);
  ASSERT_GE(s.errors.size(), 3u);
  EXPECT_EQ(s.errors[0].kind, "cmake");
  EXPECT_EQ(s.errors[0].text, "CMake Error at x.cmake:3 (message): Target Foo does not exist.");
  EXPECT_EQ(s.errors[0].context_from, 7u);
  EXPECT_EQ(s.errors[0].context_to, 8u);
  // Then the first error of the block, though "boom" occurs five times (counts never rank).
  EXPECT_EQ(s.errors[1].line, 2u);
  EXPECT_EQ(s.errors[1].count, 5u);
  EXPECT_EQ(s.errors[1].last_line, 6u);
  EXPECT_EQ(s.errors[2].line, 10u);
}

TEST(Summary, TheFailingPackageWinsOverAnEarlierOne) {
  Summary s = Summarize(
      "## Begin sw/BUILD/zlib-latest/log t\nz.c:1:1: error: early\n## End sw/BUILD/zlib-latest/log "
      "t (3s)\n## Begin sw/BUILD/O2-latest/log t\nninja: build stopped: subcommand failed.\n"
      "o.cxx:2:2: error: decisive\n## End sw/BUILD/O2-latest/log t (9s)\n");
  EXPECT_EQ(First(s).line, 6u);
  EXPECT_EQ(First(s).section, "O2");
  ASSERT_EQ(s.sections.size(), 2u);
  EXPECT_FALSE(s.sections[0].failed);
  EXPECT_TRUE(s.sections[1].failed);
  EXPECT_EQ(s.sections[1].seconds, 9);
  EXPECT_EQ(s.sections[1].errors, 2u);
  // build-stopped is only a consequence: it ranks after the errors.
  EXPECT_EQ(s.errors.back().kind, "build-stopped");
}

TEST(Summary, NinjaFailureBlockIsTheContext) {
  Summary s = Summarize(
      "[1/9] Building x\nFAILED: a.o\n/usr/bin/c++ -c a.cxx\na.cxx: In function 'f':\n"
      "a.cxx:3:1: error: nope\n    3 | x\n      | ^\nninja: build stopped: subcommand failed.\n");
  EXPECT_EQ(First(s).line, 5u);
  EXPECT_EQ(First(s).context_from, 2u);
  EXPECT_EQ(First(s).context_to, 8u);
}

TEST(Summary, PythonTracebackPointsAtTheException) {
  Summary s = Summarize(
      "FAILED: gen.h\nTraceback (most recent call last):\n  File \"g.py\", line 3, in <module>\n"
      "    main()\nKeyError: 'x'\nninja: build stopped: subcommand failed.\n");
  EXPECT_EQ(First(s).kind, "python-traceback");
  EXPECT_EQ(First(s).line, 5u);
  EXPECT_EQ(First(s).context_from, 2u);
  EXPECT_EQ(First(s).text, "KeyError: 'x'");
}

TEST(Summary, FailedTestOutputIsPartOfTheFailure) {
  Summary s = Summarize(
      "  1/2 Test #1: t1 ....***Failed  1.0 sec\n"
      "t.cxx(12): error: in \"s/c\": check a == b has failed\n"
      " *** Break *** segmentation violation\n"
      "  2/2 Test #2: t2 ....   Passed  1.0 sec\n"
      "50% tests passed, 1 tests failed out of 2\n");
  ASSERT_EQ(s.errors.size(), 2u);
  EXPECT_EQ(s.errors[0].kind, "test-failure");
  EXPECT_EQ(s.errors[0].line, 1u);
  EXPECT_EQ(s.errors[0].context_to, 3u);
  EXPECT_EQ(s.errors[1].line, 5u);  // the summary line, not the test's own output
}

TEST(Summary, CodeCheckReportRunsToTheEndOfItsSection) {
  Summary s = Summarize(
      "::group::checks\n=== List of errors found ===\nfoo.cxx: bad style\nbar.cxx: worse\n"
      "::endgroup::\nafter\n");
  EXPECT_EQ(First(s).kind, "code-check");
  EXPECT_EQ(First(s).context_to, 4u);
  EXPECT_EQ(First(s).section, "checks");
}

TEST(Summary, SectionSyntaxes) {
  Summary s = Summarize(
      "::group::Configure\ncmake ..\n::endgroup::\n"
      "\x1b[0Ksection_start:1560896352:build_step[collapsed=true]\r\x1b[0KBuilding things\n"
      "make\n\x1b[0Ksection_end:1560896353:build_step\r\x1b[0K\n"
      "--- :hammer: Tests\nrun\n+++ :rotating_light: Failures\nboom\n"
      "--- a/file.cxx\n");
  ASSERT_EQ(s.sections.size(), 4u);
  EXPECT_EQ(s.sections[0].syntax, "github");
  EXPECT_EQ(s.sections[0].name, "Configure");
  EXPECT_EQ(s.sections[0].begin_line, 1u);
  EXPECT_EQ(s.sections[0].end_line, 3u);
  EXPECT_EQ(s.sections[1].syntax, "gitlab");
  EXPECT_EQ(s.sections[1].name, "build_step");
  EXPECT_EQ(s.sections[1].title, "Building things");
  EXPECT_EQ(s.sections[1].end_line, 6u);
  EXPECT_EQ(s.sections[2].syntax, "buildkite");
  EXPECT_EQ(s.sections[2].end_line, 8u);  // the next Buildkite header closes it
  EXPECT_EQ(s.sections[3].name, ":rotating_light: Failures");
  EXPECT_EQ(s.sections[3].end_line, 11u);  // a diff header is not a section
}

// A Jenkins pipeline behind the timestamper: stages are sections, and the failing stage's
// error is found in it.
TEST(Summary, JenkinsPipelineStages) {
  const std::string ts = "[2022-05-30T09:11:02.857Z] ";
  Summary s = Summarize(ts + "[Pipeline] stage\n" + ts + "[Pipeline] { (Checkout)\n" + ts +
                        "git fetch\n" + ts + "[Pipeline] }\n" + ts + "[Pipeline] // stage\n" + ts +
                        "[Pipeline] stage\n" + ts + "[Pipeline] { (Build)\n" + ts +
                        "[ERROR] /w/src/A.java:[3,1] cannot find symbol\n" + ts + "[Pipeline] }\n" +
                        ts + "[Pipeline] // stage\n" + ts + "Finished: FAILURE\n");
  ASSERT_EQ(s.sections.size(), 2u);
  EXPECT_EQ(s.sections[0].syntax, "jenkins");
  EXPECT_EQ(s.sections[0].name, "Checkout");
  EXPECT_EQ(s.sections[0].begin_line, 2u);
  EXPECT_EQ(s.sections[0].end_line, 5u);
  EXPECT_EQ(s.sections[1].name, "Build");
  EXPECT_EQ(s.sections[1].end_line, 10u);
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors.front().line, 8u);
  EXPECT_EQ(s.errors.front().section, "Build");
  EXPECT_EQ(s.errors.front().kind, "compile-error");
}

TEST(Summary, BeginEndSectionsNestAndShortNames) {
  Summary s = Summarize(
      "## Begin sw/BUILD/ROOT-latest/log Mon\n::group::inner\nx\n::endgroup::\n"
      "## End sw/BUILD/ROOT-latest/log Mon (3600s)\n");
  ASSERT_EQ(s.sections.size(), 2u);
  EXPECT_EQ(s.sections[0].name, "ROOT");
  EXPECT_EQ(s.sections[0].seconds, 3600);
  EXPECT_EQ(s.sections[1].depth, 1u);
  EXPECT_EQ(s.sections[0].end_line, 5u);
}

// A log is written by whoever wrote the build: nesting deeper than the summary keeps open is
// counted, not kept (each error was counted in every open section and each closing marker
// looked through all of them: a 7 MB log of this shape took 81 s), and the closing markers of
// the sections not kept close those, not the kept ones around them.
TEST(Summary, SectionNestingIsBounded) {
  std::string log;
  for (int i = 0; i < 100; ++i) log += "## Begin p" + std::to_string(i) + " Mon\n";
  log += "error: boom\n";                                                          // line 101
  for (int i = 99; i >= 0; --i) log += "## End p" + std::to_string(i) + " Mon\n";  // 102…201
  for (int i = 0; i < 40; ++i) log += "::group::g" + std::to_string(i) + "\n";     // 202…241
  for (int i = 0; i < 40; ++i) log += "::endgroup::\n";                            // 242…281
  log += "::group::after\n::endgroup::\n";                                         // 282, 283
  Summary s = Summarize(log);
  ASSERT_EQ(s.sections.size(), 32u + 32u + 1u);
  EXPECT_EQ(s.sections_omitted, 68u + 8u);
  for (uint64_t k = 0; k < 32; ++k) {
    const Section& sec = s.sections[k];
    EXPECT_EQ(sec.name, "p" + std::to_string(k));
    EXPECT_EQ(sec.depth, k);
    EXPECT_EQ(sec.begin_line, k + 1);
    EXPECT_EQ(sec.end_line, 201 - k) << sec.name;  // its own End, not an unkept one's
    EXPECT_EQ(sec.errors, 1u);
  }
  EXPECT_EQ(First(s).section, "p31");
  for (uint64_t k = 0; k < 32; ++k) {
    const Section& sec = s.sections[32 + k];
    EXPECT_EQ(sec.name, "g" + std::to_string(k));
    EXPECT_EQ(sec.depth, k);
    EXPECT_EQ(sec.end_line, 281 - k) << sec.name;  // the first 8 endgroups closed g39…g32
  }
  EXPECT_EQ(s.sections.back().name, "after");
  EXPECT_EQ(s.sections.back().depth, 0u);
  EXPECT_EQ(s.sections.back().end_line, 283u);
  EXPECT_EQ(nlohmann::json::parse(SummaryToJson(s))["sections_omitted"], 76);
}

TEST(Summary, SectionCountAndTitlesAreBounded) {
  std::string log;
  for (int i = 0; i < 10005; ++i) log += "::group::g" + std::to_string(i) + "\n::endgroup::\n";
  log += "error: after them all\n";
  Summary s = Summarize(log);
  ASSERT_EQ(s.sections.size(), 10000u);
  EXPECT_EQ(s.sections_omitted, 5u);
  EXPECT_EQ(s.sections.back().end_line, 20000u);
  EXPECT_EQ(First(s).section, "");  // the groups not kept were closed by their own markers
  EXPECT_EQ(First(s).line, 20011u);

  // A title of 10 KB is cut; the marker that closes it still names it in full (lines are read
  // up to 64 KB: see HugeSingleLineAndInvalidUtf8).
  const std::string file(10000, 'a');
  s = Summarize("## Begin " + file + " Mon\nx\n## End " + file + " Mon (5s)\n" +
                "\x1b[0Ksection_start:1:" + file + "\r\x1b[0K\ny\n\x1b[0Ksection_end:2:" + file +
                "\r\x1b[0K\n");
  ASSERT_EQ(s.sections.size(), 2u);
  EXPECT_LE(s.sections[0].title.size(), 403u);
  EXPECT_LE(s.sections[0].name.size(), 403u);
  EXPECT_EQ(s.sections[0].end_line, 3u);
  EXPECT_EQ(s.sections[0].seconds, 5);
  EXPECT_LE(s.sections[1].name.size(), 403u);
  EXPECT_EQ(s.sections[1].syntax, "gitlab");
  EXPECT_EQ(s.sections[1].end_line, 6u);
  EXPECT_EQ(s.sections_omitted, 0u);
}

TEST(Summary, HeaderFacts) {
  Summary s = Summarize(
      "Finished building on alibuild3.cern.ch at 2026-11-18-13:24:03\n"
      "Built commit 0c5c7fd0a6a3a4506513270e269e0d37f2a74de4 from "
      "https://github.com/AliceO2Group/AliceO2/pull/12296\n"
      "Nomad allocation: https://alinomad.cern.ch/ui/allocations/d23f\n"
      "No logs found. Please check the aurora log.\n");
  EXPECT_EQ(s.header.host, "alibuild3.cern.ch");
  EXPECT_EQ(s.header.finished, "2026-11-18-13:24:03");
  EXPECT_EQ(s.header.commit, "0c5c7fd0a6a3a4506513270e269e0d37f2a74de4");
  EXPECT_EQ(s.header.repo, "AliceO2Group/AliceO2");
  EXPECT_EQ(s.header.pr, "12296");
  EXPECT_EQ(s.header.nomad_url, "https://alinomad.cern.ch/ui/allocations/d23f");
  EXPECT_EQ(s.verdict, "broken-builder");
}

TEST(Summary, LineNumbersCrlfProgressAndNoTrailingNewline) {
  std::string log = "ok\r\n10%\r50%\r100% done\r\nx.c:1:1: error: last";
  for (size_t step : {1, 2, 3, 7, 1000}) {
    Summary s = SummarizeInSteps(log, step);
    EXPECT_EQ(s.lines, 3u) << step;
    ASSERT_EQ(s.errors.size(), 1u) << step;
    EXPECT_EQ(s.errors[0].line, 3u) << step;
    EXPECT_EQ(s.errors[0].text, "x.c:1:1: error: last");
  }
  // A progress redraw that ends in an error shows what the terminal showed last.
  Summary s = Summarize("building 10%\rx.c:1:1: error: after redraw\n");
  EXPECT_EQ(First(s).text, "x.c:1:1: error: after redraw");
}

TEST(Summary, EmptyLogAndTheTailWhenNothingIsFound) {
  Summary empty = Summarize("");
  EXPECT_EQ(empty.lines, 0u);
  EXPECT_EQ(empty.verdict, "no-errors-found");
  EXPECT_EQ(empty.tail_to, 0u);
  std::string log = "## Begin sw/BUILD/O2-latest/log t\n";
  for (int i = 0; i < 50; ++i) log += "line\n";
  log += "## End sw/BUILD/O2-latest/log t (1s)\n";
  Summary s = Summarize(log);
  EXPECT_EQ(s.tail_to, 52u);
  EXPECT_EQ(s.tail_from, 23u);
}

TEST(Summary, HugeSingleLineAndInvalidUtf8) {
  std::string line(10 << 20, 'a');
  line += " error: never looked at, past the classified prefix";
  std::string log = "x.c:1:1: error: \xff\xfe bad bytes\n" + line + "\nend\n";
  Summary s = SummarizeInSteps(log, 1 << 20);
  EXPECT_EQ(s.lines, 3u);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].text, "x.c:1:1: error: \xEF\xBF\xBD\xEF\xBF\xBD bad bytes");
  auto json = nlohmann::json::parse(SummaryToJson(s));  // valid UTF-8 JSON
  EXPECT_EQ(json["errors"][0]["line"], 1);
}

// Only a line's first max_classified_line_bytes are read, the same whether the line came in one
// read or straddled many (a line straddling reads is carried, and a 300 MB line once cost
// 823 MB to summarise): what is past the cut is never an error, even when it straddles it.
TEST(Summary, LongLinesAreReadToTheirCutWhateverTheReads) {
  AnalyzerOptions options;
  options.max_classified_line_bytes = 600;
  const std::string log =
      "error: first " + std::string(2000, 'a') + "\n" +                                // 1
      std::string(700, 'x') + " /src/b.cxx:3:1: error: beyond the cut\n" +             // 2
      std::string(590, 'y') + " /src/c.cxx:3:1: error: across the cut\n" +             // 3
      "## Begin pkg " + std::string(1000, 'b') + "\n" +                                // 4
      "/src/a.cxx:2:2: warning: unused variable [-Wunused]\n## End pkg\n" +            // 5, 6
      "::group::" + std::string(3000, 'c') + "\n" +                                    // 7
      "/src/a.cxx:1:1: fatal error: x.h: No such file or directory\n::endgroup::\n" +  // 8, 9
      std::string(5000, 'z');                                                          // 10
  auto summarize = [&](size_t step) {
    Analyzer analyzer(options);
    for (size_t at = 0; at < log.size(); at += step) analyzer.Feed(log.substr(at, step));
    return analyzer.Finish(log.size());
  };
  const Summary whole = summarize(log.size());
  const std::string expected = SummaryToJson(whole);
  for (size_t step : {1, 3, 64, 599, 600, 601, 4096}) {
    EXPECT_EQ(SummaryToJson(summarize(step)), expected) << step;
  }
  EXPECT_EQ(whole.lines, 10u);
  EXPECT_EQ(whole.read_bytes, log.size());
  std::vector<uint64_t> lines;
  for (const Finding& f : whole.errors) lines.push_back(f.line);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<uint64_t>{1, 8}));  // not 2 (past the cut) nor 3 (across it)
  ASSERT_EQ(whole.sections.size(), 2u);
  EXPECT_EQ(whole.sections[0].end_line, 6u);
  EXPECT_EQ(whole.sections[0].warnings, 1u);
  EXPECT_EQ(whole.sections[1].end_line, 9u);
  EXPECT_EQ(whole.sections[1].errors, 1u);
}

TEST(WholeLines, EveryLineIsCutAndALongOneIsNeverHeldWhole) {
  WholeLines chunker(600);
  std::string seen;
  size_t largest_block = 0;
  auto collect = [&](std::string_view block) {
    seen += block;
    largest_block = std::max(largest_block, block.size());
  };
  const std::string kib(1024, 'a');
  for (int i = 0; i < 10 * 1024; ++i) chunker.Feed(kib, collect);  // a 10 MB line, 1 KB a read
  chunker.Feed("\nshort\n" + std::string(2000, 'b') + "\n" + std::string(700, 'c'), collect);
  chunker.Flush(collect);
  EXPECT_EQ(seen, std::string(600, 'a') + "\nshort\n" + std::string(600, 'b') + "\n" +
                      std::string(600, 'c'));
  EXPECT_LE(largest_block, 601u + 6u + 601u);
}

TEST(Summary, ReadLimitIsReported) {
  AnalyzerOptions options;
  options.max_read_bytes = 10;
  Analyzer analyzer(options);
  EXPECT_FALSE(analyzer.Feed("line one\nline two error: x\n"));
  Summary s = analyzer.Finish(28);
  EXPECT_EQ(s.read_bytes, 10u);
  EXPECT_EQ(s.total_bytes, 28u);
}

TEST(Summary, MaskingForDeduplication) {
  EXPECT_EQ(MaskForDedup("/sw/BUILD/abc123def/O2/a.cxx:12:5: error: x"), "a.cxx:#:#: error: x");
  EXPECT_EQ(MaskForDedup("[2026-11-18 13:24:03] Error: disk 3 full"), "Error: disk # full");
  EXPECT_EQ(MaskForDedup("at 0x7ffd12345678 in f"), "at #x# in f");
}

TEST(Summary, JsonShape) {
  auto j = nlohmann::json::parse(SummaryToJson(Summarize("a\nb.c:1:1: error: x\n")));
  EXPECT_EQ(j["verdict"], "failed");
  EXPECT_EQ(j["total_bytes"], 20);
  EXPECT_EQ(j["read_bytes"], 20);
  EXPECT_EQ(j["errors"][0]["kind"], "compile-error");
  EXPECT_EQ(j["errors"][0]["context"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(j["errors"][0]["count"], 1);
  EXPECT_TRUE(j["warnings"].is_array());
}

std::vector<uint64_t> Find(std::string_view log, const SearchQuery& q, size_t step = 1 << 20) {
  auto searcher = Searcher::Create(q);
  EXPECT_TRUE(searcher.has_value());
  for (size_t at = 0; at < log.size(); at += step) (*searcher)->Feed(log.substr(at, step));
  return (*searcher)->Finish().lines;
}

// A line longer than the pieces it is fed in is searched in its first kMaxSearchedLineBytes
// (a search held the whole line before: a 300 MB line cost 554 MB), and the offsets after it
// stay those of the stored bytes.
TEST(Search, ALongLineIsSearchedToItsCutAndOffsetsStayTrue) {
  const size_t mib = 1 << 20;
  std::string first(10 * mib, 'x'), second(10 * mib, 'y');
  first.replace(mib, 6, "needle");                           // within the cut: found
  second.replace(kMaxSearchedLineBytes + mib, 6, "needle");  // past it: not
  const std::string log = "short\n" + first + "\n" + second + "\nneedle at the end\n";
  for (bool regex : {false, true}) {
    for (bool count : {true, false}) {
      SearchQuery q{regex ? "ne+dle" : "needle"};
      q.regex = regex;
      q.count_lines = count;
      auto searcher = Searcher::Create(q).value();
      for (size_t at = 0; at < log.size(); at += 64 * 1024)
        searcher->Feed(log.substr(at, 64 * 1024));
      SearchResult r = searcher->Finish();
      if (count) {
        EXPECT_EQ(r.lines, (std::vector<uint64_t>{2, 4})) << regex;
      }
      EXPECT_EQ(r.offsets, (std::vector<uint64_t>{6, 6 + first.size() + 1 + second.size() + 1}))
          << regex << count;
    }
  }
  // Stopped at the long line: the search continues after its true end.
  SearchQuery q{"needle"};
  q.count_lines = false;
  q.max_matches = 1;
  auto searcher = Searcher::Create(q).value();
  for (size_t at = 0; at < log.size(); at += 64 * 1024) searcher->Feed(log.substr(at, 64 * 1024));
  SearchResult r = searcher->Finish();
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.next_offset, 6 + first.size() + 1);
}

TEST(Search, LiteralRegexCaseAndContinuation) {
  std::string log = "alpha\nBeta beta\ngamma\r\nbeta\nlast beta";
  EXPECT_EQ(Find(log, {"beta"}), (std::vector<uint64_t>{2, 4, 5}));
  EXPECT_EQ(Find(log, {"beta"}, 1), (std::vector<uint64_t>{2, 4, 5}));
  EXPECT_EQ(Find(log, {"BETA", false, true}), (std::vector<uint64_t>{2, 4, 5}));
  EXPECT_EQ(Find(log, {"^b", true}), (std::vector<uint64_t>{4}));
  EXPECT_EQ(Find(log, {"a$", true}), (std::vector<uint64_t>{1, 2, 4, 5}));  // line 3 ends \r
  EXPECT_EQ(Find(log, {"gamma.*beta", true}), (std::vector<uint64_t>{}));   // never across lines
  // Continuation: the second page starts where the first stopped.
  auto searcher = Searcher::Create({"beta", false, false, 1, 2}).value();
  searcher->Feed(log);
  SearchResult page = searcher->Finish();
  EXPECT_EQ(page.lines, (std::vector<uint64_t>{2, 4}));
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_line, 5u);
  EXPECT_EQ(Find("beta", {"beta", false, false, 5}), (std::vector<uint64_t>{5}));
}

TEST(Search, LiteralFoundWhereverItsRareByteFalls) {
  // The literal search jumps between occurrences of the needle's least common byte ('z' or
  // 'Q' here) and compares around them: needles at block edges, overlapping false starts,
  // and the rare byte first, last or repeated must all be found, at any chunking.
  std::string log = "zzz-az\nxaQ\nQaQaQ\naQa\nend zz";
  for (size_t step : {1ul, 2ul, 5ul, 64ul}) {
    EXPECT_EQ(Find(log, {"az"}, step), (std::vector<uint64_t>{1})) << step;
    EXPECT_EQ(Find(log, {"zz"}, step), (std::vector<uint64_t>{1, 5})) << step;
    EXPECT_EQ(Find(log, {"QaQ"}, step), (std::vector<uint64_t>{3})) << step;
    EXPECT_EQ(Find(log, {"aQa"}, step), (std::vector<uint64_t>{3, 4})) << step;
    EXPECT_EQ(Find(log, {"xaQ"}, step), (std::vector<uint64_t>{2})) << step;
    EXPECT_EQ(Find(log, {"end zz"}, step), (std::vector<uint64_t>{5})) << step;
    EXPECT_EQ(Find(log, {"end zzz"}, step), (std::vector<uint64_t>{})) << step;
    EXPECT_EQ(Find(log, {"Q\nQ"}, step), (std::vector<uint64_t>{})) << step;
  }
}

// Where the rarest byte is common the search compares 32 starts at a time on two bytes; the
// needle must still be found at every position, including the last start of a block and lines
// that hold both bytes at the wrong distance.
TEST(Search, LiteralFoundAmongManyFalseStarts) {
  const std::string needle = "matching function";  // rarest 'g', then 'f'
  std::string filler;
  while (filler.size() < 20000) filler += "-g -fPIC -g matchin function gf ";
  for (size_t at : {0ul, 1ul, 31ul, 32ul, 33ul, 8191ul, 8192ul, 12345ul, filler.size()}) {
    std::string log = filler;
    log.insert(at, needle);
    log = "a\n" + log + "\nb " + filler + "\n" + needle;
    for (size_t step : {1ul << 20, 4096ul}) {
      EXPECT_EQ(Find(log, {needle}, step), (std::vector<uint64_t>{2, 4})) << at << " " << step;
      SearchQuery raw{needle};
      raw.raw_bytes = true;
      EXPECT_EQ(Find(log, raw, step), (std::vector<uint64_t>{2, 4})) << at << " " << step;
    }
  }
  std::string none = filler + filler;
  EXPECT_EQ(Find(none, {needle}), (std::vector<uint64_t>{}));
}

TEST(Search, OffsetsWithoutCountingLines) {
  SearchQuery q{"beta"};
  q.first_offset = 1000;
  q.count_lines = false;
  q.max_matches = 2;
  auto searcher = Searcher::Create(q).value();
  searcher->Feed("alpha\nbeta\nbeta x\nbeta\n");
  SearchResult r = searcher->Finish();
  EXPECT_TRUE(r.lines.empty());
  EXPECT_EQ(r.offsets, (std::vector<uint64_t>{1006, 1011}));
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.next_offset, 1018u);
}

// gcc colours `error:` and the quoted names; the reader pastes what the screen shows.
TEST(Search, MatchesTheVisibleTextOfColouredLines) {
  std::string log =
      "plain error: no matching function\n"
      "\x1b[01m\x1b[Kfoo.cxx:3:4:\x1b[m\x1b[K \x1b[01;31m\x1b[Kerror: \x1b[m\x1b[Kno matching "
      "function for call to '\x1b[01m\x1b[Kf(int)\x1b[m\x1b[K'\n"
      "\x1b[32mgreen\x1b[0m only\n"
      "last error: no matching function";
  for (size_t step : {1ul, 7ul, 1ul << 20}) {
    EXPECT_EQ(Find(log, {"error: no matching function"}, step), (std::vector<uint64_t>{1, 2, 4}))
        << step;
    EXPECT_EQ(Find(log, {"foo.cxx:3:4: error: no matching function for call to 'f(int)'"}, step),
              (std::vector<uint64_t>{2}));
    EXPECT_EQ(Find(log, {"ERROR: NO MATCHING", false, true}, step),
              (std::vector<uint64_t>{1, 2, 4}));
    EXPECT_EQ(Find(log, {"^error: no", true}, step), (std::vector<uint64_t>{}));
    EXPECT_EQ(Find(log, {"^green only$", true}, step), (std::vector<uint64_t>{3}));
    // The escape sequences themselves are not visible text, even where the bytes match.
    EXPECT_EQ(Find(log, {"[01;31m"}, step), (std::vector<uint64_t>{}));
    EXPECT_EQ(Find(log, {"32mgreen"}, step), (std::vector<uint64_t>{}));
    EXPECT_EQ(Find(log, {"GREEN ONLY", false, true}, step), (std::vector<uint64_t>{3}));
    EXPECT_EQ(Find(log, {"g?reen o", true}, step), (std::vector<uint64_t>{3}));
    SearchQuery raw{"[01;31m"};
    raw.raw_bytes = true;
    EXPECT_EQ(Find(log, raw, step), (std::vector<uint64_t>{2}));
  }
  // Line numbers and the cap stay right around coloured lines.
  SearchQuery capped{"only"};
  capped.max_matches = 1;
  auto searcher = Searcher::Create(capped).value();
  searcher->Feed(log + "\nonly\n");
  SearchResult r = searcher->Finish();
  EXPECT_EQ(r.lines, (std::vector<uint64_t>{3}));
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.next_line, 4u);
}

// Coloured lines are found by the literal's rarest byte ('z') when it is rare in the block, and
// by walking every coloured line when it is common: both ways find the same lines.
TEST(Search, ColouredMatchesFoundWhetherTheRareByteIsRareOrCommon) {
  const std::string coloured = "\x1b[01;31m\x1b[Kzip:\x1b[m\x1b[K no\x1b[1m match\x1b[m\n";
  const std::string decoy = "\x1b[32mzip: no\x1b[0m mat ch\n";  // the bytes, not the text
  // Invalid UTF-8 shows as U+FFFD, bytes the stored line does not hold (found by the fuzzer).
  EXPECT_EQ(Find("ro~\x1b[\xca\xb4\xd3\xab\n--- ", {"\xef\xbf\xbd"}), (std::vector<uint64_t>{1}));
  // ... which makes the visible line longer than the stored one: a match can end past it.
  EXPECT_EQ(Find("_r\x1b"
                 "e%\xa4",
                 {"%\xef\xbf"}),
            (std::vector<uint64_t>{1}));
  for (size_t filler_lines : {0ul, 20000ul}) {
    std::string log = "zip: no match\n" + decoy + coloured;
    for (size_t i = 0; i < filler_lines; ++i) log += "zz zz\n";  // common 'z': the walk
    log += coloured + decoy + "plain zip: no match";
    const uint64_t total = filler_lines + 6;
    for (size_t step : {3ul, 1ul << 20}) {
      EXPECT_EQ(Find(log, {"zip: no match"}, step), (std::vector<uint64_t>{1, 3, total - 2, total}))
          << filler_lines << " " << step;
    }
  }
}

TEST(Search, LastMatchesInsteadOfFirst) {
  std::string log;
  for (int i = 1; i <= 50; ++i) log += (i % 3 == 0 ? "hit " : "miss ") + std::to_string(i) + "\n";
  for (size_t step : {1ul, 7ul, 1ul << 20}) {
    SearchQuery q{"hit"};
    q.count_lines = false;
    q.last = true;
    q.max_matches = 4;  // of 16 matches (lines 3, 6, …, 48): the last four
    auto searcher = Searcher::Create(q).value();
    for (size_t at = 0; at < log.size(); at += step) searcher->Feed(log.substr(at, step));
    SearchResult r = searcher->Finish();
    ASSERT_EQ(r.offsets.size(), 4u) << step;
    EXPECT_EQ(log.substr(r.offsets.front(), 6), "hit 39") << step;
    EXPECT_EQ(log.substr(r.offsets.back(), 6), "hit 48") << step;
    EXPECT_TRUE(r.earlier);
    EXPECT_FALSE(r.truncated);
  }
}

TEST(Search, BadQueriesAreRejected) {
  EXPECT_FALSE(Searcher::Create({""}).has_value());
  EXPECT_FALSE(Searcher::Create({std::string(1001, 'a')}).has_value());
  auto bad = Searcher::Create({"(unclosed", true});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("missing )"), std::string::npos) << bad.error().message();
}

TEST(Gunzip, DecodesMembersAndReportsTruncationAndBombs) {
  // "hello\n" gzip-compressed (gzip -n), twice concatenated.
  const unsigned char member[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00,
                                  0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00};
  std::string one(reinterpret_cast<const char*>(member), sizeof member);
  std::string out;
  GzipDecoder gz;
  ASSERT_TRUE(gz.Feed(one + one, [&](std::string_view s) { out += s; }).ok());
  EXPECT_TRUE(gz.Finish().ok());
  EXPECT_EQ(out, "hello\nhello\n");

  GzipDecoder truncated;
  ASSERT_TRUE(truncated.Feed(one.substr(0, 15), [](std::string_view) {}).ok());
  EXPECT_FALSE(truncated.Finish().ok());

  GzipDecoder capped(8);
  out.clear();
  ASSERT_TRUE(capped.Feed(one + one, [&](std::string_view s) { out += s; }).ok());
  EXPECT_TRUE(capped.limit_reached());
  EXPECT_EQ(out, "hello\nhe");

  GzipDecoder garbage;
  EXPECT_FALSE(garbage.Feed("not gzip at all", [](std::string_view) {}).ok());
}

// The prefixes CI systems put on every line: the rules see what follows them.
TEST(Summary, CiPrefixesAreSkippedForMatching) {
  EXPECT_EQ(CiPrefixLength("2022-05-30T09:11:02.8576463Z make"), 29u);
  EXPECT_EQ(CiPrefixLength("build\tRun tests\t2022-05-30T09:11:02.8576463Z make"), 45u);
  EXPECT_EQ(CiPrefixLength("2024-01-05T10:00:00.123456Z 00O make"), 32u);
  EXPECT_EQ(CiPrefixLength("2024-01-05T10:00:00.123456Z 01E+ make"), 33u);
  EXPECT_EQ(CiPrefixLength("[2022-05-30T09:11:02.857Z] make"), 27u);
  EXPECT_EQ(CiPrefixLength("[09:11:02] make"), 11u);
  EXPECT_EQ(CiPrefixLength("09:11:02 make"), 9u);
  EXPECT_EQ(CiPrefixLength("2022-05-30T09:11:02+02:00 make"), 26u);
  for (const char* none : {"make", "", "[ERROR] x", "2022-05-30 09:11:02 x", "12:34 x", "a\tb\tc",
                           "[09:11:02]x", "2022-05-30T09:11:02.8576463Zmake"}) {
    EXPECT_EQ(CiPrefixLength(none), 0u) << none;
  }
  const char* cases[][2] = {
      {"2022-05-30T09:11:02.8576463Z ##[error]Process completed with exit code 1.", "ci-exit"},
      {"build\tRun tests\t2022-05-30T09:11:02.8576463Z FAILED tests/a.py::t - x", "test-failure"},
      {"2024-01-05T10:00:00.123456Z 00O ERROR: Job failed: exit code 1", "ci-exit"},
      {"[2022-05-30T09:11:02.857Z] [ERROR] Failed to execute goal x", "build-failed"},
      {"09:11:02 CMake Error at CMakeLists.txt:3 (message):", "cmake"},
      {"2022-05-30T09:11:02.1Z Error: the package could not be built", "error"},
      {"2022-05-30T09:11:02.1Z FAIL\tgithub.com/x/y\t0.005s", "build-failed"},
  };
  for (const auto& c : cases) {
    Summary s = Summarize(std::string("2022-05-30T09:11:01.0Z some output\n") + c[0] +
                          "\n2022-05-30T09:11:03.0Z more output\n");
    ASSERT_EQ(s.errors.size(), 1u) << c[0];
    EXPECT_EQ(s.errors[0].kind, c[1]) << c[0];
    EXPECT_EQ(s.errors[0].line, 2u) << c[0];
  }
}

TEST(Summary, GradleWhatWentWrongSaysWhatWentWrong) {
  Summary s = Summarize(
      "FAILURE: Build failed with an exception.\n\n* What went wrong:\nExecution failed for task "
      "':core:compileJava'.\n> Compilation failed; see the compiler error output for details.\n");
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors.front().line, 3u);
  EXPECT_EQ(s.errors.front().text,
            "* What went wrong: Execution failed for task ':core:compileJava'.");
  EXPECT_GE(s.errors.front().context_to, 5u);  // the message and what follows it
}

TEST(Summary, ToolBoilerplateIsNeverAFinding) {
  Summary s = Summarize(
      "[ERROR] -> [Help 1]\n[ERROR] \n[ERROR] To see the full stack trace of the errors, re-run "
      "Maven with the -e switch.\n[ERROR] Re-run Maven using the -X switch to enable full debug "
      "logging.\n[ERROR] For more information about the errors and possible solutions, please "
      "read the following articles:\n[ERROR] [Help 1] "
      "http://cwiki.apache.org/confluence/display/MAVEN/MojoFailureException\n");
  EXPECT_TRUE(s.errors.empty()) << s.errors.front().text;
}

// The cause comes first, the tools' consequences after it, whatever their order in the log.
TEST(Summary, CausesRankAboveTheirConsequences) {
  struct Case {
    const char* name;
    std::string log;
    uint64_t decisive_line;
  };
  const std::string ts = "2022-05-30T09:11:02.8576463Z ";
  const Case cases[] = {
      {"maven",
       "[INFO] Compiling 12 source files\n"
       "[ERROR] COMPILATION ERROR : \n"
       "[ERROR] /w/src/main/java/org/x/A.java:[23,29] cannot find symbol\n"
       "  symbol:   variable foo\n"
       "[INFO] BUILD FAILURE\n"
       "[ERROR] Failed to execute goal "
       "org.apache.maven.plugins:maven-compiler-plugin:3.8.1:compile\n"
       "[ERROR] -> [Help 1]\n",
       3},
      {"maven surefire",
       "[INFO] Running org.x.ATest\n"
       "[ERROR] Tests run: 3, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.1 s <<< FAILURE! "
       "- in org.x.ATest\n"
       "[ERROR] testFoo(org.x.ATest)  Time elapsed: 0.01 s  <<< FAILURE!\n"
       "java.lang.AssertionError: expected:<1> but was:<2>\n"
       "[ERROR] Failed to execute goal "
       "org.apache.maven.plugins:maven-surefire-plugin:2.22.2:test\n",
       2},
      {"gradle",
       "> Task :core:compileJava\n"
       "ATest > testX() FAILED\n"
       "    org.opentest4j.AssertionFailedError: expected: <1> but was: <2>\n"
       "> Task :core:test FAILED\n"
       "FAILURE: Build failed with an exception.\n"
       "* What went wrong:\n"
       "Execution failed for task ':core:test'.\n",
       2},
      {"github actions, pytest",
       ts + "##[group]Run pytest\n" + ts + "============ FAILURES ============\n" + ts +
           "E       assert 1 == 2\n" + ts + "FAILED tests/test_a.py::test_b - assert 1 == 2\n" +
           ts + "======= 1 failed, 3 passed in 0.12s =======\n" + ts + "##[endgroup]\n" + ts +
           "##[error]Process completed with exit code 1.\n",
       4},
      {"cargo",
       "   Compiling foo v0.1.0\n"
       "error[E0425]: cannot find value `x` in this scope\n"
       " --> src/main.rs:2:13\n"
       "error: could not compile `foo` due to previous error\n",
       2},
      {"go",
       "=== RUN   TestAdd\n"
       "    add_test.go:9: got 3, want 4\n"
       "--- FAIL: TestAdd (0.00s)\n"
       "FAIL\n"
       "FAIL\tgithub.com/x/y\t0.005s\n",
       3},
      {"gitlab",
       "$ git fetch origin\n"
       "fatal: could not read Username for 'https://gitlab.example': No such device\n"
       "ERROR: Job failed: exit code 1\n",
       2},
  };
  for (const Case& c : cases) {
    Summary s = Summarize(c.log);
    ASSERT_FALSE(s.errors.empty()) << c.name;
    EXPECT_EQ(s.errors.front().line, c.decisive_line) << c.name << ": " << s.errors.front().text;
    EXPECT_EQ(s.verdict, "failed") << c.name;
  }
}

}  // namespace
}  // namespace logbucket::logs
