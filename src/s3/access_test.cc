// The action → permission table: which IAM action a bucket policy (and an ACL) is asked about for
// each operation, from AWS's "Actions, resources, and condition keys for Amazon S3" and the
// "Required permissions" paragraph of each API reference page.
#include "s3/access.h"

#include <gtest/gtest.h>

#include <set>

#include "sigv4/sigv4.h"

namespace logbucket::s3 {
namespace {

struct ActionCase {
  Operation operation;
  const char* action;  // "" = no bucket-level check (answered before or beside authorisation)
  bool on_object;      // checked against arn:aws:s3:::BUCKET/KEY rather than the bucket ARN
};

constexpr ActionCase kActions[] = {
    {Operation::kHealth, "", false},
    {Operation::kMetrics, "", false},
    {Operation::kListBuckets, "s3:ListAllMyBuckets", false},
    {Operation::kCreateBucket, "s3:CreateBucket", false},
    {Operation::kHeadBucket, "s3:ListBucket", false},  // HeadBucket: "you must have s3:ListBucket"
    {Operation::kDeleteBucket, "s3:DeleteBucket", false},
    {Operation::kGetBucketLocation, "s3:GetBucketLocation", false},
    {Operation::kGetBucketVersioning, "s3:GetBucketVersioning", false},
    {Operation::kGetBucketAcl, "s3:GetBucketAcl", false},
    {Operation::kGetObjectAcl, "s3:GetObjectAcl", true},
    {Operation::kPutBucketAcl, "s3:PutBucketAcl", false},
    {Operation::kPutObjectAcl, "s3:PutObjectAcl", true},
    {Operation::kGetBucketCors, "s3:GetBucketCORS", false},
    {Operation::kPutBucketCors, "s3:PutBucketCORS", false},
    {Operation::kDeleteBucketCors, "s3:PutBucketCORS", false},  // DeleteBucketCors needs Put
    {Operation::kGetBucketOwnershipControls, "s3:GetBucketOwnershipControls", false},
    {Operation::kPutBucketOwnershipControls, "s3:PutBucketOwnershipControls", false},
    {Operation::kDeleteBucketOwnershipControls, "s3:PutBucketOwnershipControls", false},
    {Operation::kGetPublicAccessBlock, "s3:GetBucketPublicAccessBlock", false},
    {Operation::kPutPublicAccessBlock, "s3:PutBucketPublicAccessBlock", false},
    {Operation::kDeletePublicAccessBlock, "s3:PutBucketPublicAccessBlock", false},
    {Operation::kGetObjectAttributes, "s3:GetObjectAttributes", true},
    {Operation::kCorsPreflight, "", false},
    {Operation::kListObjects, "s3:ListBucket", false},
    {Operation::kListObjectsV2, "s3:ListBucket", false},
    {Operation::kListObjectVersions, "s3:ListBucketVersions", false},
    {Operation::kListMultipartUploads, "s3:ListBucketMultipartUploads", false},
    {Operation::kDeleteObjects, "s3:DeleteObject", false},  // then checked per key
    {Operation::kPutObject, "s3:PutObject", true},
    {Operation::kCopyObject, "s3:PutObject", true},  // (and s3:GetObject on the source)
    {Operation::kGetObject, "s3:GetObject", true},
    {Operation::kHeadObject, "s3:GetObject", true},
    {Operation::kDeleteObject, "s3:DeleteObject", true},
    {Operation::kCreateMultipartUpload, "s3:PutObject", true},
    {Operation::kUploadPart, "s3:PutObject", true},
    {Operation::kUploadPartCopy, "s3:PutObject", true},
    {Operation::kCompleteMultipartUpload, "s3:PutObject", true},
    {Operation::kAbortMultipartUpload, "s3:AbortMultipartUpload", true},
    {Operation::kListParts, "s3:ListMultipartUploadParts", true},
    {Operation::kGetBucketPolicy, "s3:GetBucketPolicy", false},
    {Operation::kPutBucketPolicy, "s3:PutBucketPolicy", false},
    {Operation::kDeleteBucketPolicy, "s3:DeleteBucketPolicy", false},
    {Operation::kGetBucketPolicyStatus, "s3:GetBucketPolicyStatus", false},
    {Operation::kGetBucketLifecycle, "s3:GetLifecycleConfiguration", false},
    {Operation::kPutBucketLifecycle, "s3:PutLifecycleConfiguration", false},
    {Operation::kDeleteBucketLifecycle, "s3:PutLifecycleConfiguration", false},
    {Operation::kGetObjectTagging, "s3:GetObjectTagging", true},
    {Operation::kPutObjectTagging, "s3:PutObjectTagging", true},
    {Operation::kDeleteObjectTagging, "s3:DeleteObjectTagging", true},
    {Operation::kExplain, "", false},  // admin keys only, decided in the service
    {Operation::kNotImplemented, "", false},
};

TEST(IamAction, TableOfDocumentedPermissions) {
  for (const ActionCase& c : kActions) {
    SCOPED_TRACE(std::string(OperationName(c.operation)));
    EXPECT_EQ(IamAction(c.operation), c.action);
    EXPECT_EQ(IsObjectOperation(c.operation), c.on_object);
  }
}

// Every operation the router can produce is in the table above, once: a new operation cannot
// be added without deciding (and testing) what a policy is asked about it.
TEST(IamAction, TableCoversEveryOperation) {
  std::set<int> seen;
  for (const ActionCase& c : kActions) {
    EXPECT_TRUE(seen.insert(static_cast<int>(c.operation)).second)
        << OperationName(c.operation) << " twice";
  }
  const int last = static_cast<int>(Operation::kNotImplemented);
  for (int op = 0; op <= last; ++op) {
    EXPECT_TRUE(seen.count(op)) << OperationName(static_cast<Operation>(op)) << " is missing";
  }
}

// From the wire to the permission: what a policy author has to allow for the requests the CI
// bot, the viewer and operators send.
TEST(IamAction, RequestsToPermissions) {
  struct Case {
    const char* method;
    const char* target;
    const char* action;
  };
  const Case cases[] = {
      {"GET", "/logs/alisw/O2/1/abc/build/fullLog.txt", "s3:GetObject"},
      {"HEAD", "/logs/test.txt", "s3:GetObject"},
      {"GET", "/logs?list-type=2&prefix=alisw/&delimiter=/", "s3:ListBucket"},
      {"HEAD", "/logs", "s3:ListBucket"},
      {"PUT", "/logs/k", "s3:PutObject"},
      {"POST", "/logs/k?uploads", "s3:PutObject"},
      {"PUT", "/logs/k?partNumber=1&uploadId=u", "s3:PutObject"},
      {"DELETE", "/logs/k?uploadId=u", "s3:AbortMultipartUpload"},
      {"POST", "/logs?delete", "s3:DeleteObject"},
      {"PUT", "/logs?policy", "s3:PutBucketPolicy"},
      {"DELETE", "/logs?lifecycle", "s3:PutLifecycleConfiguration"},
      {"GET", "/logs/k?tagging", "s3:GetObjectTagging"},
  };
  const std::vector<std::string> domains;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    std::string_view target = c.target;
    size_t q = target.find('?');
    std::string path(target.substr(0, q));
    std::string raw_query(q == std::string_view::npos ? "" : target.substr(q + 1));
    auto query = sigv4::ParseQuery(raw_query);
    ASSERT_TRUE(query);
    Headers headers;
    RouteInput in{c.method, "h", path, &*query, &headers, &domains};
    auto endpoint = Route(in);
    ASSERT_TRUE(endpoint) << endpoint.error().message();
    EXPECT_EQ(IamAction(endpoint->operation), c.action);
  }
}

}  // namespace
}  // namespace logbucket::s3
