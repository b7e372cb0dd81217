#include "s3/access.h"

namespace logbucket::s3 {

std::string_view IamAction(Operation op) {
  switch (op) {
    case Operation::kListBuckets:
      return "s3:ListAllMyBuckets";
    case Operation::kCreateBucket:
      return "s3:CreateBucket";
    case Operation::kHeadBucket:
    case Operation::kListObjects:
    case Operation::kListObjectsV2:
      return "s3:ListBucket";
    case Operation::kDeleteBucket:
      return "s3:DeleteBucket";
    case Operation::kGetBucketLocation:
      return "s3:GetBucketLocation";
    case Operation::kGetBucketVersioning:
      return "s3:GetBucketVersioning";
    case Operation::kGetBucketAcl:
      return "s3:GetBucketAcl";
    case Operation::kGetObjectAcl:
      return "s3:GetObjectAcl";
    case Operation::kPutBucketAcl:
      return "s3:PutBucketAcl";
    case Operation::kPutObjectAcl:
      return "s3:PutObjectAcl";
    case Operation::kGetBucketCors:
      return "s3:GetBucketCORS";
    case Operation::kPutBucketCors:
    case Operation::kDeleteBucketCors:  // AWS checks the Put permission for deletes
      return "s3:PutBucketCORS";
    case Operation::kGetBucketOwnershipControls:
      return "s3:GetBucketOwnershipControls";
    case Operation::kGetObjectAttributes:
      return "s3:GetObjectAttributes";
    case Operation::kPutBucketOwnershipControls:
    case Operation::kDeleteBucketOwnershipControls:
      return "s3:PutBucketOwnershipControls";
    case Operation::kGetPublicAccessBlock:
      return "s3:GetBucketPublicAccessBlock";
    case Operation::kPutPublicAccessBlock:
    case Operation::kDeletePublicAccessBlock:
      return "s3:PutBucketPublicAccessBlock";
    case Operation::kListObjectVersions:
      return "s3:ListBucketVersions";
    case Operation::kListMultipartUploads:
      return "s3:ListBucketMultipartUploads";
    case Operation::kDeleteObjects:
    case Operation::kDeleteObject:
      return "s3:DeleteObject";
    case Operation::kPutObject:
    case Operation::kCopyObject:
    case Operation::kCreateMultipartUpload:
    case Operation::kUploadPart:
    case Operation::kUploadPartCopy:
    case Operation::kCompleteMultipartUpload:
      return "s3:PutObject";
    case Operation::kGetObject:
    case Operation::kHeadObject:
      return "s3:GetObject";
    case Operation::kAbortMultipartUpload:
      return "s3:AbortMultipartUpload";
    case Operation::kListParts:
      return "s3:ListMultipartUploadParts";
    case Operation::kGetBucketPolicy:
      return "s3:GetBucketPolicy";
    case Operation::kPutBucketPolicy:
      return "s3:PutBucketPolicy";
    case Operation::kDeleteBucketPolicy:
      return "s3:DeleteBucketPolicy";
    case Operation::kGetBucketPolicyStatus:
      return "s3:GetBucketPolicyStatus";
    case Operation::kGetBucketLifecycle:
      return "s3:GetLifecycleConfiguration";
    case Operation::kPutBucketLifecycle:
    case Operation::kDeleteBucketLifecycle:  // AWS checks the Put permission for deletes
      return "s3:PutLifecycleConfiguration";
    case Operation::kGetObjectTagging:
      return "s3:GetObjectTagging";
    case Operation::kPutObjectTagging:
      return "s3:PutObjectTagging";
    case Operation::kDeleteObjectTagging:
      return "s3:DeleteObjectTagging";
    case Operation::kHealth:
    case Operation::kMetrics:
    case Operation::kExplain:
    case Operation::kCorsPreflight:
    case Operation::kNotImplemented:
      break;
  }
  return {};
}

bool IsObjectOperation(Operation op) {
  switch (op) {
    case Operation::kGetObjectAcl:
    case Operation::kPutObjectAcl:
    case Operation::kGetObjectAttributes:
    case Operation::kPutObject:
    case Operation::kCopyObject:
    case Operation::kGetObject:
    case Operation::kHeadObject:
    case Operation::kDeleteObject:
    case Operation::kCreateMultipartUpload:
    case Operation::kUploadPart:
    case Operation::kUploadPartCopy:
    case Operation::kCompleteMultipartUpload:
    case Operation::kAbortMultipartUpload:
    case Operation::kListParts:
    case Operation::kGetObjectTagging:
    case Operation::kPutObjectTagging:
    case Operation::kDeleteObjectTagging:
      return true;
    default:
      return false;
  }
}

void DecisionLog::Record(std::string request_id, std::string explanation) {
  // Explanations of a 20 KB policy can be long; keep the ring's memory bounded.
  constexpr size_t kMaxExplanation = 4096;
  if (explanation.size() > kMaxExplanation) {
    explanation.resize(kMaxExplanation);
    explanation += "…";
  }
  std::lock_guard lock(mu_);
  if (ring_.size() < kCapacity) {
    ring_.emplace_back(std::move(request_id), std::move(explanation));
    return;
  }
  ring_[next_] = {std::move(request_id), std::move(explanation)};
  next_ = (next_ + 1) % kCapacity;
}

std::optional<std::string> DecisionLog::Find(std::string_view request_id) {
  std::lock_guard lock(mu_);
  // Newest last: search backwards so a request with several checks reports its last.
  for (size_t i = ring_.size(); i > 0; --i) {
    size_t at = (next_ + i - 1) % ring_.size();
    if (ring_[at].first == request_id) return ring_[at].second;
  }
  return std::nullopt;
}

}  // namespace logbucket::s3
