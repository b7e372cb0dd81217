// The read-only web log viewer: bucket and folder listings, the log viewer page, the JSON API
// it uses (?meta, ?lines, ?search, ?errors), raw and download links, embedded assets. Reads
// through the Store interface, so it serves the embedded store today and a remote S3 later.
// Sign-in is in front of it (DESIGN §5); this handler trusts whoever reaches it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "builds/index.h"
#include "builds/layout.h"
#include "http/handler.h"
#include "store/store.h"
#include "web/listing.h"
#include "web/log_cache.h"
#include "web/route.h"

namespace logbucket::web {

struct ViewerOptions {
  std::string site_name = "logbucket";
  bool no_sign_in = false;    // auth.mode = "none": every page says so
  std::string sign_out_href;  // the sign-out link pages show ("" = none)
  LogCacheOptions cache;
  uint64_t first_page_lines = 500;  // rendered into the page (works without JavaScript)
  uint64_t max_lines_per_request = 5000;
  size_t max_line_bytes = 256 * 1024;  // longer lines are cut (the raw link has them whole)
  size_t max_search_matches = 1000;
  int listing_page_size = 100;  // entries per folder page (each folder's date is looked up)
  ListingOptions listing;
  // The build index (the PR board, recurring failures): null when off. Not owned.
  builds::BuildIndex* builds = nullptr;
  int64_t builds_window_days = 7;
};

class Viewer {
 public:
  Viewer(store::Store& store, ViewerOptions options);
  ~Viewer();
  http::Response Handle(const http::Request& request);
  // The same, routed already (serve routes each request once, to decide what runs where).
  http::Response Handle(const http::Request& request, const Result<ViewerRoute>& route);
  // The log cache's figures, for /_metrics.
  LogCache::Stats cache_stats() const;
  // The answer when the sign-in gate refuses: a page (or JSON for the API) with `message`.
  // `who` names the signed-in user on a 403 ("" otherwise). Also the sign-in flow's pages
  // (signed out, provider down), with a link onwards when `link_href` is set.
  http::Response Refuse(const http::Request& request, int status, std::string_view message,
                        std::string_view who, std::string_view link_href = {},
                        std::string_view link_label = {}, bool keep_hash = false);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What the viewer does with an object: open it in the log viewer (text, JSON), serve it as
// sandboxed HTML, serve it for the browser to show (images, PDF), or offer it for download.
enum class ObjectKind { kLog, kHtml, kInline, kDownload };
ObjectKind ClassifyObject(std::string_view key, std::string_view content_type);

}  // namespace logbucket::web
