// Internal: the viewer's HTML pages. Every string from a key, a bucket name, metadata or a log
// line goes through Esc() (or is already escaped HTML from the ANSI renderer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "builds/layout.h"
#include "store/store.h"
#include "web/log_cache.h"
#include "web/viewer.h"

namespace logbucket::web {

std::string Esc(std::string_view text);

// What every page shows around its content: the site, who is signed in, how to sign out, and
// a warning when there is no sign-in at all.
struct Chrome {
  std::string_view site;
  std::string_view user;           // "" when nobody is signed in
  std::string_view sign_out_href;  // "" when there is nothing to sign out of
  bool no_sign_in = false;         // auth.mode = "none": shown on every page
};
// A path for an href: each segment percent-encoded, slashes kept.
std::string PathHref(std::string_view bucket, std::string_view key);
std::string HumanSize(uint64_t bytes);
// One time format everywhere: relative to `now_ms` ("3 h ago", "in 41 days") in a <time>
// element whose title is the exact UTC time.
std::string TimeHtml(int64_t ms, int64_t now_ms);

struct Crumb {
  std::string label;
  std::string href;  // empty for the current page
};
// bucket › org › repo › …: each a link, the last one too unless it is the current page.
std::vector<Crumb> FolderCrumbs(std::string_view bucket, std::string_view prefix,
                                bool last_is_current);
int64_t WallNowMs();
std::string Plural(int64_t n, const char* unit);  // "1 day", "3 days"

std::string PageShell(const Chrome& chrome, std::string_view title,
                      const std::vector<Crumb>& crumbs, std::string_view main_html,
                      std::string_view body_class = "");

std::string BucketListPage(const Chrome& chrome, const std::vector<store::Bucket>& buckets);

struct FolderEntry {
  std::string name;  // display name (relative to the folder)
  std::string href;
  bool folder = false;
  uint64_t size = 0;
  int64_t modified_ms = 0;  // a folder's: its last upload (0: unknown)
  std::string verdict;      // a check folder's: "failed", "no-errors-found", "broken-builder"
  bool newest = false;      // the newest commit folder of a PR
};
struct FolderPage {
  std::string bucket;
  std::string prefix;  // "" or ending in '/'
  std::string filter;
  std::vector<FolderEntry> entries;  // this page's
  size_t first = 0;                  // index of entries[0] among all
  size_t total = 0;                  // entries in the folder (matching the filter)
  bool complete = true;              // false: the folder has more than the viewer lists
  std::string prev_href, next_href;  // "" at either end
  bool across_builds = false;        // the build index is on: link its views
};
std::string FolderListingPage(const Chrome& chrome, const FolderPage& page);

struct ViewerPage {
  std::string bucket;
  std::string key;
  store::ObjectInfo info;
  builds::KeyFacts facts;
  int64_t expires_ms = 0;  // when the bucket's lifecycle deletes it (0: never)
  std::vector<logs::RenderedLine> first_lines;
  bool more = false;
};
std::string LogViewerPage(const Chrome& chrome, const ViewerPage& page);

// A refusal or notice; status < 400 (e.g. "signed out") shows the site name as the heading.
// `keep_hash`: the page script follows the link at once, adding the page's #fragment to it.
std::string ErrorPage(const Chrome& chrome, int status, std::string_view message,
                      std::string_view link_href = {}, std::string_view link_label = {},
                      bool keep_hash = false);

}  // namespace logbucket::web
