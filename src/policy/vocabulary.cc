#include <cmath>

#include "common/encoding.h"
#include "policy/statement.h"

namespace logbucket::policy {

const std::set<std::string, std::less<>>& KnownActions() {
  static const auto* actions = [] {
    auto* s = new std::set<std::string, std::less<>>();
    for (const char* name : {"AbortMultipartUpload",
                             "BypassGovernanceRetention",
                             "CreateBucket",
                             "DeleteBucket",
                             "DeleteBucketOwnershipControls",
                             "DeleteBucketPolicy",
                             "DeleteBucketWebsite",
                             "DeleteObject",
                             "DeleteObjectTagging",
                             "DeleteObjectVersion",
                             "DeleteObjectVersionTagging",
                             "GetAccelerateConfiguration",
                             "GetAnalyticsConfiguration",
                             "GetBucketAcl",
                             "GetBucketCORS",
                             "GetBucketLocation",
                             "GetBucketLogging",
                             "GetBucketNotification",
                             "GetBucketObjectLockConfiguration",
                             "GetBucketOwnershipControls",
                             "GetBucketPolicy",
                             "GetBucketPolicyStatus",
                             "GetBucketPublicAccessBlock",
                             "GetBucketRequestPayment",
                             "GetBucketTagging",
                             "GetBucketVersioning",
                             "GetBucketWebsite",
                             "GetEncryptionConfiguration",
                             "GetIntelligentTieringConfiguration",
                             "GetInventoryConfiguration",
                             "GetLifecycleConfiguration",
                             "GetMetricsConfiguration",
                             "GetObject",
                             "GetObjectAcl",
                             "GetObjectAttributes",
                             "GetObjectLegalHold",
                             "GetObjectRetention",
                             "GetObjectTagging",
                             "GetObjectTorrent",
                             "GetObjectVersion",
                             "GetObjectVersionAcl",
                             "GetObjectVersionAttributes",
                             "GetObjectVersionForReplication",
                             "GetObjectVersionTagging",
                             "GetObjectVersionTorrent",
                             "GetReplicationConfiguration",
                             "ListAllMyBuckets",
                             "ListBucket",
                             "ListBucketMultipartUploads",
                             "ListBucketVersions",
                             "ListMultipartUploadParts",
                             "ObjectOwnerOverrideToBucketOwner",
                             "PutAccelerateConfiguration",
                             "PutAnalyticsConfiguration",
                             "PutBucketAcl",
                             "PutBucketCORS",
                             "PutBucketLogging",
                             "PutBucketNotification",
                             "PutBucketObjectLockConfiguration",
                             "PutBucketOwnershipControls",
                             "PutBucketPolicy",
                             "PutBucketPublicAccessBlock",
                             "PutBucketRequestPayment",
                             "PutBucketTagging",
                             "PutBucketVersioning",
                             "PutBucketWebsite",
                             "PutEncryptionConfiguration",
                             "PutIntelligentTieringConfiguration",
                             "PutInventoryConfiguration",
                             "PutLifecycleConfiguration",
                             "PutMetricsConfiguration",
                             "PutObject",
                             "PutObjectAcl",
                             "PutObjectLegalHold",
                             "PutObjectRetention",
                             "PutObjectTagging",
                             "PutObjectVersionAcl",
                             "PutObjectVersionTagging",
                             "PutReplicationConfiguration",
                             "ReplicateDelete",
                             "ReplicateObject",
                             "ReplicateTags",
                             "RestoreObject"}) {
      s->insert(AsciiLower(name));
    }
    return s;
  }();
  return *actions;
}

bool KnownS3ConditionKey(std::string_view lower_key) {
  static const std::set<std::string, std::less<>> keys = {
      "s3:prefix",
      "s3:delimiter",
      "s3:max-keys",
      "s3:authtype",
      "s3:signatureversion",
      "s3:signatureage",
      "s3:x-amz-content-sha256",
      "s3:x-amz-acl",
      "s3:x-amz-copy-source",
      "s3:x-amz-metadata-directive",
      "s3:x-amz-server-side-encryption",
      "s3:x-amz-server-side-encryption-aws-kms-key-id",
      "s3:x-amz-server-side-encryption-customer-algorithm",
      "s3:if-match",
      "s3:if-none-match",
      "s3:objectcreationoperation",
      "s3:x-amz-object-ownership",
      "s3:resourceaccount",
      "s3:accesspointnetworkorigin",
      "s3:dataaccesspointaccount",
      "s3:dataaccesspointarn",
      "s3:x-amz-storage-class",
      "s3:x-amz-grant-read",
      "s3:x-amz-grant-write",
      "s3:x-amz-grant-read-acp",
      "s3:x-amz-grant-write-acp",
      "s3:x-amz-grant-full-control",
      "s3:locationconstraint",
      "s3:versionid",
      "s3:tlsversion",
      "s3:requestobjecttagkeys",
      "s3:object-lock-mode",
      "s3:object-lock-remaining-retention-days",
      "s3:object-lock-retain-until-date",
      "s3:object-lock-legal-hold",
  };
  if (keys.count(lower_key) > 0) return true;
  return lower_key.starts_with("s3:existingobjecttag/") ||
         lower_key.starts_with("s3:requestobjecttag/");
}

std::optional<int64_t> ParseConditionDate(std::string_view text) {
  if (!text.empty() &&
      std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9'); })) {
    auto seconds = ParseDecimal(text);
    if (!seconds) return std::nullopt;
    return *seconds * 1000;
  }
  return ParseIso8601(text);
}

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 40) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace logbucket::policy
