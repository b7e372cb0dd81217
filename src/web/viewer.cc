#include "web/viewer.h"

#include <zlib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/hash.h"
#include "common/log.h"
#include "lifecycle/lifecycle.h"
#include "logs/gunzip.h"
#include "sigv4/sigv4.h"
#include "web/across_builds.h"
#include "web/assets.h"
#include "web/pages.h"
#include "web/responses.h"

namespace logbucket::web {
namespace {

constexpr uint64_t kMaxBufferedRawBytes = 64ULL << 20;

std::string ContentTypeOf(const store::ObjectInfo& info) {
  return std::string(FindHeader(info.headers, "content-type").value_or(""));
}

// "120-180" → {120, 180}; "120" → {120, 120}.
bool ParseRange(std::string_view text, uint64_t& from, uint64_t& to) {
  size_t dash = text.find('-');
  auto a = ParseDecimal(text.substr(0, dash));
  auto b = dash == std::string_view::npos ? a : ParseDecimal(text.substr(dash + 1));
  if (!a || !b || *a < 1 || *b < *a) return false;
  from = static_cast<uint64_t>(*a);
  to = static_cast<uint64_t>(*b);
  return true;
}

}  // namespace

ObjectKind ClassifyObject(std::string_view key, std::string_view content_type) {
  std::string type = AsciiLower(content_type.substr(0, content_type.find(';')));
  std::string_view name = key;
  if (name.ends_with(".gz")) name.remove_suffix(3);
  if (type == "text/html" || name.ends_with(".html") || name.ends_with(".htm")) {
    return key.ends_with(".gz") ? ObjectKind::kDownload : ObjectKind::kHtml;
  }
  if (name.ends_with(".txt") || name.ends_with(".log") || name.ends_with(".out")) {
    return ObjectKind::kLog;
  }
  if (key.ends_with(".gz")) return ObjectKind::kDownload;
  if (type.starts_with("text/") || type == "application/json" || name.ends_with(".json")) {
    return ObjectKind::kLog;
  }
  // What browsers display themselves (plots, reports); still sandboxed, never sniffed.
  if (type.starts_with("image/") || type == "application/pdf") return ObjectKind::kInline;
  return ObjectKind::kDownload;
}

struct Viewer::Impl {
  store::Store& store;
  ViewerOptions options;
  LogCache cache;
  ListingCache listings;
  DiffCache diffs;

  Impl(store::Store& s, ViewerOptions o)
      : store(s),
        options(WithLineBytes(std::move(o))),
        cache(s, options.cache),
        listings(s, options.listing) {}

  static ViewerOptions WithLineBytes(ViewerOptions o) {
    o.cache.line_bytes = o.max_line_bytes;
    return o;
  }

  Chrome ChromeFor(const http::Request& request) const {
    return Chrome{options.site_name, request.signed_in_as,
                  request.signed_in_as.empty() ? std::string_view() : options.sign_out_href,
                  options.no_sign_in};
  }

  http::Response StaticFile(const http::Request& request, const ViewerRoute& route) {
    std::string_view name = route.asset;
    for (const web::Asset& a : Assets()) {
      if (a.name != name) continue;
      std::string etag = "\"" + HexEncode(Sha256(a.data)).substr(0, 16) + "\"";
      http::Response r;
      if (FindHeader(request.headers, "if-none-match").value_or("") == etag) {
        r.status = 304;
      } else {
        r.body = std::string(a.data);
      }
      r.SetHeader("ETag", etag);
      r.SetHeader("Content-Type", name.ends_with(".js")    ? "text/javascript; charset=utf-8"
                                  : name.ends_with(".svg") ? "image/svg+xml"
                                                           : "text/css; charset=utf-8");
      r.SetHeader("Cache-Control", "public, max-age=300");
      r.SetHeader("X-Content-Type-Options", "nosniff");
      MaybeCompress(request, r);
      return r;
    }
    return Fail(request, &route, Error(ErrorCode::kNotFound, "no such asset"));
  }

  // Every error answer, from a Status, in one place: a page, or JSON for the API and for
  // scripts. kRequest: the request's own problem (no such object, a bad parameter), with the
  // table's status and our message. kServer: a failure below us, whose status is the one its
  // code names when that is a 5xx (503 busy, 507 disk full), else 500; the answer says what the
  // table says for it, with the request id, and the detail (paths, OS errors) goes to the log
  // under that id only. Problems of the log itself (a damaged .gz) are not 5xx codes: their
  // message is shown.
  enum class Blame { kRequest, kServer };
  http::Response Fail(const http::Request& request, const ViewerRoute* route, const Status& error,
                      Blame blame = Blame::kRequest) {
    const ErrorInfo& info = Describe(error.code());
    int status = info.http_status;
    std::string message(error.message());
    if (blame == Blame::kServer) {
      status = info.http_status >= 500 ? info.http_status : 500;
      if (info.http_status >= 500 || message.empty()) {
        Log().error("web {} {}: {}", request.request_id, request.raw_path, error.ToString());
        message = status == 503   ? "The server is busy; try again in a moment."
                  : status == 507 ? "The server's disk is full."
                                  : "Something went wrong on the server.";
        message += " (request id " + request.request_id + ")";
      }
    } else if (message.empty()) {
      message = std::string(info.message);
    }
    http::Response r;
    if ((route != nullptr && route->Api()) || !WantsHtml(request)) {
      r = JsonError(status, message);
    } else {
      r = Html(status, ErrorPage(ChromeFor(request), status, message));
    }
    if (status == 405) r.SetHeader("Allow", "GET, HEAD");
    return r;
  }

  static std::string ExpiryDate(int64_t ms) { return ms ? FormatIso8601(ms).substr(0, 10) : ""; }

  http::Response Buckets(const http::Request& request, const ViewerRoute& route) {
    auto buckets = store.ListBuckets();
    if (!buckets) return Fail(request, &route, buckets.error(), Blame::kServer);
    http::Response r = Html(200, BucketListPage(ChromeFor(request), *buckets));
    MaybeCompress(request, r);
    return r;
  }

  http::Response Folder(const http::Request& request, const ViewerRoute& route) {
    const QueryParams& query = route.query;
    const std::string& bucket = route.bucket;
    const std::string& prefix = route.key;
    FolderPage page;
    page.across_builds = options.builds != nullptr;
    page.bucket = bucket;
    page.prefix = prefix;
    if (auto* f = FindQuery(query, "filter")) page.filter = f->value.substr(0, 1024);
    auto listed = listings.List(bucket, prefix, page.filter);
    if (!listed) {
      if (listed.error().code() == ErrorCode::kNoSuchBucket) {
        return Fail(request, &route, Error(ErrorCode::kNoSuchBucket, "no such bucket: " + bucket));
      }
      return Fail(request, &route, listed.error(), Blame::kServer);
    }
    const std::vector<Child>* children = &(*listed)->children;
    page.complete = (*listed)->complete;
    // A PR's commit folders in upload order, newest first (after latest/), the newest marked:
    // hex names say nothing about time. A PR has a few dozen builds, so all are dated.
    std::vector<Child> by_date;
    std::string newest_commit;
    if (IsPrFolder(prefix) && children->size() <= 1000 &&
        std::any_of(children->begin(), children->end(),
                    [](const Child& c) { return c.folder && IsCommitName(c.name); })) {
      by_date = *children;
      std::vector<std::string> prefixes;
      for (const Child& c : by_date) {
        if (c.folder) prefixes.push_back(prefix + c.name);
      }
      auto dates = listings.LastUploads(bucket, prefixes);
      size_t d = 0;
      for (Child& c : by_date) {
        if (c.folder) c.modified_ms = dates[d++];
      }
      std::stable_sort(by_date.begin(), by_date.end(), [](const Child& a, const Child& b) {
        auto rank = [](const Child& c) { return !c.folder ? 2 : c.name == "latest/" ? 0 : 1; };
        if (rank(a) != rank(b)) return rank(a) < rank(b);
        return a.folder && a.modified_ms > b.modified_ms;
      });
      for (const Child& c : by_date) {
        if (c.folder && c.name != "latest/" && IsCommitName(c.name)) {
          newest_commit = c.name;
          break;
        }
      }
      children = &by_date;
    }
    // This page of them.
    const size_t per_page = static_cast<size_t>(std::max(1, options.listing_page_size));
    size_t page_number = 1;
    if (auto* p = FindQuery(query, "page")) {
      auto v = ParseDecimal(p->value);
      if (!v || *v < 1 || *v > 10'000'000) {
        return Fail(request, &route, Error(ErrorCode::kNotFound, "page: expected a number from 1"));
      }
      page_number = static_cast<size_t>(*v);
    }
    page.total = children->size();
    page.first = std::min(page.total, (page_number - 1) * per_page);
    size_t end = std::min(page.total, page.first + per_page);
    std::vector<std::string> folder_prefixes, check_prefixes;
    for (size_t i = page.first; i < end; ++i) {
      const Child& c = (*children)[i];
      FolderEntry e;
      e.name = c.name;
      e.href = PathHref(bucket, prefix + c.name);
      e.folder = c.folder;
      e.size = c.size;
      e.modified_ms = c.modified_ms;
      e.newest = c.folder && c.name == newest_commit;
      if (c.folder && e.modified_ms == 0) folder_prefixes.push_back(prefix + c.name);
      if (c.folder && IsCommitFolder(prefix)) check_prefixes.push_back(prefix + c.name);
      page.entries.push_back(std::move(e));
    }
    // The folders' dates, and in a commit folder each check's verdict (its summary.json).
    auto dates = listings.LastUploads(bucket, folder_prefixes);
    auto verdicts = listings.CheckVerdicts(bucket, check_prefixes);
    size_t d = 0, v = 0;
    for (FolderEntry& e : page.entries) {
      if (!e.folder) continue;
      if (e.modified_ms == 0) e.modified_ms = dates[d++];
      if (IsCommitFolder(prefix)) e.verdict = verdicts[v++];
    }
    auto href = [&](size_t n) {
      std::string h = PathHref(bucket, prefix) + "?page=" + std::to_string(n);
      if (!page.filter.empty()) h += "&filter=" + UriEncode(page.filter, false);
      return h;
    };
    if (page.first > 0) page.prev_href = href(page_number - 1);
    if (end < page.total) page.next_href = href(page_number + 1);
    http::Response r = Html(200, FolderListingPage(ChromeFor(request), page));
    MaybeCompress(request, r);
    return r;
  }

  // When the bucket's lifecycle deletes the object (ms), or 0.
  int64_t ExpiryFor(const std::string& bucket, const store::ObjectInfo& info) {
    auto b = store.GetBucket(bucket);
    if (!b || b->lifecycle.empty()) return 0;
    auto config = lifecycle::Parse(b->lifecycle);
    if (!config) return 0;
    auto tags = lifecycle::ParseTagSet(FindHeader(info.headers, "x-amz-tagging").value_or(""));
    auto expiry = lifecycle::ObjectExpiry(*config, info.key, info.size, tags, info.last_modified_ms,
                                          86400 * 1000LL);
    return expiry ? expiry->at_ms : 0;
  }

  // Raw bytes: as stored, sandboxed (an uploaded page runs with no origin, no scripts reaching
  // ours), never sniffed into something else.
  http::Response Raw(const http::Request& request, const ViewerRoute& route,
                     const store::ObjectInfo& head) {
    const std::string& bucket = route.bucket;
    const bool download = route.operation == ViewerOperation::kDownload;
    auto object = store.GetObject(bucket, head.key);
    if (!object) return Fail(request, &route, Error(ErrorCode::kNoSuchKey, "no such object"));
    http::Response r;
    std::string type = ContentTypeOf(object->info);
    ObjectKind kind = ClassifyObject(head.key, type);
    if (kind == ObjectKind::kLog && !logs::IsGzipName(head.key)) {
      type = "text/plain; charset=utf-8";
    } else if (type.empty()) {
      type = "application/octet-stream";
    }
    r.SetHeader("Content-Type", type);
    r.SetHeader("Content-Security-Policy", "sandbox");
    r.SetHeader("X-Content-Type-Options", "nosniff");
    r.SetHeader("ETag", "\"" + object->info.etag + "\"");
    r.SetHeader("Last-Modified", FormatHttpDate(object->info.last_modified_ms));
    std::string filename = head.key.substr(head.key.rfind('/') + 1);
    if (download || kind == ObjectKind::kDownload) {
      r.SetHeader("Content-Disposition",
                  "attachment; filename=\"" + std::string(UriEncode(filename, false)) + "\"");
    }
    if (FindHeader(request.headers, "if-none-match").value_or("") ==
        "\"" + object->info.etag + "\"") {
      r.status = 304;
      return r;
    }
    if (request.method == "HEAD") {
      r.omit_body = true;
      r.body.clear();
    }
    auto fd = object->body->SharedFd();
    if (fd) {
      r.file = std::make_unique<http::FileBody>(http::FileBody{fd, 0, object->info.size});
    } else {
      // Not file-backed (a remote store): buffered, so only within a bound.
      if (object->info.size > kMaxBufferedRawBytes) {
        return Fail(request, &route,
                    Error(ErrorCode::kNotImplemented,
                          "this store cannot stream objects this large; use S3 directly"));
      }
      std::string body(object->info.size, '\0');
      auto got = object->body->ReadAt(0, body.data(), body.size());
      if (!got) return Fail(request, &route, got.error(), Blame::kServer);
      body.resize(*got);
      r.body = std::move(body);
    }
    return r;
  }

  // The ETag of an API answer: the object's version plus what was asked.
  static std::string ApiEtag(const store::ObjectInfo& info, std::string_view raw_query) {
    return "W/\"" + info.etag + "-" + HexEncode(Sha256(raw_query)).substr(0, 12) + "\"";
  }

  http::Response Api(const http::Request& request, const ViewerRoute& route,
                     const store::ObjectInfo& head) {
    const QueryParams& query = route.query;
    const std::string& bucket = route.bucket;
    std::string etag = ApiEtag(head, request.raw_query);
    if (FindHeader(request.headers, "if-none-match").value_or("") == etag) {
      http::Response r;
      r.status = 304;
      r.SetHeader("ETag", etag);
      return r;
    }
    auto opened = cache.Open(bucket, head);
    if (!opened) return Fail(request, &route, opened.error(), Blame::kServer);
    const LogIndex& index = *opened->index;
    http::Response r;
    if (FindQuery(query, "meta")) {
      builds::KeyFacts facts = builds::ParseCiKey(head.key);
      const auto& h = index.header;
      r = Json(200, {{"bucket", bucket},
                     {"key", head.key},
                     {"size", head.size},
                     {"etag", head.etag},
                     {"last_modified", FormatIso8601(head.last_modified_ms)},
                     {"content_type", ContentTypeOf(head)},
                     {"expires", ExpiryDate(ExpiryFor(bucket, head))},
                     {"lines", index.lines},
                     {"bytes", index.bytes},
                     {"repo", facts.repo.empty() ? h.repo : facts.repo},
                     {"pr", facts.pr.empty() && facts.branch.empty() ? h.pr : facts.pr},
                     {"branch", facts.branch},
                     {"commit", h.commit.empty() ? facts.commit : h.commit},
                     {"check", facts.check},
                     {"host", h.host},
                     {"finished", h.finished},
                     {"pr_url", h.pr_url}});
    } else if (FindQuery(query, "errors")) {
      auto summary = cache.Summary(*opened);
      if (!summary) return Fail(request, &route, summary.error(), Blame::kServer);
      r = Json(200, {});
      r.body = (*summary)->json;
    } else if (const QueryParam* lines = FindQuery(query, "lines")) {
      uint64_t from = 0, to = 0;
      if (!ParseRange(lines->value, from, to)) {
        return Fail(
            request, &route,
            Error(ErrorCode::kInvalidArgument, "lines: expected FROM-TO with 1 <= FROM <= TO"));
      }
      to = std::min(to, from + options.max_lines_per_request - 1);
      auto rendered = logs::ReadLines(index, *opened->bytes, from, to, options.max_line_bytes);
      if (!rendered) return Fail(request, &route, rendered.error(), Blame::kServer);
      nlohmann::json out = nlohmann::json::array();
      nlohmann::json cut = nlohmann::json::array();
      uint64_t n = from;
      for (const auto& l : *rendered) {
        out.push_back(l.html);
        if (l.truncated) cut.push_back(n);
        ++n;
      }
      r = Json(200, {{"from", from}, {"total_lines", index.lines}, {"lines", out}, {"cut", cut}});
    } else if (const QueryParam* search = FindQuery(query, "search")) {
      logs::SearchQuery q;
      q.pattern = search->value;
      q.regex = FindQuery(query, "regex") && FindQuery(query, "regex")->value != "0";
      q.case_insensitive = FindQuery(query, "icase") && FindQuery(query, "icase")->value != "0";
      // The stored bytes, escape sequences included (default: the text the reader sees).
      q.raw_bytes = FindQuery(query, "bytes") && FindQuery(query, "bytes")->value != "0";
      // The last matches (N from the first of "1000+" goes to the log's real last match).
      q.last = FindQuery(query, "last") && FindQuery(query, "last")->value != "0";
      q.max_matches = options.max_search_matches;
      if (auto* from = FindQuery(query, "from")) {
        auto v = ParseDecimal(from->value);
        if (!v || *v < 1) {
          return Fail(request, &route,
                      Error(ErrorCode::kInvalidArgument, "from: expected a line number"));
        }
        q.first_line = static_cast<uint64_t>(*v);
      }
      auto found = logs::SearchLog(index, *opened->bytes, q);
      if (!found) {
        // A pattern that does not compile is the request's; a read that fails is ours.
        if (Describe(found.error().code()).http_status >= 500) {
          return Fail(request, &route, found.error(), Blame::kServer);
        }
        return Fail(request, &route,
                    Error(ErrorCode::kInvalidArgument, std::string(found.error().message())));
      }
      r = Json(200, {{"lines", found->lines},
                     {"truncated", found->truncated},
                     {"next", found->next_line},
                     {"earlier", found->earlier},
                     {"total_lines", index.lines}});
    } else {
      return Fail(request, &route,
                  Error(ErrorCode::kInvalidArgument,
                        "unknown request: use ?meta, ?errors, ?lines=FROM-TO or ?search="));
    }
    r.SetHeader("ETag", etag);
    MaybeCompress(request, r);
    return r;
  }

  http::Response Object(const http::Request& request, const ViewerRoute& route) {
    const std::string& bucket = route.bucket;
    const std::string& key = route.key;
    auto head = store.HeadObject(bucket, key);
    if (!head) {
      if (head.error().code() == ErrorCode::kNoSuchBucket) {
        return Fail(request, &route, Error(ErrorCode::kNoSuchBucket, "no such bucket: " + bucket));
      }
      // A folder without its trailing slash.
      store::ListOptions probe;
      probe.prefix = key + "/";
      probe.max_keys = 1;
      auto listed = store.ListObjects(bucket, probe);
      if (listed && !listed->objects.empty()) {
        http::Response r;
        r.status = 302;
        r.SetHeader("Location", PathHref(bucket, key + "/"));
        return r;
      }
      return Fail(request, &route, Error(ErrorCode::kNoSuchKey, "no such object: " + key));
    }
    ObjectKind kind = ClassifyObject(key, ContentTypeOf(*head));
    if (route.Api()) {
      if (kind != ObjectKind::kLog) {
        return Fail(request, &route, Error(ErrorCode::kInvalidArgument, "not a text log"));
      }
      return Api(request, route, *head);
    }
    if (route.operation != ViewerOperation::kObject || kind != ObjectKind::kLog ||
        !WantsHtml(request)) {
      return Raw(request, route, *head);
    }
    // The viewer page: the first lines rendered server-side (usable without JavaScript), the
    // rest through the API.
    ViewerPage page;
    page.bucket = bucket;
    page.key = key;
    page.info = *head;
    page.facts = builds::ParseCiKey(key);
    // `push` records the check's own name ("build/O2/o2"); the key has it as a folder name.
    if (auto check = FindHeader(head->headers, "x-amz-meta-check"); check && !check->empty()) {
      if (!page.facts.check.empty()) page.facts.check = std::string(*check);
    }
    page.expires_ms = ExpiryFor(bucket, *head);
    std::shared_ptr<LogBytes> bytes;
    // .gz logs and JSON documents are shown from the cache's copy (decompressed, or indented).
    if (logs::IsGzipName(key) || ContentTypeOf(*head).starts_with("application/json") ||
        key.ends_with(".json")) {
      auto opened = cache.Open(bucket, *head);
      if (!opened) return Fail(request, &route, opened.error(), Blame::kServer);
      bytes = opened->bytes;
    } else {
      auto object = store.GetObject(bucket, key);
      if (!object)
        return Fail(request, &route, Error(ErrorCode::kNoSuchKey, "no such object: " + key));
      bytes = std::move(object->body);
    }
    auto first =
        logs::ReadFirstLines(*bytes, options.first_page_lines, options.max_line_bytes, &page.more);
    if (!first) return Fail(request, &route, first.error(), Blame::kServer);
    page.first_lines = std::move(*first);
    http::Response r = Html(200, LogViewerPage(ChromeFor(request), page));
    MaybeCompress(request, r);
    return r;
  }

  http::Response Diff(const http::Request& request, const ViewerRoute& route) {
    std::optional<AcrossBuilds> across;
    if (options.builds != nullptr) {
      across.emplace(AcrossBuilds{*options.builds, options.builds_window_days, WallNowMs()});
    }
    OpenLog open = [&](const std::string& key) -> Result<OpenedLog> {
      LB_ASSIGN_OR_RETURN(store::ObjectInfo head, store.HeadObject(route.bucket, key));
      return cache.Open(route.bucket, head);
    };
    http::Response r = DiffView(route, across ? &*across : nullptr, diffs, open);
    MaybeCompress(request, r);
    return r;
  }

  http::Response AcrossBuildsView(const http::Request& request, const ViewerRoute& route) {
    if (options.builds == nullptr) {
      return Fail(request, &route,
                  Error(ErrorCode::kNotFound,
                        "The build index is off on this server ([builds] enabled = false)."));
    }
    AcrossBuilds across{*options.builds, options.builds_window_days, WallNowMs()};
    if (route.operation == ViewerOperation::kBoard) {
      return BoardView(request, route, ChromeFor(request), across);
    }
    if (route.operation == ViewerOperation::kFailures) {
      return FailuresView(request, route, ChromeFor(request), across);
    }
    return RecurringView(route, across);
  }

  http::Response Handle(const http::Request& request, const Result<ViewerRoute>& routed) {
    if (!routed) return Fail(request, nullptr, routed.error());
    const ViewerRoute& route = *routed;
    switch (route.operation) {
      case ViewerOperation::kBuckets:
        return Buckets(request, route);
      case ViewerOperation::kHealth: {
        http::Response r;
        r.body = "ok\n";
        r.SetHeader("Content-Type", "text/plain");
        return r;
      }
      case ViewerOperation::kAsset:
        return StaticFile(request, route);
      case ViewerOperation::kFavicon: {
        // Browsers ask for it whatever the page says.
        http::Response r;
        r.status = 301;
        r.SetHeader("Location", "/_static/favicon.svg");
        r.SetHeader("Cache-Control", "public, max-age=86400");
        return r;
      }
      case ViewerOperation::kMetrics:
      case ViewerOperation::kSignIn:  // answered in front of the viewer (app/serve.cc)
        return Fail(request, &route, Error(ErrorCode::kNotFound, "not offered here"));
      case ViewerOperation::kBucket: {
        http::Response r;
        r.status = 302;
        r.SetHeader("Location", PathHref(route.bucket, ""));
        return r;
      }
      case ViewerOperation::kFolder:
        return Folder(request, route);
      case ViewerOperation::kObject:
      case ViewerOperation::kMeta:
      case ViewerOperation::kErrors:
      case ViewerOperation::kLines:
      case ViewerOperation::kSearch:
      case ViewerOperation::kRaw:
      case ViewerOperation::kDownload:
        return Object(request, route);
      case ViewerOperation::kBoard:
      case ViewerOperation::kFailures:
      case ViewerOperation::kRecurring:
        return AcrossBuildsView(request, route);
      case ViewerOperation::kDiff:
        return Diff(request, route);
    }
    return Fail(request, &route, Error(ErrorCode::kNotFound, "no such page"));
  }
};

Viewer::Viewer(store::Store& store, ViewerOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}
Viewer::~Viewer() = default;

LogCache::Stats Viewer::cache_stats() const { return impl_->cache.stats(); }

http::Response Viewer::Handle(const http::Request& request) {
  return Handle(request, RouteViewerRequest(request.method, request.raw_path, request.raw_query));
}

http::Response Viewer::Handle(const http::Request& request, const Result<ViewerRoute>& route) {
  http::Response r = impl_->Handle(request, route);
  if (request.method == "HEAD") {
    r.omit_body = true;
  }
  return r;
}

http::Response Viewer::Refuse(const http::Request& request, int status, std::string_view message,
                              std::string_view who, std::string_view link_href,
                              std::string_view link_label, bool keep_hash) {
  http::Response r;
  if (IsApiRequest(request) || !WantsHtml(request)) {
    r = JsonError(status, message);
  } else {
    Chrome chrome{impl_->options.site_name, who,
                  who.empty() ? std::string_view() : impl_->options.sign_out_href, false};
    r = Html(status, ErrorPage(chrome, status, message, link_href, link_label, keep_hash));
  }
  r.SetHeader("Cache-Control", "no-store");
  if (request.method == "HEAD") r.omit_body = true;
  return r;
}

}  // namespace logbucket::web
