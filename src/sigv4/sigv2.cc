// Signature Version 2 (AWS "Signing and authenticating REST requests", the legacy scheme): an
// HMAC-SHA1 over the method, Content-MD5, Content-Type, the date (or the query's Expires), the
// x-amz-* headers and the resource with its sub-resources. boto3 still presigns with it in
// us-east-1 unless told otherwise, and s3cmd can sign with it; RGW and MinIO accept both.
#include <algorithm>
#include <array>

#include "common/encoding.h"
#include "sigv4/sigv4.h"

namespace logbucket::sigv4 {
namespace {

// The query parameters V2 signs (botocore's HmacV1Auth list plus what RGW signs); every other
// parameter is left out of the string to sign.
constexpr std::array<std::string_view, 38> kSignedSubresources = {
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "defaultObjectAcl",
    "delete",
    "encryption",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
};

std::string TrimFolded(std::string_view value) {
  value = TrimWhitespace(value);
  std::string out;
  bool in_space = false;
  for (char c : value) {
    const bool space = c == ' ' || c == '\t';
    if (space && in_space) continue;
    out.push_back(space ? ' ' : c);
    in_space = space;
  }
  return out;
}

std::string CanonicalAmzHeaders(const Headers& headers) {
  std::vector<std::string> names;
  for (const Header& h : headers) {
    if (h.name.rfind("x-amz-", 0) == 0) names.push_back(h.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string out;
  for (const std::string& name : names) {
    out += name;
    out.push_back(':');
    bool first = true;
    for (const Header& h : headers) {
      if (h.name != name) continue;
      if (!first) out.push_back(',');
      out += TrimFolded(h.value);
      first = false;
    }
    out.push_back('\n');
  }
  return out;
}

std::string CanonicalResource(std::string_view path, std::string_view host_bucket,
                              const QueryParams& query) {
  std::string out;
  if (!host_bucket.empty()) {
    out.push_back('/');
    out += host_bucket;
  }
  out += path;
  std::vector<const QueryParam*> signed_params;
  for (const QueryParam& p : query) {
    if (std::find(kSignedSubresources.begin(), kSignedSubresources.end(), p.key) !=
        kSignedSubresources.end()) {
      signed_params.push_back(&p);
    }
  }
  std::stable_sort(signed_params.begin(), signed_params.end(),
                   [](const QueryParam* a, const QueryParam* b) { return a->key < b->key; });
  char separator = '?';
  for (const QueryParam* p : signed_params) {
    out.push_back(separator);
    separator = '&';
    out += p->key;
    if (!p->value.empty()) {
      out.push_back('=');
      out += p->value;
    }
  }
  return out;
}

std::string HeaderOrEmpty(const Headers& headers, std::string_view name) {
  return std::string(TrimWhitespace(FindHeader(headers, name).value_or("")));
}

// Checks `signature` (base64) against every way the request may have been signed: the path as
// sent and, when it differs, decoded (clients disagree on which one V2 signs), a bucket's with
// and without its trailing slash, botocore's doubled sub-resource; for header authentication
// with x-amz-date, with an empty date line (AWS's rule) and with the Date header.
Result<Authenticated> Check(const RequestView& request, const QueryParams& query,
                            std::string_view access_key, std::string_view signature,
                            const std::vector<std::string>& date_lines, const SecretLookup& lookup,
                            bool presigned, MismatchDetails* details) {
  auto secret = lookup(access_key);
  if (!secret) return Error(ErrorCode::kInvalidAccessKeyId);
  std::vector<std::string> paths{std::string(request.raw_path)};
  if (auto decoded = UriDecode(request.raw_path); decoded && *decoded != request.raw_path) {
    paths.push_back(std::move(*decoded));
  }
  if (request.host_bucket.empty() && request.raw_path.find('/', 1) == std::string_view::npos) {
    // A bucket request path-style: AWS's resource for it is "/bucket/" (botocore signs that
    // while sending "/bucket").
    paths.push_back(std::string(request.raw_path) + "/");
  }
  // botocore (through 1.29 at least) signs an operation whose URI names a sub-resource
  // ("/bucket?cors", "/bucket/key?tagging", "?uploads", "?acl") with that sub-resource twice:
  // "/bucket?cors?cors". boto3 is what CI scripts use, so that form is accepted too.
  // One candidate per distinct name: a query repeating "acl&acl&…" must not multiply the
  // HMACs computed before the signature is known to be wrong.
  for (std::string_view name : kSignedSubresources) {
    const QueryParam* p = FindQuery(query, name);
    if (p != nullptr && p->value.empty()) {
      paths.push_back(std::string(request.raw_path) + "?" + std::string(name));
    }
  }
  // A '+' in a query value decodes to a space; base64 has no spaces.
  std::string provided(signature);
  std::replace(provided.begin(), provided.end(), ' ', '+');
  const std::string amz_headers = CanonicalAmzHeaders(*request.headers);
  std::string first_to_sign;
  bool matched = false;
  for (const std::string& date_line : date_lines) {
    for (const std::string& path : paths) {
      std::string to_sign(request.method);
      to_sign.push_back('\n');
      to_sign += HeaderOrEmpty(*request.headers, "content-md5");
      to_sign.push_back('\n');
      to_sign += HeaderOrEmpty(*request.headers, "content-type");
      to_sign.push_back('\n');
      to_sign += date_line;
      to_sign.push_back('\n');
      to_sign += amz_headers;
      to_sign += CanonicalResource(path, request.host_bucket, query);
      std::string expected = Base64Encode(HmacSha1(*secret, to_sign));
      // Every candidate is computed and compared: the time taken does not depend on which one
      // matched.
      matched = ConstantTimeEquals(expected, provided) || matched;
      if (first_to_sign.empty()) first_to_sign = std::move(to_sign);
    }
  }
  if (!matched) {
    if (details != nullptr) *details = {std::move(first_to_sign), {}, std::string(signature)};
    return Error(ErrorCode::kSignatureDoesNotMatch);
  }
  Authenticated auth;
  auth.access_key = std::string(access_key);
  // V2 signs no payload (Content-MD5 does that), but a client may still frame the body as
  // aws-chunked with a checksum trailer, or state its SHA-256: both are honoured. Signed chunks
  // chain from a SigV4 signature, which this request does not have.
  if (auto declared = FindHeader(*request.headers, "x-amz-content-sha256")) {
    auto mode = ParsePayloadMode(*declared);
    if (!mode) return mode.error();
    if (*mode == PayloadMode::kStreamingSigned || *mode == PayloadMode::kStreamingSignedTrailer) {
      return Error(ErrorCode::kInvalidRequest,
                   "signed aws-chunked payloads need Signature Version 4");
    }
    auth.payload_mode = *mode;
    if (*mode == PayloadMode::kSha256) auth.payload_sha256 = AsciiLower(*declared);
  }
  auth.presigned = presigned;
  auth.signature_version = 2;
  return auth;
}

}  // namespace

Result<Authenticated> VerifyV2Header(const RequestView& request, const QueryParams& query,
                                     std::string_view authorization, const SecretLookup& lookup,
                                     int64_t now_ms, MismatchDetails* details) {
  // "AWS <access key>:<signature>"
  std::string_view rest = TrimWhitespace(authorization.substr(4));
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 "Authorization header is invalid -- one and only one ' ' (space) required");
  }
  std::string_view access_key = rest.substr(0, colon);
  std::string_view signature = rest.substr(colon + 1);

  auto amz_date = FindHeader(*request.headers, "x-amz-date");
  auto date = FindHeader(*request.headers, "date");
  std::optional<int64_t> request_ms;
  if (amz_date) request_ms = ParseHttpDate(*amz_date);
  if (!request_ms && date) request_ms = ParseHttpDate(*date);
  if (!request_ms) {
    return Error(ErrorCode::kAccessDenied,
                 "AWS authentication requires a valid Date or x-amz-date header");
  }
  LB_RETURN_IF_ERROR(CheckSkew(*request_ms, now_ms));
  std::vector<std::string> date_lines;
  if (amz_date) date_lines.emplace_back();
  if (date) date_lines.emplace_back(TrimWhitespace(*date));
  return Check(request, query, access_key, signature, date_lines, lookup, /*presigned=*/false,
               details);
}

Result<Authenticated> VerifyV2Query(const RequestView& request, const QueryParams& query,
                                    const SecretLookup& lookup, int64_t now_ms,
                                    MismatchDetails* details) {
  const QueryParam* access_key = FindQuery(query, "AWSAccessKeyId");
  const QueryParam* expires = FindQuery(query, "Expires");
  const QueryParam* signature = FindQuery(query, "Signature");
  if (access_key == nullptr || expires == nullptr || signature == nullptr ||
      access_key->value.empty() || signature->value.empty()) {
    return Error(ErrorCode::kAccessDenied,
                 "Query-string authentication requires the Signature, Expires and "
                 "AWSAccessKeyId parameters");
  }
  auto expires_s = ParseDecimal(expires->value);
  if (!expires_s) {
    return Error(ErrorCode::kAccessDenied,
                 "Invalid date (should be seconds since epoch): " + expires->value);
  }
  if (now_ms / 1000 >= *expires_s) return Error(ErrorCode::kAccessDenied, "Request has expired");
  // The same bound SigV4 puts on X-Amz-Expires: a link is not a credential for ever.
  if (*expires_s - now_ms / 1000 > kMaxPresignExpiresSeconds) {
    return Error(ErrorCode::kAccessDenied,
                 "Expires must be less than a week (604800 seconds) in the future");
  }
  return Check(request, query, access_key->value, signature->value, {expires->value}, lookup,
               /*presigned=*/true, details);
}

}  // namespace logbucket::sigv4
