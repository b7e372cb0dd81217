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

}  // namespace
}  // namespace logbucket::web
