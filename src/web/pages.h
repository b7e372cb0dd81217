// Internal: the viewer's HTML pages. Every string from a key, a bucket name, metadata or a log
// line goes through Esc() (or is already escaped HTML from the ANSI renderer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "web/log_index.h"
#include "web/viewer.h"

namespace logbucket::web {

std::string Esc(std::string_view text);
// A path for an href: each segment percent-encoded, slashes kept.
std::string PathHref(std::string_view bucket, std::string_view key);
std::string HumanSize(uint64_t bytes);

struct Crumb {
  std::string label;
  std::string href;  // empty for the current page
};

std::string PageShell(std::string_view site, std::string_view title,
                      const std::vector<Crumb>& crumbs, std::string_view main_html,
                      std::string_view body_class = "");

std::string BucketListPage(std::string_view site, const std::vector<store::Bucket>& buckets);

struct FolderEntry {
  std::string name;  // display name (relative to the folder)
  std::string href;
  bool folder = false;
  uint64_t size = 0;
  int64_t modified_ms = 0;
};
struct FolderPage {
  std::string bucket;
  std::string prefix;  // "" or ending in '/'
  std::string filter;
  std::vector<FolderEntry> entries;
  std::string next_href;  // "" when this is the last page
};
std::string FolderListingPage(std::string_view site, const FolderPage& page);

struct ViewerPage {
  std::string bucket;
  std::string key;
  store::ObjectInfo info;
  KeyFacts facts;
  std::string expires;  // human date or ""
  std::vector<RenderedLine> first_lines;
  bool more = false;
};
std::string LogViewerPage(std::string_view site, const ViewerPage& page);

std::string ErrorPage(std::string_view site, int status, std::string_view message);

}  // namespace logbucket::web
