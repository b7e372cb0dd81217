#include "web/viewer.h"

#include <gtest/gtest.h>

namespace logbucket::web {
namespace {

TEST(ClassifyObject, LogsJsonHtmlImagesAndDownloads) {
  struct Case {
    const char* key;
    const char* content_type;
    ObjectKind kind;
  };
  const Case cases[] = {
      {"o/r/1/abc123/c/fullLog.txt", "text/plain", ObjectKind::kLog},
      {"o/r/1/abc123/c/fullLog.txt", "", ObjectKind::kLog},
      {"o/r/1/abc123/c/fullLog.txt.gz", "application/gzip", ObjectKind::kLog},
      {"x/build.log", "binary/octet-stream", ObjectKind::kLog},
      {"x/notes", "text/plain; charset=utf-8", ObjectKind::kLog},
      {"x/summary.json", "application/json", ObjectKind::kLog},
      {"x/report", "Application/JSON; charset=utf-8", ObjectKind::kLog},
      {"x/report.json", "", ObjectKind::kLog},
      {"x/pretty.html", "text/html", ObjectKind::kHtml},
      {"x/page", "text/html; charset=utf-8", ObjectKind::kHtml},
      {"x/page.html.gz", "application/gzip", ObjectKind::kDownload},
      {"x/plot.png", "image/png", ObjectKind::kInline},
      {"x/diagram.svg", "image/svg+xml", ObjectKind::kInline},
      {"x/report.pdf", "application/pdf", ObjectKind::kInline},
      {"x/plot.png", "", ObjectKind::kDownload},  // no stored type: never guessed for display
      {"x/histos.root", "application/octet-stream", ObjectKind::kDownload},
      {"x/core.bin", "", ObjectKind::kDownload},
      {"x/dump.json.gz", "application/gzip", ObjectKind::kDownload},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyObject(c.key, c.content_type), c.kind) << c.key << " " << c.content_type;
  }
}

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

}  // namespace
}  // namespace logbucket::web
