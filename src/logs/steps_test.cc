// CI steps and times in the error summary: the time of a line from its CI prefix, the steps of
// a GitHub Actions job (raw and downloaded) and of a Jenkins pipeline as sections with their
// durations, and the failing step's first cause ranked first.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "logs/rules.h"
#include "logs/summary.h"
#include "logs/summary_testing.h"

namespace logbucket::logs {
namespace {

const Section* FindSection(const Summary& s, std::string_view name) {
  for (const Section& sec : s.sections) {
    if (sec.name == name) return &sec;
  }
  return nullptr;
}

TEST(CiTime, PrefixesGiveTheTimeAndTheStep) {
  CiPrefix p = ParseCiPrefix("2022-05-30T09:11:02.8576463Z make");
  EXPECT_EQ(p.time, "2022-05-30T09:11:02.8576463Z");
  EXPECT_EQ(p.step, "");
  p = ParseCiPrefix("build\tRun tests\t2022-05-30T09:11:02.8576463Z make");
  EXPECT_EQ(p.time, "2022-05-30T09:11:02.8576463Z");
  EXPECT_EQ(p.step, "Run tests");
  EXPECT_EQ(ParseCiPrefix("[09:11:02] make").time, "09:11:02");
  EXPECT_EQ(ParseCiPrefix("09:11:02 make").time, "09:11:02");
  EXPECT_EQ(ParseCiPrefix("[2022-05-30T09:11:02.857Z] make").time, "2022-05-30T09:11:02.857Z");
  EXPECT_EQ(ParseCiPrefix("2024-01-05T10:00:00.123456Z 00O+ make").time,
            "2024-01-05T10:00:00.123456Z");
  // A raw GitHub log's first line carries a byte-order mark.
  p = ParseCiPrefix(
      "\xEF\xBB\xBF"
      "2022-05-30T09:11:02.1Z Requested labels: ubuntu-latest");
  EXPECT_EQ(p.time, "2022-05-30T09:11:02.1Z");
  EXPECT_EQ(p.length, 26u);
  EXPECT_EQ(ParseCiPrefix("\xEF\xBB\xBF").length, 0u);
  EXPECT_EQ(ParseCiPrefix("make 2022-05-30T09:11:02Z").time, "");
}

TEST(CiTime, SecondsBetweenTimes) {
  EXPECT_DOUBLE_EQ(CiSecondsBetween("2022-05-30T09:11:02.25Z", "2022-05-30T09:12:03.75Z"), 61.5);
  // Across a month's end, and with offsets (10:00+02:00 is 08:00Z).
  EXPECT_DOUBLE_EQ(CiSecondsBetween("2024-02-29T23:59:00Z", "2024-03-01T00:01:00Z"), 120);
  EXPECT_DOUBLE_EQ(CiSecondsBetween("2022-05-30T07:59:00Z", "2022-05-30T10:00:00+02:00"), 60);
  EXPECT_DOUBLE_EQ(CiSecondsBetween("09:11:02", "09:13:02"), 120);
  EXPECT_DOUBLE_EQ(CiSecondsBetween("23:59:30", "00:00:15"), 45);       // past midnight
  EXPECT_EQ(CiSecondsBetween("09:11:02", "2022-05-30T09:12:03Z"), -1);  // two kinds of time
  EXPECT_EQ(CiSecondsBetween("", "09:11:02"), -1);
  EXPECT_EQ(CiSecondsBetween("2022-05-30T09:12:03Z", "2022-05-30T09:11:03Z"), -1);  // backwards
}

// A raw GitHub Actions job log ("View raw logs"): each step is `##[group]Run …` (its command and
// environment, grouped) followed by its output; the failing step ends with the runner's
// "Process completed with exit code 1"; the post steps run anyway.
const char* const kGithubRaw =
    "\xEF\xBB\xBF"
    "2024-03-01T10:00:00.0000000Z Requested labels: ubuntu-latest\n"
    "2024-03-01T10:00:00.1000000Z Job defined at: org/app/.github/workflows/ci.yml@refs/pull/7\n"
    "2024-03-01T10:00:01.0000000Z ##[group]Run actions/checkout@v4\n"
    "2024-03-01T10:00:01.1000000Z with:\n"
    "2024-03-01T10:00:01.2000000Z ##[endgroup]\n"
    "2024-03-01T10:00:03.0000000Z Syncing repository: org/app\n"
    "2024-03-01T10:00:05.0000000Z ##[group]Run mvn -B verify\n"
    "2024-03-01T10:00:05.1000000Z mvn -B verify\n"
    "2024-03-01T10:00:05.2000000Z ##[endgroup]\n"
    "2024-03-01T10:00:40.0000000Z [INFO] Compiling 12 source files\n"
    "2024-03-01T10:01:02.0000000Z [ERROR] /home/runner/work/app/src/main/java/a/B.java:[23,29] "
    "cannot find symbol\n"
    "2024-03-01T10:01:02.1000000Z [ERROR]   symbol:   method frob()\n"
    "2024-03-01T10:01:03.0000000Z [INFO] BUILD FAILURE\n"
    "2024-03-01T10:01:03.1000000Z [ERROR] Failed to execute goal org.apache.maven.plugins:maven-"
    "compiler-plugin:3.11.0:compile (default-compile) on project app: Compilation failure\n"
    "2024-03-01T10:01:03.2000000Z [ERROR] -> [Help 1]\n"
    "2024-03-01T10:01:05.0000000Z ##[error]Process completed with exit code 1.\n"
    "2024-03-01T10:01:06.0000000Z Post job cleanup.\n"
    "2024-03-01T10:01:06.5000000Z [command]/usr/bin/git version\n"
    "2024-03-01T10:01:07.0000000Z Error: fatal: No url found for submodule path 'x' in "
    ".gitmodules\n"
    "2024-03-01T10:01:08.0000000Z Cleaning up orphan processes\n";

TEST(CiSteps, GithubRawLogStepsTimesAndTheFailingStep) {
  for (size_t step : {size_t{1}, size_t{7}, size_t{1} << 20}) {
    Summary s = SummarizeInSteps(kGithubRaw, step);
    ASSERT_EQ(s.sections.size(), 3u) << step;
    const Section* checkout = FindSection(s, "Run actions/checkout@v4");
    const Section* build = FindSection(s, "Run mvn -B verify");
    const Section* post = FindSection(s, "Post job cleanup");
    ASSERT_TRUE(checkout && build && post);
    EXPECT_EQ(checkout->syntax, "step");
    EXPECT_EQ(checkout->begin_line, 3u);
    EXPECT_EQ(checkout->end_line, 6u);  // the output after its group belongs to it
    EXPECT_EQ(checkout->seconds, 4);    // 10:00:01 → the next step's 10:00:05
    EXPECT_EQ(build->begin_line, 7u);
    EXPECT_EQ(build->end_line, 16u);
    EXPECT_EQ(build->seconds, 61);
    EXPECT_EQ(build->time, "2024-03-01T10:00:05.0000000Z");
    EXPECT_EQ(post->seconds, 2);  // to the last line's time
    EXPECT_EQ(post->end_line, 20u);
    EXPECT_TRUE(build->failed);
    EXPECT_FALSE(post->failed);
    EXPECT_EQ(s.first_time, "2024-03-01T10:00:00.0000000Z");
    EXPECT_EQ(s.last_time, "2024-03-01T10:01:08.0000000Z");
    // The compiler's error in the failing step, not the cleanup's "Error:", not the exit code.
    ASSERT_GE(s.errors.size(), 3u);
    EXPECT_EQ(s.errors[0].line, 11u);
    EXPECT_EQ(s.errors[0].kind, "compile-error");
    EXPECT_EQ(s.errors[0].time, "2024-03-01T10:01:02.0000000Z");
    EXPECT_EQ(s.errors[0].section, "Run mvn -B verify");
  }
  nlohmann::json j = nlohmann::json::parse(SummaryToJson(logs::Summarize(kGithubRaw)));
  EXPECT_EQ(j["errors"][0]["time"], "2024-03-01T10:01:02.0000000Z");
  EXPECT_EQ(j["errors"][0]["elapsed"], 62);
  EXPECT_EQ(j["first_time"], "2024-03-01T10:00:00.0000000Z");
  EXPECT_EQ(j["sections"][1]["seconds"], 61);
  EXPECT_EQ(j["sections"][1]["time"], "2024-03-01T10:00:05.0000000Z");
}

// The last CI time is that of the last line that has one (within the last 100 lines), however
// the log was cut into reads: found by the fuzzer, a log whose last lines had no time reported
// one when read in pieces and none when read whole.
TEST(CiTime, LastTimeDoesNotDependOnHowTheLogWasRead) {
  const std::string timed =
      "2024-03-01T10:00:00.0000000Z start\n"
      "2024-03-01T10:00:07.0000000Z the last line with a time\n";
  std::string untimed;
  for (int i = 0; i < 5; ++i) untimed += "plain line " + std::to_string(i) + "\n";
  for (size_t step : {size_t{1}, size_t{5}, size_t{17}, size_t{1} << 20}) {
    Summary s = SummarizeInSteps(timed + untimed, step);
    EXPECT_EQ(s.last_time, "2024-03-01T10:00:07.0000000Z") << step;
    EXPECT_EQ(s.first_time, "2024-03-01T10:00:00.0000000Z") << step;
  }
  // 100 untimed lines after it: no last time, whichever way it is read.
  for (int i = 5; i < 100; ++i) untimed += "plain line " + std::to_string(i) + "\n";
  for (size_t step : {size_t{1}, size_t{40}, size_t{1} << 20}) {
    EXPECT_EQ(SummarizeInSteps(timed + untimed, step).last_time, "") << step;
  }
  // 99: still found.
  untimed.resize(untimed.rfind("plain line 99"));
  for (size_t step : {size_t{1}, size_t{40}, size_t{1} << 20}) {
    EXPECT_EQ(SummarizeInSteps(timed + untimed, step).last_time, "2024-03-01T10:00:07.0000000Z")
        << step;
  }
}

// The same job as `gh run view --log` prints it: "job<TAB>step<TAB>time line". The step column
// makes the sections; its `##[group]Run` lines are then only groups inside them.
TEST(CiSteps, DownloadedJobLogStepColumn) {
  std::string log;
  auto add = [&](const char* step, int second, const char* text) {
    char time[40];
    std::snprintf(time, sizeof time, "2024-03-01T10:%02d:%02d.0000000Z", second / 60, second % 60);
    log += std::string("build\t") + step + "\t" + time + " " + text + "\n";
  };
  add("Set up job", 0, "Current runner version: '2.314.1'");
  add("Set up job", 2, "Complete job name: build");
  add("Run tests", 3, "##[group]Run pytest -q");
  add("Run tests", 3, "pytest -q");
  add("Run tests", 3, "##[endgroup]");
  for (int i = 0; i < 40; ++i) add("Run tests", 4, "tests/test_ok.py ....");
  add("Run tests", 30, "FAILED tests/test_io.py::test_read - AssertionError: assert b'' == b'x'");
  add("Run tests", 31, "======= 1 failed, 160 passed in 26.01s =======");
  add("Run tests", 31, "##[error]Process completed with exit code 1.");
  add("Post Run actions/checkout@v4", 32, "Post job cleanup.");
  add("Post Run actions/checkout@v4", 33, "##[error]fatal: could not read Username");
  add("Complete job", 35, "Cleaning up orphan processes");
  for (size_t step : {size_t{1}, size_t{13}, size_t{1} << 20}) {
    Summary s = SummarizeInSteps(log, step);
    std::vector<std::string> top;
    for (const Section& sec : s.sections) {
      if (sec.depth == 0) top.push_back(sec.name);
    }
    EXPECT_EQ(top, (std::vector<std::string>{"Set up job", "Run tests",
                                             "Post Run actions/checkout@v4", "Complete job"}))
        << step;
    const Section* tests = FindSection(s, "Run tests");
    ASSERT_NE(tests, nullptr);
    EXPECT_EQ(tests->begin_line, 3u);
    EXPECT_EQ(tests->end_line, 48u);
    EXPECT_EQ(tests->seconds, 29);  // 10:00:03 → 10:00:32
    EXPECT_TRUE(tests->failed);
    const Section* group = FindSection(s, "Run pytest -q");
    ASSERT_NE(group, nullptr);
    EXPECT_EQ(group->depth, 1u);
    EXPECT_EQ(group->end_line, 5u);
    // The failed test; the annotation in the (later) cleanup step ranks after it.
    ASSERT_FALSE(s.errors.empty());
    EXPECT_EQ(s.errors[0].kind, "test-failure") << s.errors[0].text;
    EXPECT_EQ(s.errors[0].line, 46u);
    EXPECT_EQ(s.errors[0].section, "Run tests");
  }
}

// Jenkins (timestamper, declarative pipeline): stages with their durations; the post actions
// run after the failure and what they report does not outrank the failing stage's error.
TEST(CiSteps, JenkinsStagesAndPostActions) {
  const char* log =
      "[2024-03-01T10:00:00.000Z] [Pipeline] { (Build)\n"
      "[2024-03-01T10:00:01.000Z] + make -j4\n"
      "[2024-03-01T10:02:00.000Z] src/io.c:12:5: error: 'fd' undeclared (first use in this "
      "function)\n"
      "[2024-03-01T10:02:00.500Z] make: *** [Makefile:20: io.o] Error 1\n"
      "[2024-03-01T10:02:01.000Z] [Pipeline] }\n"
      "[2024-03-01T10:02:01.000Z] [Pipeline] // stage\n"
      "[2024-03-01T10:02:01.100Z] [Pipeline] { (Declarative: Post Actions)\n"
      "[2024-03-01T10:02:02.000Z] ERROR: Test reports were found but none of them are new.\n"
      "[2024-03-01T10:02:03.000Z] [Pipeline] // stage\n"
      "[2024-03-01T10:02:04.000Z] ERROR: script returned exit code 2\n"
      "[2024-03-01T10:02:04.100Z] Finished: FAILURE\n";
  Summary s = Summarize(log);
  const Section* build = FindSection(s, "Build");
  ASSERT_NE(build, nullptr);
  EXPECT_EQ(build->seconds, 121);
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors[0].line, 3u) << s.errors[0].text;
  EXPECT_EQ(s.errors[0].kind, "compile-error");
  EXPECT_EQ(s.errors[0].time, "2024-03-01T10:02:00.000Z");
  // "script returned exit code" is the CI's consequence, ranked with the other consequences.
  bool exit_is_consequence = false;
  for (const Finding& f : s.errors) {
    if (f.line == 10) exit_is_consequence = f.kind == "ci-exit";
  }
  EXPECT_TRUE(exit_is_consequence);
}

}  // namespace
}  // namespace logbucket::logs
