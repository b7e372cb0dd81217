// S3 access control lists: the grants a bucket or object carries (canned `x-amz-acl`,
// `x-amz-grant-*` headers, or an AccessControlPolicy document), their stored form, their XML, and
// what they allow. Evaluated together with the bucket policy (s3/service.cc: an explicit Deny
// wins, then any Allow, from the policy or from a grant). Users' canonical IDs are their names.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/headers.h"
#include "common/status.h"

namespace logbucket::s3 {

// Permission bits; FULL_CONTROL is all four.
enum AclPermission : unsigned {
  kAclRead = 1,
  kAclWrite = 2,
  kAclReadAcp = 4,
  kAclWriteAcp = 8,
  kAclFullControl = 15,
};

struct AclGrant {
  enum class Grantee { kUser, kAllUsers, kAuthenticatedUsers, kLogDelivery };
  Grantee grantee = Grantee::kUser;
  std::string user;         // kUser: the user's name (our canonical ID)
  unsigned permission = 0;  // one AclPermission value
  bool operator==(const AclGrant&) const = default;
};

struct Acl {
  std::vector<AclGrant> grants;
  bool operator==(const Acl&) const = default;
};

// The object-header name an object's ACL is stored under (never sent to clients).
inline constexpr std::string_view kStoredAclHeader = "x-logbucket-acl";

// The owner alone, with FULL_CONTROL: what "private" and no ACL at all mean.
Acl PrivateAcl(const std::string& owner);
// The stored form: "" for PrivateAcl(owner) (nothing to store), else one line.
std::string EncodeAcl(const Acl& acl, const std::string& owner);
// The inverse; "" (or text this version cannot read) gives PrivateAcl(owner).
Acl DecodeAcl(std::string_view stored, const std::string& owner);

// What a new ACL is checked against: who owns the resource, who owns its bucket (for
// bucket-owner-read / -full-control), and which user IDs exist.
struct AclContext {
  std::string owner;
  std::string bucket_owner;
  bool for_bucket = false;
  std::function<bool(const std::string& user)> user_exists;
};

// The ACL an upload, a new bucket or PutBucketAcl/PutObjectAcl asks for with `x-amz-acl` or
// `x-amz-grant-*` headers; nullopt when neither is present. Both at once: InvalidRequest; an
// unknown canned ACL: InvalidArgument; a grant by e-mail: UnresolvableGrantByEmailAddress.
Result<std::optional<Acl>> AclFromHeaders(const Headers& headers, const AclContext& context);
// An AccessControlPolicy document (PutBucketAcl/PutObjectAcl body).
Result<Acl> AclFromXml(std::string_view body, const AclContext& context);
// The GetBucketAcl/GetObjectAcl answer.
std::string AclToXml(const Acl& acl, const std::string& owner);

// Whether `acl` gives the caller every bit of `needed`. `user` is empty for anonymous callers.
bool AclAllows(const Acl& acl, std::string_view user, unsigned needed);
// The permission an IAM action needs from a bucket's (on_object false) or an object's ACL;
// 0 when no grant can allow it (policy documents, lifecycle, deleting the bucket ...).
unsigned AclPermissionFor(std::string_view action, bool on_object);
// Whether the ACL grants anything to everyone or to every signed-in user.
bool AclIsPublic(const Acl& acl);
// The ACL without those grants (what IgnorePublicAcls leaves).
Acl WithoutPublicGrants(Acl acl);

// Object ownership controls: who owns what is written into a bucket.
inline constexpr std::string_view kBucketOwnerEnforced = "BucketOwnerEnforced";  // no ACLs
inline constexpr std::string_view kBucketOwnerPreferred = "BucketOwnerPreferred";
inline constexpr std::string_view kObjectWriter = "ObjectWriter";
// A PutBucketOwnershipControls body or an x-amz-object-ownership value: one of the three.
Result<std::string> ParseOwnershipControls(std::string_view body);
Result<std::string> ParseObjectOwnership(std::string_view value);
std::string OwnershipControlsXml(std::string_view ownership);

// A bucket's public access block (stored as four "1"/"0" flags in this order).
struct PublicAccessBlock {
  bool block_public_acls = false;
  bool ignore_public_acls = false;
  bool block_public_policy = false;
  bool restrict_public_buckets = false;

  static PublicAccessBlock FromStored(std::string_view flags);
  std::string ToStored() const;
};
Result<PublicAccessBlock> ParsePublicAccessBlock(std::string_view body);
std::string PublicAccessBlockXml(const PublicAccessBlock& block);

}  // namespace logbucket::s3
