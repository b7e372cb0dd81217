#include "s3/router.h"

#include <array>

#include "common/encoding.h"

namespace logbucket::s3 {
namespace {

// Sub-resources of S3 that select an API we do not implement (answered NotImplemented).
constexpr std::array kUnsupportedSubresources = {
    "accelerate",  "analytics",      "encryption", "intelligent-tiering", "inventory",
    "legal-hold",  "logging",        "metrics",    "notification",        "object-lock",
    "replication", "requestPayment", "restore",    "retention",           "select",
    "torrent",     "website",        "session"};

bool Has(const QueryParams& q, std::string_view key) { return FindQuery(q, key) != nullptr; }

std::string_view HostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

Endpoint Unsupported(std::string detail, std::string bucket = {}, std::string key = {}) {
  return {Operation::kNotImplemented, std::move(bucket), std::move(key), std::move(detail)};
}

}  // namespace

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kHealth:
      return "Health";
    case Operation::kMetrics:
      return "Metrics";
    case Operation::kListBuckets:
      return "ListBuckets";
    case Operation::kCreateBucket:
      return "CreateBucket";
    case Operation::kHeadBucket:
      return "HeadBucket";
    case Operation::kDeleteBucket:
      return "DeleteBucket";
    case Operation::kGetBucketLocation:
      return "GetBucketLocation";
    case Operation::kGetBucketVersioning:
      return "GetBucketVersioning";
    case Operation::kGetBucketAcl:
      return "GetBucketAcl";
    case Operation::kGetObjectAcl:
      return "GetObjectAcl";
    case Operation::kPutBucketAcl:
      return "PutBucketAcl";
    case Operation::kPutObjectAcl:
      return "PutObjectAcl";
    case Operation::kGetBucketCors:
      return "GetBucketCors";
    case Operation::kPutBucketCors:
      return "PutBucketCors";
    case Operation::kDeleteBucketCors:
      return "DeleteBucketCors";
    case Operation::kCorsPreflight:
      return "PreflightRequest";
    case Operation::kGetObjectAttributes:
      return "GetObjectAttributes";
    case Operation::kGetBucketOwnershipControls:
      return "GetBucketOwnershipControls";
    case Operation::kPutBucketOwnershipControls:
      return "PutBucketOwnershipControls";
    case Operation::kDeleteBucketOwnershipControls:
      return "DeleteBucketOwnershipControls";
    case Operation::kGetPublicAccessBlock:
      return "GetPublicAccessBlock";
    case Operation::kPutPublicAccessBlock:
      return "PutPublicAccessBlock";
    case Operation::kDeletePublicAccessBlock:
      return "DeletePublicAccessBlock";
    case Operation::kListObjects:
      return "ListObjects";
    case Operation::kListObjectsV2:
      return "ListObjectsV2";
    case Operation::kListObjectVersions:
      return "ListObjectVersions";
    case Operation::kListMultipartUploads:
      return "ListMultipartUploads";
    case Operation::kDeleteObjects:
      return "DeleteObjects";
    case Operation::kPutObject:
      return "PutObject";
    case Operation::kCopyObject:
      return "CopyObject";
    case Operation::kGetObject:
      return "GetObject";
    case Operation::kHeadObject:
      return "HeadObject";
    case Operation::kDeleteObject:
      return "DeleteObject";
    case Operation::kCreateMultipartUpload:
      return "CreateMultipartUpload";
    case Operation::kUploadPart:
      return "UploadPart";
    case Operation::kUploadPartCopy:
      return "UploadPartCopy";
    case Operation::kCompleteMultipartUpload:
      return "CompleteMultipartUpload";
    case Operation::kAbortMultipartUpload:
      return "AbortMultipartUpload";
    case Operation::kListParts:
      return "ListParts";
    case Operation::kGetBucketPolicy:
      return "GetBucketPolicy";
    case Operation::kPutBucketPolicy:
      return "PutBucketPolicy";
    case Operation::kDeleteBucketPolicy:
      return "DeleteBucketPolicy";
    case Operation::kGetBucketPolicyStatus:
      return "GetBucketPolicyStatus";
    case Operation::kGetBucketLifecycle:
      return "GetBucketLifecycleConfiguration";
    case Operation::kPutBucketLifecycle:
      return "PutBucketLifecycleConfiguration";
    case Operation::kDeleteBucketLifecycle:
      return "DeleteBucketLifecycle";
    case Operation::kGetObjectTagging:
      return "GetObjectTagging";
    case Operation::kPutObjectTagging:
      return "PutObjectTagging";
    case Operation::kDeleteObjectTagging:
      return "DeleteObjectTagging";
    case Operation::kExplain:
      return "Explain";
    case Operation::kNotImplemented:
      return "NotImplemented";
  }
  return "Unknown";
}

std::optional<std::string> VirtualHostedBucket(std::string_view host_header,
                                               const std::vector<std::string>* domains) {
  if (domains == nullptr) return std::nullopt;
  std::string host = AsciiLower(HostWithoutPort(host_header));
  for (const std::string& domain : *domains) {
    std::string d = AsciiLower(domain);
    if (host.size() > d.size() + 1 && host.compare(host.size() - d.size(), d.size(), d) == 0 &&
        host[host.size() - d.size() - 1] == '.') {
      return host.substr(0, host.size() - d.size() - 1);
    }
  }
  return std::nullopt;
}

Result<Endpoint> Route(const RouteInput& in) {
  const QueryParams& q = *in.query;
  std::string_view method = in.method;
  auto decoded_path = UriDecode(in.raw_path);
  if (!decoded_path || decoded_path->empty() || (*decoded_path)[0] != '/') {
    return Error(ErrorCode::kInvalidURI);
  }
  std::string path = decoded_path->substr(1);

  std::string bucket;
  std::string key;
  std::optional<std::string> host_bucket = VirtualHostedBucket(in.host, in.domains);
  if (host_bucket) {
    bucket = std::move(*host_bucket);
    key = path;
  } else {
    size_t slash = path.find('/');
    bucket = path.substr(0, slash);
    key = slash == std::string::npos ? std::string() : path.substr(slash + 1);
    if (bucket == "_health" && key.empty() && (method == "GET" || method == "HEAD")) {
      return Endpoint{Operation::kHealth, {}, {}, {}};
    }
    if (bucket == "_metrics" && key.empty() && (method == "GET" || method == "HEAD")) {
      return Endpoint{Operation::kMetrics, {}, {}, {}};
    }
    if (bucket == "_logbucket" && key == "explain" && method == "GET") {
      return Endpoint{Operation::kExplain, {}, {}, {}};
    }
  }

  // IAM/STS style form posts are not S3 REST: refuse at once.
  if (Has(q, "Action")) return Unsupported("the IAM/STS query API (Action=)");

  if (bucket.empty()) {
    if (method == "GET") return Endpoint{Operation::kListBuckets, {}, {}, {}};
    // POST / is how IAM/STS form requests (Action=... in the body) arrive.
    if (method == "POST") return Unsupported("the IAM/STS query API (POST /)");
    return Error(ErrorCode::kMethodNotAllowed);
  }
  // A browser's preflight asks about the request it is about to make, whatever its target.
  if (method == "OPTIONS") return Endpoint{Operation::kCorsPreflight, bucket, key, {}};
  if (key.empty()) {
    // Bucket configuration documents.
    auto config = [&](Operation get, Operation put, Operation del) -> Result<Endpoint> {
      if (method == "GET") return Endpoint{get, bucket, {}, {}};
      if (method == "PUT") return Endpoint{put, bucket, {}, {}};
      if (method == "DELETE") return Endpoint{del, bucket, {}, {}};
      return Error(ErrorCode::kMethodNotAllowed);
    };
    if (Has(q, "policy")) {
      return config(Operation::kGetBucketPolicy, Operation::kPutBucketPolicy,
                    Operation::kDeleteBucketPolicy);
    }
    if (Has(q, "cors")) {
      return config(Operation::kGetBucketCors, Operation::kPutBucketCors,
                    Operation::kDeleteBucketCors);
    }
    if (Has(q, "ownershipControls")) {
      return config(Operation::kGetBucketOwnershipControls, Operation::kPutBucketOwnershipControls,
                    Operation::kDeleteBucketOwnershipControls);
    }
    if (Has(q, "publicAccessBlock")) {
      return config(Operation::kGetPublicAccessBlock, Operation::kPutPublicAccessBlock,
                    Operation::kDeletePublicAccessBlock);
    }
    if (Has(q, "policyStatus")) {
      if (method == "GET") return Endpoint{Operation::kGetBucketPolicyStatus, bucket, {}, {}};
      return Error(ErrorCode::kMethodNotAllowed);
    }
    if (Has(q, "lifecycle")) {
      return config(Operation::kGetBucketLifecycle, Operation::kPutBucketLifecycle,
                    Operation::kDeleteBucketLifecycle);
    }
    if (Has(q, "tagging")) return Unsupported("bucket tagging", bucket);
  } else {
    if (Has(q, "tagging")) {
      if (method == "GET") return Endpoint{Operation::kGetObjectTagging, bucket, key, {}};
      if (method == "PUT") return Endpoint{Operation::kPutObjectTagging, bucket, key, {}};
      if (method == "DELETE") return Endpoint{Operation::kDeleteObjectTagging, bucket, key, {}};
      return Error(ErrorCode::kMethodNotAllowed);
    }
    for (const char* sub : {"policy", "policyStatus", "lifecycle"}) {
      if (Has(q, sub)) return Unsupported(std::string("?") + sub + " on an object", bucket, key);
    }
  }
  for (const char* sub : kUnsupportedSubresources) {
    if (Has(q, sub)) return Unsupported(std::string("?") + sub, bucket, key);
  }

  if (key.empty()) {
    if (method == "GET") {
      if (Has(q, "location")) return Endpoint{Operation::kGetBucketLocation, bucket, {}, {}};
      if (Has(q, "versioning")) return Endpoint{Operation::kGetBucketVersioning, bucket, {}, {}};
      if (Has(q, "acl")) return Endpoint{Operation::kGetBucketAcl, bucket, {}, {}};
      if (Has(q, "versions")) return Endpoint{Operation::kListObjectVersions, bucket, {}, {}};
      if (Has(q, "uploads")) return Endpoint{Operation::kListMultipartUploads, bucket, {}, {}};
      const QueryParam* list_type = FindQuery(q, "list-type");
      if (list_type != nullptr && list_type->value == "2") {
        return Endpoint{Operation::kListObjectsV2, bucket, {}, {}};
      }
      return Endpoint{Operation::kListObjects, bucket, {}, {}};
    }
    if (method == "HEAD") return Endpoint{Operation::kHeadBucket, bucket, {}, {}};
    if (method == "PUT") {
      if (Has(q, "versioning")) return Unsupported("PutBucketVersioning", bucket);
      if (Has(q, "acl")) return Endpoint{Operation::kPutBucketAcl, bucket, {}, {}};
      return Endpoint{Operation::kCreateBucket, bucket, {}, {}};
    }
    if (method == "DELETE") return Endpoint{Operation::kDeleteBucket, bucket, {}, {}};
    if (method == "POST") {
      if (Has(q, "delete")) return Endpoint{Operation::kDeleteObjects, bucket, {}, {}};
      return Unsupported("POST object (browser form upload)", bucket);
    }
    return Error(ErrorCode::kMethodNotAllowed);
  }

  const bool has_upload_id = Has(q, "uploadId");
  if (method == "GET") {
    if (Has(q, "acl")) return Endpoint{Operation::kGetObjectAcl, bucket, key, {}};
    if (Has(q, "attributes")) return Endpoint{Operation::kGetObjectAttributes, bucket, key, {}};
    if (has_upload_id) return Endpoint{Operation::kListParts, bucket, key, {}};
    return Endpoint{Operation::kGetObject, bucket, key, {}};
  }
  if (method == "HEAD") return Endpoint{Operation::kHeadObject, bucket, key, {}};
  if (method == "PUT") {
    if (Has(q, "acl")) return Endpoint{Operation::kPutObjectAcl, bucket, key, {}};
    bool copy = in.headers != nullptr && FindHeader(*in.headers, "x-amz-copy-source").has_value();
    if (Has(q, "partNumber") && has_upload_id) {
      return Endpoint{copy ? Operation::kUploadPartCopy : Operation::kUploadPart, bucket, key, {}};
    }
    return Endpoint{copy ? Operation::kCopyObject : Operation::kPutObject, bucket, key, {}};
  }
  if (method == "DELETE") {
    if (has_upload_id) return Endpoint{Operation::kAbortMultipartUpload, bucket, key, {}};
    return Endpoint{Operation::kDeleteObject, bucket, key, {}};
  }
  if (method == "POST") {
    if (Has(q, "uploads")) return Endpoint{Operation::kCreateMultipartUpload, bucket, key, {}};
    if (has_upload_id) return Endpoint{Operation::kCompleteMultipartUpload, bucket, key, {}};
    return Unsupported("POST on an object", bucket, key);
  }
  return Error(ErrorCode::kMethodNotAllowed);
}

}  // namespace logbucket::s3
