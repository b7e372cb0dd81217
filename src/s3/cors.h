// Cross-origin resource sharing for buckets (AWS "Using cross-origin resource sharing"): the
// CORSConfiguration document, the rule an origin and method match, and the Access-Control-*
// headers of preflight (OPTIONS) and ordinary answers. A page on another origin can then read
// logs straight from the bucket, presigned URLs included.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/headers.h"
#include "common/status.h"

namespace logbucket::s3::cors {

inline constexpr size_t kMaxRules = 100;                     // AWS's limit
inline constexpr size_t kMaxConfigurationBytes = 64 * 1024;  // AWS's limit
// Headers a preflight may ask about (browsers name a handful): matching stays cheap.
inline constexpr size_t kMaxRequestHeaders = 100;

struct Rule {
  std::string id;
  std::vector<std::string> allowed_methods;  // GET PUT POST DELETE HEAD
  std::vector<std::string> allowed_origins;  // each with at most one '*'
  std::vector<std::string> allowed_headers;  // lower case; at most one '*' each
  std::vector<std::string> expose_headers;
  std::optional<int64_t> max_age_seconds;
};

struct Configuration {
  std::vector<Rule> rules;
};

// Parses a PutBucketCors body: MalformedXML, or InvalidRequest naming what is wrong (an
// unsupported method, an origin with two wildcards, a rule without origins or methods).
Result<Configuration> Parse(std::string_view xml);
// The stored and GetBucketCors form.
std::string ToXml(const Configuration& config);

// The first rule that lets `origin` use `method` with every one of `request_headers`
// (lower case); nullptr when none does.
const Rule* Match(const Configuration& config, std::string_view origin, std::string_view method,
                  const std::vector<std::string>& request_headers = {});

// Access-Control-* headers for an answer allowed by `rule`. `request_headers` are the
// preflight's Access-Control-Request-Headers (echoed in Access-Control-Allow-Headers).
void AddHeaders(const Rule& rule, std::string_view origin,
                const std::vector<std::string>& request_headers, Headers& out);

// Splits an Access-Control-Request-Headers value into lower-case names; nullopt past
// kMaxRequestHeaders.
std::optional<std::vector<std::string>> SplitHeaderList(std::string_view value);

}  // namespace logbucket::s3::cors
