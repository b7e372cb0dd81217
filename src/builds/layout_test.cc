#include "builds/layout.h"

#include <gtest/gtest.h>

namespace logbucket::builds {
namespace {

TEST(ParseCiKey, ChecksFilesAndArtifacts) {
  KeyFacts log = ParseCiKey("AliceO2Group/AliceO2/14473/0c5c7fd/build_O2_o2/fullLog.txt");
  EXPECT_EQ(log.repo, "AliceO2Group/AliceO2");
  EXPECT_EQ(log.pr, "14473");
  EXPECT_EQ(log.commit, "0c5c7fd");
  EXPECT_EQ(log.check, "build_O2_o2");
  EXPECT_EQ(log.file, "fullLog.txt");

  KeyFacts nested = ParseCiKey("o/r/7/latest/build/O2/fullCI/pretty.html");
  EXPECT_EQ(nested.check, "build/O2/fullCI");
  EXPECT_EQ(nested.file, "pretty.html");

  KeyFacts artifact = ParseCiKey("o/r/7/abcdef1/build_O2_o2/artifacts/qc/plots/pt.png");
  EXPECT_EQ(artifact.check, "build_O2_o2");
  EXPECT_EQ(artifact.file, "artifacts/qc/plots/pt.png");

  // A check really named "artifacts" stays a check.
  KeyFacts named = ParseCiKey("o/r/7/abcdef1/artifacts/fullLog.txt");
  EXPECT_EQ(named.check, "artifacts");
  EXPECT_EQ(named.file, "fullLog.txt");

  KeyFacts branch = ParseCiKey("o/r/dev/latest/build_O2_o2/fullLog.txt");
  EXPECT_EQ(branch.repo, "o/r");
  EXPECT_EQ(branch.pr, "");
  EXPECT_EQ(branch.branch, "dev");
  EXPECT_EQ(branch.commit, "latest");
  EXPECT_EQ(log.branch, "");

  EXPECT_TRUE(ParseCiKey("o/r//abcdef1/c/fullLog.txt").repo.empty());
  EXPECT_TRUE(ParseCiKey("o/r/7/not-a-sha/c/fullLog.txt").repo.empty());
  EXPECT_TRUE(ParseCiKey("short/key.txt").repo.empty());
}

TEST(ParseCiKey, BuildLogs) {
  EXPECT_TRUE(IsBuildLog(ParseCiKey("o/r/7/abcdef1/build/fullLog.txt")));
  EXPECT_TRUE(IsBuildLog(ParseCiKey("o/r/dev/latest/build/O2/fullLog.txt.gz")));
  EXPECT_FALSE(IsBuildLog(ParseCiKey("o/r/7/abcdef1/build/pretty.html")));
  EXPECT_FALSE(IsBuildLog(ParseCiKey("o/r/7/abcdef1/build/artifacts/fullLog.txt")));
  EXPECT_FALSE(IsBuildLog(ParseCiKey("notes/fullLog.txt")));
}

}  // namespace
}  // namespace logbucket::builds
