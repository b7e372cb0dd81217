// Signature Version 2 against the examples of AWS's "Signing and authenticating REST requests"
// (bucket johnsmith, AWS's example keys; expected signatures are AWS's, except where noted).
#include <gtest/gtest.h>

#include "common/encoding.h"
#include "sigv4/sigv4.h"

namespace logbucket::sigv4 {
namespace {

constexpr char kAccess[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

SecretLookup Lookup() {
  return [](std::string_view key) -> std::optional<std::string> {
    if (key == kAccess) return std::string(kSecret);
    return std::nullopt;
  };
}

int64_t At(std::string_view http_date) { return *ParseHttpDate(http_date); }

Result<Authenticated> VerifyRaw(std::string_view method, std::string_view path,
                                std::string_view raw_query, const Headers& headers,
                                std::string_view host_bucket, int64_t now_ms,
                                MismatchDetails* details = nullptr) {
  auto query = ParseQuery(raw_query);
  RequestView view{method, path, raw_query, &headers, host_bucket};
  return Verify(view, *query, Lookup(), now_ms, details);
}

TEST(SigV2, AwsObjectGetExample) {
  Headers headers = {{"host", "johnsmith.s3.amazonaws.com"},
                     {"date", "Tue, 27 Mar 2007 19:36:42 +0000"},
                     {"authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}};
  auto auth = VerifyRaw("GET", "/photos/puppy.jpg", "", headers, "johnsmith",
                        At("Tue, 27 Mar 2007 19:40:00 +0000"));
  ASSERT_TRUE(auth.has_value()) << auth.error().ToString();
  EXPECT_EQ(auth->access_key, kAccess);
  EXPECT_EQ(auth->signature_version, 2);
  EXPECT_FALSE(auth->presigned);
  // Path style signs the same resource.
  auto path_style = VerifyRaw("GET", "/johnsmith/photos/puppy.jpg", "", headers, "",
                              At("Tue, 27 Mar 2007 19:40:00 +0000"));
  EXPECT_TRUE(path_style.has_value());
}

TEST(SigV2, AwsObjectPutExampleSignsContentType) {
  Headers headers = {{"host", "johnsmith.s3.amazonaws.com"},
                     {"content-type", "image/jpeg"},
                     {"content-length", "94328"},
                     {"date", "Tue, 27 Mar 2007 21:15:45 +0000"},
                     {"authorization", "AWS AKIAIOSFODNN7EXAMPLE:MyyxeRY7whkBe+bq8fHCL/2kKUg="}};
  const int64_t now = At("Tue, 27 Mar 2007 21:16:00 +0000");
  EXPECT_TRUE(VerifyRaw("PUT", "/photos/puppy.jpg", "", headers, "johnsmith", now).has_value());
  headers[1].value = "text/html";  // a changed Content-Type breaks the signature
  MismatchDetails details;
  auto changed = VerifyRaw("PUT", "/photos/puppy.jpg", "", headers, "johnsmith", now, &details);
  ASSERT_FALSE(changed.has_value());
  EXPECT_EQ(changed.error().code(), ErrorCode::kSignatureDoesNotMatch);
  EXPECT_EQ(details.string_to_sign,
            "PUT\n\ntext/html\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg");
}

TEST(SigV2, AwsListExampleLeavesListingParametersUnsigned) {
  Headers headers = {{"host", "johnsmith.s3.amazonaws.com"},
                     {"user-agent", "Mozilla/5.0"},
                     {"date", "Tue, 27 Mar 2007 19:42:41 +0000"},
                     {"authorization", "AWS AKIAIOSFODNN7EXAMPLE:htDYFYduRNen8P9ZfE/s9SuKy0U="}};
  auto auth = VerifyRaw("GET", "/", "prefix=photos&max-keys=50&marker=puppy", headers, "johnsmith",
                        At("Tue, 27 Mar 2007 19:43:00 +0000"));
  EXPECT_TRUE(auth.has_value()) << auth.error().ToString();
}

TEST(SigV2, XAmzDateLeavesTheDateLineEmptyAndSubresourcesAreSigned) {
  // Signature computed independently (Python's hmac) over
  // "GET\n\n\n\nx-amz-date:Tue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl".
  Headers headers = {{"host", "johnsmith.s3.amazonaws.com"},
                     {"x-amz-date", "Tue, 27 Mar 2007 19:44:46 +0000"},
                     {"authorization", "AWS AKIAIOSFODNN7EXAMPLE:3HZjSAGG7DgcElf1Bv2MwccADxY="}};
  const int64_t now = At("Tue, 27 Mar 2007 19:45:00 +0000");
  EXPECT_TRUE(VerifyRaw("GET", "/", "acl", headers, "johnsmith", now).has_value());
  // Without the sub-resource it is another request.
  auto other = VerifyRaw("GET", "/", "", headers, "johnsmith", now);
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), ErrorCode::kSignatureDoesNotMatch);
  // Old requests are refused as SigV4's are.
  auto late = VerifyRaw("GET", "/", "acl", headers, "johnsmith", now + 16 * 60 * 1000);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), ErrorCode::kRequestTimeTooSkewed);
}

TEST(SigV2, AwsQueryStringExampleAndExpiry) {
  Headers headers = {{"host", "johnsmith.s3.amazonaws.com"}};
  const std::string query =
      "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&"
      "Expires=1175139620";
  const int64_t expires_ms = int64_t{1175139620} * 1000;
  auto auth =
      VerifyRaw("GET", "/photos/puppy.jpg", query, headers, "johnsmith", expires_ms - 60 * 1000);
  ASSERT_TRUE(auth.has_value()) << auth.error().ToString();
  EXPECT_TRUE(auth->presigned);
  auto expired = VerifyRaw("GET", "/photos/puppy.jpg", query, headers, "johnsmith", expires_ms);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code(), ErrorCode::kAccessDenied);
  // A link valid for more than a week is refused, as SigV4's X-Amz-Expires is.
  auto too_long = VerifyRaw("GET", "/photos/puppy.jpg", query, headers, "johnsmith",
                            expires_ms - 8 * 24 * 3600 * 1000LL);
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code(), ErrorCode::kAccessDenied);
  // Another key, same signature: the key is unknown.
  auto unknown = VerifyRaw("GET", "/photos/puppy.jpg",
                           "AWSAccessKeyId=NOPE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&"
                           "Expires=1175139620",
                           headers, "johnsmith", expires_ms - 60 * 1000);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kInvalidAccessKeyId);
}

TEST(SigV2, RepeatedSubresourcesStillVerifyAsOne) {
  // The signed form lists a repeated sub-resource as sent; the request is refused or accepted
  // on its signature alone (the server tries one doubled-name candidate per distinct name).
  Headers headers = {{"host", "johnsmith.s3.amazonaws.com"},
                     {"x-amz-date", "Tue, 27 Mar 2007 19:44:46 +0000"},
                     {"authorization", "AWS AKIAIOSFODNN7EXAMPLE:3HZjSAGG7DgcElf1Bv2MwccADxY="}};
  std::string query = "acl";
  for (int i = 0; i < 5000; ++i) query += "&acl";
  auto auth =
      VerifyRaw("GET", "/", query, headers, "johnsmith", At("Tue, 27 Mar 2007 19:45:00 +0000"));
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().code(), ErrorCode::kSignatureDoesNotMatch);
}

TEST(SigV2, MalformedHeaderIsAClearError) {
  Headers headers = {{"host", "johnsmith.s3.amazonaws.com"},
                     {"date", "Tue, 27 Mar 2007 19:36:42 +0000"},
                     {"authorization", "AWS AKIAIOSFODNN7EXAMPLE"}};
  auto auth = VerifyRaw("GET", "/photos/puppy.jpg", "", headers, "johnsmith",
                        At("Tue, 27 Mar 2007 19:40:00 +0000"));
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace logbucket::sigv4
