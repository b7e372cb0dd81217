// ACLs: what canned ACLs, grant headers and AccessControlPolicy documents turn into, how they
// are stored, and what they allow (AWS's "Access control list (ACL) overview").
#include "s3/acl.h"

#include <gtest/gtest.h>

namespace logbucket::s3 {
namespace {

using G = AclGrant::Grantee;

AclContext Context(bool for_bucket = false) {
  AclContext c{"alice", "bob", for_bucket, {}};
  c.user_exists = [](const std::string& name) { return name == "alice" || name == "bob"; };
  return c;
}

Acl FromHeaders(const Headers& headers, bool for_bucket = false) {
  auto acl = AclFromHeaders(headers, Context(for_bucket));
  EXPECT_TRUE(acl.has_value()) << acl.error().ToString();
  EXPECT_TRUE(acl.has_value() && acl->has_value());
  return acl && *acl ? **acl : Acl{};
}

TEST(Acl, CannedAclsExpandAsAwsDocuments) {
  EXPECT_EQ(FromHeaders({{"x-amz-acl", "private"}}), PrivateAcl("alice"));
  Acl public_read = FromHeaders({{"x-amz-acl", "public-read"}});
  EXPECT_EQ(public_read.grants, (std::vector<AclGrant>{{G::kAllUsers, "", kAclRead},
                                                       {G::kUser, "alice", kAclFullControl}}));
  Acl bucket_owner = FromHeaders({{"x-amz-acl", "bucket-owner-full-control"}});
  EXPECT_EQ(bucket_owner.grants, (std::vector<AclGrant>{{G::kUser, "alice", kAclFullControl},
                                                        {G::kUser, "bob", kAclFullControl}}));
  // On a bucket, bucket-owner-* mean private.
  EXPECT_EQ(FromHeaders({{"x-amz-acl", "bucket-owner-read"}}, true), PrivateAcl("alice"));
  auto bad = AclFromHeaders({{"x-amz-acl", "public-everything"}}, Context());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  auto none = AclFromHeaders({{"content-type", "text/plain"}}, Context());
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
}

TEST(Acl, GrantHeaders) {
  Acl acl = FromHeaders(
      {{"x-amz-grant-full-control", "id=\"bob\""},
       {"x-amz-grant-read", "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\", id=alice"}});
  // In permission order, as RGW lists them; the owner gets nothing unless named.
  EXPECT_EQ(acl.grants, (std::vector<AclGrant>{{G::kAllUsers, "", kAclRead},
                                               {G::kUser, "alice", kAclRead},
                                               {G::kUser, "bob", kAclFullControl}}));
  auto unknown = AclFromHeaders({{"x-amz-grant-read", "id=mallory"}}, Context());
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kInvalidArgument);
  auto email = AclFromHeaders({{"x-amz-grant-read", "emailAddress=\"a@b.c\""}}, Context());
  ASSERT_FALSE(email.has_value());
  EXPECT_EQ(email.error().code(), ErrorCode::kUnresolvableGrantByEmailAddress);
  auto both = AclFromHeaders({{"x-amz-acl", "private"}, {"x-amz-grant-read", "id=bob"}}, Context());
  ASSERT_FALSE(both.has_value());
  EXPECT_EQ(both.error().code(), ErrorCode::kInvalidRequest);
}

TEST(Acl, StoredFormRoundTripsAndPrivateStoresNothing) {
  EXPECT_EQ(EncodeAcl(PrivateAcl("alice"), "alice"), "");
  EXPECT_EQ(DecodeAcl("", "alice"), PrivateAcl("alice"));
  Acl acl{{{G::kAuthenticatedUsers, "", kAclRead}, {G::kUser, "bob", kAclWriteAcp}}};
  std::string stored = EncodeAcl(acl, "alice");
  EXPECT_EQ(stored, "v1,READ:group:AuthenticatedUsers,WRITE_ACP:user:bob");
  EXPECT_EQ(DecodeAcl(stored, "alice"), acl);
  // No grants at all (the owner took its own away) is not private.
  EXPECT_EQ(DecodeAcl(EncodeAcl(Acl{}, "alice"), "alice"), Acl{});
}

TEST(Acl, XmlRoundTrip) {
  Acl acl{{{G::kAllUsers, "", kAclRead}, {G::kUser, "bob", kAclFullControl}}};
  std::string xml = AclToXml(acl, "alice");
  EXPECT_NE(xml.find("<Owner><ID>alice</ID><DisplayName>alice</DisplayName></Owner>"),
            std::string::npos);
  EXPECT_NE(xml.find("xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/AllUsers"
                     "</URI></Grantee><Permission>READ</Permission>"),
            std::string::npos);
  auto parsed = AclFromXml(xml, Context());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(*parsed, acl);
  // Groups are listed before users whatever the stored order.
  std::string reordered = AclToXml(Acl{{acl.grants[1], acl.grants[0]}}, "alice");
  EXPECT_LT(reordered.find("AllUsers"), reordered.find("<ID>bob"));
  // Another owner in the document: refused, an ACL cannot change the owner.
  std::string other = xml;
  other.replace(other.find("<ID>alice"), 9, "<ID>bob");
  auto refused = AclFromXml(other, Context());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kAccessDenied);
  auto malformed = AclFromXml(
      "<AccessControlPolicy><AccessControlList><Grant><Permission>READ"
      "</Permission></Grant></AccessControlList></AccessControlPolicy>",
      Context());
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().code(), ErrorCode::kMalformedACLError);
}

TEST(Acl, WhatGrantsAllow) {
  Acl acl{{{G::kAllUsers, "", kAclRead},
           {G::kAuthenticatedUsers, "", kAclReadAcp},
           {G::kUser, "bob", kAclWrite}}};
  EXPECT_TRUE(AclAllows(acl, "", kAclRead));          // anonymous: AllUsers
  EXPECT_FALSE(AclAllows(acl, "", kAclReadAcp));      // not signed in
  EXPECT_TRUE(AclAllows(acl, "carol", kAclReadAcp));  // any signed-in user
  EXPECT_FALSE(AclAllows(acl, "carol", kAclWrite));
  EXPECT_TRUE(AclAllows(acl, "bob", kAclWrite));
  EXPECT_FALSE(AclAllows(PrivateAcl(""), "", kAclRead));  // an empty owner is nobody
  EXPECT_TRUE(AclAllows(PrivateAcl("bob"), "bob", kAclWriteAcp));
  EXPECT_TRUE(AclIsPublic(acl));
  EXPECT_FALSE(AclIsPublic(PrivateAcl("bob")));
}

TEST(Acl, ActionsMapToPermissionsAsAwsDocuments) {
  EXPECT_EQ(AclPermissionFor("s3:ListBucket", false), kAclRead);
  EXPECT_EQ(AclPermissionFor("s3:PutObject", false), kAclWrite);
  EXPECT_EQ(AclPermissionFor("s3:DeleteObject", false), kAclWrite);
  EXPECT_EQ(AclPermissionFor("s3:GetBucketAcl", false), kAclReadAcp);
  EXPECT_EQ(AclPermissionFor("s3:PutBucketAcl", false), kAclWriteAcp);
  EXPECT_EQ(AclPermissionFor("s3:GetObject", true), kAclRead);
  EXPECT_EQ(AclPermissionFor("s3:GetObjectAcl", true), kAclReadAcp);
  EXPECT_EQ(AclPermissionFor("s3:PutObjectAcl", true), kAclWriteAcp);
  // Nothing an ACL can grant: the policy, lifecycle, deleting the bucket.
  EXPECT_EQ(AclPermissionFor("s3:PutBucketPolicy", false), 0u);
  EXPECT_EQ(AclPermissionFor("s3:DeleteBucket", false), 0u);
  EXPECT_EQ(AclPermissionFor("s3:PutLifecycleConfiguration", false), 0u);
  EXPECT_EQ(AclPermissionFor("s3:GetObject", false), 0u);
}

TEST(Acl, OwnershipControlsDocuments) {
  auto parsed = ParseOwnershipControls(OwnershipControlsXml(kBucketOwnerPreferred));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, kBucketOwnerPreferred);
  auto unknown = ParseOwnershipControls(
      "<OwnershipControls><Rule><ObjectOwnership>Anyone</ObjectOwnership></Rule>"
      "</OwnershipControls>");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kMalformedXML);
  EXPECT_FALSE(ParseOwnershipControls("<OwnershipControls/>").has_value());
  EXPECT_EQ(ParseObjectOwnership("ObjectWriter").value_or(""), "ObjectWriter");
  EXPECT_FALSE(ParseObjectOwnership("objectwriter").has_value());
}

TEST(Acl, PublicAccessBlockDocuments) {
  auto parsed = ParsePublicAccessBlock(
      "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
      "<RestrictPublicBuckets>TRUE</RestrictPublicBuckets></PublicAccessBlockConfiguration>");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_TRUE(parsed->block_public_acls);
  EXPECT_FALSE(parsed->ignore_public_acls);  // missing: false
  EXPECT_FALSE(parsed->block_public_policy);
  EXPECT_TRUE(parsed->restrict_public_buckets);
  EXPECT_EQ(parsed->ToStored(), "1001");
  auto again = ParsePublicAccessBlock(PublicAccessBlockXml(PublicAccessBlock::FromStored("0110")));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->ToStored(), "0110");
  EXPECT_FALSE(ParsePublicAccessBlock("<PublicAccessBlockConfiguration><BlockPublicAcls>yes"
                                      "</BlockPublicAcls></PublicAccessBlockConfiguration>")
                   .has_value());
  EXPECT_EQ(WithoutPublicGrants(Acl{{{G::kAllUsers, "", kAclRead}, {G::kUser, "a", kAclRead}}}),
            (Acl{{{G::kUser, "a", kAclRead}}}));
}

}  // namespace
}  // namespace logbucket::s3
