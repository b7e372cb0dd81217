// Parse, then handle: turns (method, host, path, query) into an Endpoint without touching any
// state. Path-style (/bucket/key) and virtual-hosted style (bucket.<domain>/key).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/headers.h"
#include "common/status.h"

namespace logbucket::s3 {

enum class Operation {
  kHealth,
  kMetrics,  // GET /_metrics: the process's Prometheus metrics (app decides who may read them)
  kListBuckets,
  kCreateBucket,
  kHeadBucket,
  kDeleteBucket,
  kGetBucketLocation,
  kGetBucketVersioning,
  kGetBucketAcl,
  kGetObjectAcl,
  kPutBucketAcl,
  kPutObjectAcl,
  kGetBucketCors,
  kPutBucketCors,
  kDeleteBucketCors,
  kGetBucketOwnershipControls,
  kPutBucketOwnershipControls,
  kDeleteBucketOwnershipControls,
  kGetPublicAccessBlock,
  kPutPublicAccessBlock,
  kDeletePublicAccessBlock,
  kGetObjectAttributes,
  kCorsPreflight,  // OPTIONS on a bucket or object: answered from the CORS rules, unauthenticated
  kListObjects,    // v1
  kListObjectsV2,
  kListObjectVersions,
  kListMultipartUploads,
  kDeleteObjects,
  kPutObject,
  kCopyObject,
  kGetObject,
  kHeadObject,
  kDeleteObject,
  kCreateMultipartUpload,
  kUploadPart,
  kUploadPartCopy,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kListParts,
  kGetBucketPolicy,
  kPutBucketPolicy,
  kDeleteBucketPolicy,
  kGetBucketPolicyStatus,
  kGetBucketLifecycle,
  kPutBucketLifecycle,
  kDeleteBucketLifecycle,
  kGetObjectTagging,
  kPutObjectTagging,
  kDeleteObjectTagging,
  kExplain,         // GET /_logbucket/explain: admin-only access-decision explanations
  kNotImplemented,  // a known S3 API we do not offer
};

std::string_view OperationName(Operation op);

struct Endpoint {
  Operation operation = Operation::kNotImplemented;
  std::string bucket;
  std::string key;
  std::string detail;  // for kNotImplemented: the sub-resource or API asked for
};

struct RouteInput {
  std::string_view method;
  std::string_view host;      // Host header (may carry a port)
  std::string_view raw_path;  // percent-encoded
  const QueryParams* query = nullptr;
  const Headers* headers = nullptr;
  const std::vector<std::string>* domains = nullptr;  // for virtual-hosted style
};

Result<Endpoint> Route(const RouteInput& input);

// The bucket a virtual-hosted request names in its Host (bucket.<domain>[:port]); nullopt for
// path style.
std::optional<std::string> VirtualHostedBucket(std::string_view host_header,
                                               const std::vector<std::string>* domains);

}  // namespace logbucket::s3
