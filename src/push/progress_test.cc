// push's progress: what a terminal and a CI log show while files go up.
#include "push/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace logbucket::push {
namespace {

// Everything Progress wrote to its FILE* so far.
class Captured {
 public:
  Captured() : file_(open_memstream(&data_, &size_)) {}
  ~Captured() {
    std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

TEST(Progress, ATerminalSeesBytesRateAndTimeLeftOverallAndPerFile) {
  Captured out;
  ManualClock clock(1'000'000);
  Progress p(Progress::Mode::kTerminal, 100'000'000, out.file(), &clock);
  p.Begin("o/r/1/sha/check/fullLog.txt", 80'000'000);
  clock.Advance(2'000);
  p.Add("o/r/1/sha/check/fullLog.txt", 20'000'000);  // 10 MB/s
  std::string line = out.text();
  EXPECT_NE(line.find("\r[####                ] 20% 20.0 MB of 100.0 MB, 10.0 MB/s, 8 s left"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("| fullLog.txt 25%, 6 s left"), std::string::npos) << line;
  // Redrawn at most ten times a second.
  p.Add("o/r/1/sha/check/fullLog.txt", 1);
  EXPECT_EQ(out.text(), line);
  clock.Advance(4'000);
  p.Add("o/r/1/sha/check/fullLog.txt", 60'000'000 - 1);
  p.Finish("o/r/1/sha/check/fullLog.txt");
  p.Begin("o/r/1/sha/check/summary.json", 20'000'000);
  clock.Advance(2'000);
  p.Add("o/r/1/sha/check/summary.json", 20'000'000);
  p.Finish("o/r/1/sha/check/summary.json");
  std::string all = out.text();
  EXPECT_NE(all.find("100% 100.0 MB of 100.0 MB, 12.5 MB/s"), std::string::npos) << all;
  EXPECT_EQ(all.back(), '\n');  // the terminal's line ends once everything is up
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 1);
}

TEST(Progress, ACiLogGetsOneLinePerFileAndNothingElse) {
  Captured out;
  ManualClock clock(5'000);
  Progress p(Progress::Mode::kLines, 30'000'000, out.file(), &clock);
  p.Begin("o/r/1/sha/check/fullLog.txt", 25'000'000);
  for (int i = 0; i < 5; ++i) {
    clock.Advance(1'000);
    p.Add("o/r/1/sha/check/fullLog.txt", 5'000'000);
  }
  EXPECT_EQ(out.text(), "");  // parts going up say nothing
  p.Finish("o/r/1/sha/check/fullLog.txt");
  p.Begin("o/r/1/sha/check/pretty.html", 5'000'000);
  clock.Advance(125'000);
  p.Add("o/r/1/sha/check/pretty.html", 5'000'000);
  p.Finish("o/r/1/sha/check/pretty.html");
  EXPECT_EQ(out.text(),
            "logbucket push: uploaded o/r/1/sha/check/fullLog.txt (25.0 MB in 5 s, 5.0 MB/s)\n"
            "logbucket push: uploaded o/r/1/sha/check/pretty.html (5.0 MB in 2 min 5 s, 0.0 "
            "MB/s)\n");
}

TEST(Progress, QuietSaysNothing) {
  Captured out;
  Progress p(Progress::Mode::kQuiet, 10, out.file());
  p.Begin("k", 10);
  p.Add("k", 10);
  p.Finish("k");
  EXPECT_EQ(out.text(), "");
}

}  // namespace
}  // namespace logbucket::push
