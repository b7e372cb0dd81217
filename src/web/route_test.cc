// The viewer's URL space as a table: every page a reader, a script, the sign-in proxy or an
// attacker can ask for, what it is, and what runs where.
#include "web/route.h"

#include <gtest/gtest.h>

namespace logbucket::web {
namespace {

using Op = ViewerOperation;

struct Case {
  const char* method;
  const char* target;
  Op operation;
  const char* bucket;
  const char* key;
  const char* name;  // the metrics' operation name
  bool is_public;
  bool may_wait;
};

TEST(ViewerRoute, TableOfPages) {
  const Case cases[] = {
      {"GET", "/", Op::kBuckets, "", "", "buckets", false, true},
      {"HEAD", "/", Op::kBuckets, "", "", "buckets", false, true},
      {"GET", "/_health", Op::kHealth, "", "", "health", true, false},
      {"GET", "/_static/viewer.js", Op::kAsset, "", "", "static", true, false},
      {"GET", "/favicon.ico", Op::kFavicon, "", "", "static", true, false},
      {"GET", "/favicon.ico/", Op::kFolder, "favicon.ico", "", "folder", false, true},
      {"GET", "/_metrics", Op::kMetrics, "", "", "metrics", false, false},
      {"GET", "/_auth/callback?code=x&state=y", Op::kSignIn, "", "", "sign_in", false, true},
      {"POST", "/_auth/logout", Op::kSignIn, "", "", "sign_in", false, true},
      {"GET", "/logs", Op::kBucket, "logs", "", "folder", false, true},
      {"GET", "/logs/", Op::kFolder, "logs", "", "folder", false, true},
      {"GET", "/logs/alisw/O2/14473/", Op::kFolder, "logs", "alisw/O2/14473/", "folder", false,
       true},
      {"GET", "/logs/o/r/1/abc/build/fullLog.txt", Op::kObject, "logs",
       "o/r/1/abc/build/fullLog.txt", "object", false, true},
      {"GET", "/logs/a%20b/c%2Bd.txt", Op::kObject, "logs", "a b/c+d.txt", "object", false, true},
      {"GET", "/logs/k.txt?meta", Op::kMeta, "logs", "k.txt", "meta", false, true},
      {"GET", "/logs/k.txt?errors", Op::kErrors, "logs", "k.txt", "errors", false, true},
      {"GET", "/logs/k.txt?lines=1-500", Op::kLines, "logs", "k.txt", "lines", false, true},
      {"GET", "/logs/k.txt?search=error&regex=1", Op::kSearch, "logs", "k.txt", "search", false,
       true},
      {"GET", "/logs/k.txt?raw", Op::kRaw, "logs", "k.txt", "raw", false, true},
      {"GET", "/logs/k.txt?download", Op::kDownload, "logs", "k.txt", "download", false, true},
      {"GET", "/logs/k.txt?recurring", Op::kRecurring, "logs", "k.txt", "recurring", false, true},
      {"GET", "/logs/k.txt?diff", Op::kDiff, "logs", "k.txt", "diff", false, true},
      {"GET", "/logs/k.txt?diff=o%2Fr%2Fgreen.txt", Op::kDiff, "logs", "k.txt", "diff", false,
       true},
      // Across builds: a repository's board, recurring failures of a bucket or a repository.
      {"GET", "/logs/o/r/?board", Op::kBoard, "logs", "o/r/", "board", false, true},
      {"GET", "/logs/o/r/?board&format=json", Op::kBoard, "logs", "o/r/", "board", false, true},
      {"GET", "/logs/?failures", Op::kFailures, "logs", "", "failures", false, true},
      {"GET", "/logs/o/r/?failures&days=3", Op::kFailures, "logs", "o/r/", "failures", false, true},
      // Two questions: the first in the API's order wins, whatever the query's order.
      {"GET", "/logs/k.txt?raw&lines=1-2", Op::kLines, "logs", "k.txt", "lines", false, true},
      {"GET", "/logs/k.txt?L=120", Op::kObject, "logs", "k.txt", "object", false, true},
      // Only the first segment is the bucket; the rest is the key, as stored.
      {"GET", "/logs//x/../y", Op::kObject, "logs", "/x/../y", "object", false, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    auto route = RouteViewerTarget(c.method, c.target);
    ASSERT_TRUE(route) << route.error().ToString();
    EXPECT_EQ(route->operation, c.operation);
    EXPECT_EQ(route->bucket, c.bucket);
    EXPECT_EQ(route->key, c.key);
    EXPECT_EQ(route->OperationName(), c.name);
    EXPECT_EQ(route->Public(), c.is_public);
    EXPECT_EQ(route->MayWait(), c.may_wait);
    EXPECT_EQ(route->Api(), c.operation == Op::kMeta || c.operation == Op::kErrors ||
                                c.operation == Op::kLines || c.operation == Op::kSearch ||
                                c.operation == Op::kRecurring || c.operation == Op::kDiff ||
                                std::string_view(c.target).ends_with("format=json"));
  }
}

TEST(ViewerRoute, RefusedRequests) {
  struct Refused {
    const char* method;
    const char* target;
    ErrorCode code;
  };
  const Refused cases[] = {
      {"POST", "/logs/k.txt", ErrorCode::kMethodNotAllowed},
      {"PUT", "/", ErrorCode::kMethodNotAllowed},
      {"DELETE", "/_health", ErrorCode::kMethodNotAllowed},
      {"GET", "/logs/%zz", ErrorCode::kInvalidURI},
      {"GET", "/logs/a%00b", ErrorCode::kInvalidURI},
      {"GET", "/logs/k?x=%", ErrorCode::kInvalidURI},
      {"GET", "relative", ErrorCode::kInvalidURI},
      {"GET", "/Not_A_Bucket/k", ErrorCode::kNoSuchBucket},
      {"GET", "/a/k", ErrorCode::kNoSuchBucket},  // too short for a bucket name
  };
  for (const Refused& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    auto route = RouteViewerTarget(c.method, c.target);
    ASSERT_FALSE(route);
    EXPECT_EQ(route.error().code(), c.code) << route.error().ToString();
  }
}

TEST(ViewerRoute, QueryIsDecoded) {
  auto route = RouteViewerTarget("GET", "/logs/k.txt?search=a%20b%2Bc&from=12");
  ASSERT_TRUE(route);
  const QueryParam* search = FindQuery(route->query, "search");
  ASSERT_NE(search, nullptr);
  EXPECT_EQ(search->value, "a b+c");
  ASSERT_NE(FindQuery(route->query, "from"), nullptr);
  EXPECT_EQ(FindQuery(route->query, "from")->value, "12");
}

}  // namespace
}  // namespace logbucket::web
