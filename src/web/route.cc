#include "web/route.h"

#include "auth/oidc.h"
#include "common/encoding.h"
#include "sigv4/sigv4.h"
#include "store/store.h"

namespace logbucket::web {
namespace {

// The API's questions and the object's other answers, in the order they are looked at: a
// request naming two gets the first.
constexpr std::pair<std::string_view, ViewerOperation> kQuestions[] = {
    {"meta", ViewerOperation::kMeta},
    {"errors", ViewerOperation::kErrors},
    {"lines", ViewerOperation::kLines},
    {"search", ViewerOperation::kSearch},
    {"raw", ViewerOperation::kRaw},
    {"download", ViewerOperation::kDownload},
    {"recurring", ViewerOperation::kRecurring},
    {"diff", ViewerOperation::kDiff},
};

}  // namespace

bool ViewerRoute::Public() const {
  return operation == ViewerOperation::kHealth || operation == ViewerOperation::kAsset ||
         operation == ViewerOperation::kFavicon;
}

bool ViewerRoute::MayWait() const { return !Public() && operation != ViewerOperation::kMetrics; }

bool ViewerRoute::Api() const {
  if (operation == ViewerOperation::kBoard || operation == ViewerOperation::kFailures) {
    auto format = FindQuery(query, "format");
    return format != nullptr && format->value == "json";
  }
  return operation == ViewerOperation::kMeta || operation == ViewerOperation::kErrors ||
         operation == ViewerOperation::kLines || operation == ViewerOperation::kSearch ||
         operation == ViewerOperation::kRecurring || operation == ViewerOperation::kDiff;
}

std::string_view ViewerRoute::OperationName() const {
  switch (operation) {
    case ViewerOperation::kBuckets:
      return "buckets";
    case ViewerOperation::kHealth:
      return "health";
    case ViewerOperation::kAsset:
    case ViewerOperation::kFavicon:
      return "static";
    case ViewerOperation::kMetrics:
      return "metrics";
    case ViewerOperation::kSignIn:
      return "sign_in";
    case ViewerOperation::kBucket:
    case ViewerOperation::kFolder:
      return "folder";
    case ViewerOperation::kObject:
      return "object";
    case ViewerOperation::kMeta:
      return "meta";
    case ViewerOperation::kErrors:
      return "errors";
    case ViewerOperation::kLines:
      return "lines";
    case ViewerOperation::kSearch:
      return "search";
    case ViewerOperation::kRaw:
      return "raw";
    case ViewerOperation::kDownload:
      return "download";
    case ViewerOperation::kBoard:
      return "board";
    case ViewerOperation::kFailures:
      return "failures";
    case ViewerOperation::kRecurring:
      return "recurring";
    case ViewerOperation::kDiff:
      return "diff";
  }
  return "object";
}

Result<ViewerRoute> RouteViewerRequest(std::string_view method, std::string_view raw_path,
                                       std::string_view raw_query) {
  ViewerRoute route;
  if (auth::OidcRelyingParty::Owns(raw_path)) {  // its own methods (a form_post callback)
    route.operation = ViewerOperation::kSignIn;
    return route;
  }
  if (method != "GET" && method != "HEAD") {
    return Error(ErrorCode::kMethodNotAllowed, "this viewer is read-only");
  }
  auto path = UriDecode(raw_path);
  auto query = sigv4::ParseQuery(raw_query);
  if (!path || !query || path->empty() || (*path)[0] != '/' ||
      path->find('\0') != std::string::npos) {
    return Error(ErrorCode::kInvalidURI, "malformed URL");
  }
  route.query = std::move(*query);
  std::string_view p = *path;
  if (p == "/") return route;  // kBuckets
  if (p == "/_health") {
    route.operation = ViewerOperation::kHealth;
    return route;
  }
  if (p == "/_metrics") {
    route.operation = ViewerOperation::kMetrics;
    return route;
  }
  if (p.starts_with("/_static/")) {
    route.operation = ViewerOperation::kAsset;
    route.asset = std::string(p.substr(9));
    return route;
  }
  if (p == "/favicon.ico") {  // (a bucket of that name stays reachable as /favicon.ico/)
    route.operation = ViewerOperation::kFavicon;
    return route;
  }
  p.remove_prefix(1);
  size_t slash = p.find('/');
  route.bucket = std::string(p.substr(0, slash));
  if (!store::ValidateBucketName(route.bucket).ok()) {
    return Error(ErrorCode::kNoSuchBucket, "no such bucket: " + route.bucket);
  }
  if (slash == std::string_view::npos) {
    route.operation = ViewerOperation::kBucket;
    return route;
  }
  route.key = std::string(p.substr(slash + 1));
  if (route.key.empty() || route.key.back() == '/') {
    route.operation = FindQuery(route.query, "board")      ? ViewerOperation::kBoard
                      : FindQuery(route.query, "failures") ? ViewerOperation::kFailures
                                                           : ViewerOperation::kFolder;
    return route;
  }
  route.operation = ViewerOperation::kObject;
  for (const auto& [name, operation] : kQuestions) {
    if (FindQuery(route.query, name)) {
      route.operation = operation;
      break;
    }
  }
  return route;
}

Result<ViewerRoute> RouteViewerTarget(std::string_view method, std::string_view target) {
  size_t q = target.find('?');
  return RouteViewerRequest(
      method, target.substr(0, q),
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
}

}  // namespace logbucket::web
