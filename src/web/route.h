// The viewer's URL space, read in one place (as s3::Route reads the S3 API's): a pure function
// from method, path and query to what the request asks for, table-tested in route_test.cc.
//
//   /                                   kBuckets
//   /_health                            kHealth      public, answered on the event loop
//   /_static/<asset>, /favicon.ico      kAsset, kFavicon   public, on the event loop
//   /_metrics                           kMetrics     on the event loop (serve decides who reads)
//   /_auth/...                          kSignIn      the OpenID Connect relying party (any method)
//   /<bucket>                           kBucket      a redirect to /<bucket>/
//   /<bucket>/[<prefix>/]               kFolder      a listing
//   /<bucket>/<org>/<repo>/?board       kBoard       the PR board (&format=json: JSON)
//   /<bucket>/[<prefix>/]?failures      kFailures    recurring failures (&format=json: JSON)
//   /<bucket>/<key>?meta|errors|lines=|search=|recurring|diff[=<key>]
//                                       kMeta, kErrors, kLines, kSearch, kRecurring, kDiff (JSON)
//   /<bucket>/<key>?raw, ?download      kRaw, kDownload
//   /<bucket>/<key>                     kObject      the viewer page (or the bytes, for scripts)
#pragma once

#include <string>
#include <string_view>

#include "common/headers.h"
#include "common/status.h"

namespace logbucket::web {

enum class ViewerOperation {
  kBuckets,
  kHealth,
  kAsset,
  kFavicon,
  kMetrics,
  kSignIn,
  kBucket,
  kFolder,
  kObject,
  kMeta,
  kErrors,
  kLines,
  kSearch,
  kRaw,
  kDownload,
  kBoard,
  kFailures,
  kRecurring,
  kDiff,
};

struct ViewerRoute {
  ViewerOperation operation = ViewerOperation::kBuckets;
  std::string bucket;
  std::string key;    // decoded; a folder's prefix ends with '/' ("" for the bucket's root)
  std::string asset;  // kAsset: the name under /_static/
  QueryParams query;  // decoded

  // Served without signing in: the refusal pages use the stylesheet too.
  bool Public() const;
  // May wait (the remote store, a scan of a large log, the OIDC provider): run on a worker
  // thread, so that an event loop never waits behind it. The rest is answered from memory.
  bool MayWait() const;
  // The JSON API: errors are answered in JSON.
  bool Api() const;
  // For the metrics and the access log: "buckets", "folder", "object", "meta", "lines",
  // "search", "errors", "raw", "download", "static", "health", "metrics", "sign_in", "board",
  // "failures", "recurring", "diff".
  std::string_view OperationName() const;
};

// kMethodNotAllowed for anything but GET and HEAD (except under /_auth/), kInvalidURI for a
// path or query that does not decode (or holds NUL), kNoSuchBucket for a first segment no
// bucket can have.
Result<ViewerRoute> RouteViewerRequest(std::string_view method, std::string_view raw_path,
                                       std::string_view raw_query);

// The same for a raw request target ("/path?query"), as the HTTP server sees it before parsing.
Result<ViewerRoute> RouteViewerTarget(std::string_view method, std::string_view target);

}  // namespace logbucket::web
