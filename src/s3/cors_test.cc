// CORS rules as AWS documents them: origins with one wildcard, methods, requested headers, and
// the headers an allowed request gets.
#include "s3/cors.h"

#include <gtest/gtest.h>

namespace logbucket::s3::cors {
namespace {

Configuration MustParse(std::string_view xml) {
  auto parsed = Parse(xml);
  EXPECT_TRUE(parsed.has_value()) << parsed.error().ToString();
  return parsed ? *parsed : Configuration{};
}

TEST(Cors, OriginsWithAWildcardAndMethods) {
  Configuration c = MustParse(
      "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
      "<AllowedOrigin>*suffix</AllowedOrigin></CORSRule>"
      "<CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>start*end</AllowedOrigin>"
      "</CORSRule><CORSRule><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>https://*.cern.ch"
      "</AllowedOrigin></CORSRule></CORSConfiguration>");
  ASSERT_EQ(c.rules.size(), 3u);
  EXPECT_NE(Match(c, "foo.suffix", "GET"), nullptr);
  EXPECT_EQ(Match(c, "foo.suffix.get", "GET"), nullptr);
  EXPECT_EQ(Match(c, "startend", "GET"), &c.rules[1]);
  EXPECT_EQ(Match(c, "start12end", "GET"), &c.rules[1]);
  EXPECT_EQ(Match(c, "0start12end", "GET"), nullptr);
  EXPECT_EQ(Match(c, "https://alice.cern.ch", "PUT"), &c.rules[2]);
  EXPECT_EQ(Match(c, "https://alice.cern.ch", "GET"), nullptr);  // no GET rule for it
  EXPECT_EQ(Match(c, "http://alice.cern.ch", "PUT"), nullptr);
}

TEST(Cors, RequestedHeadersMustAllBeAllowed) {
  Configuration c = MustParse(
      "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*"
      "</AllowedOrigin><AllowedHeader>x-amz-meta-*</AllowedHeader><AllowedHeader>Range"
      "</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds>"
      "</CORSRule></CORSConfiguration>");
  EXPECT_NE(Match(c, "x", "GET", {"range", "x-amz-meta-a"}), nullptr);
  EXPECT_EQ(Match(c, "x", "GET", {"range", "authorization"}), nullptr);
  Headers out;
  AddHeaders(c.rules[0], "https://page.example", {"range"}, out);
  EXPECT_EQ(FindHeader(out, "access-control-allow-origin"), "*");  // the rule allows any
  EXPECT_EQ(FindHeader(out, "access-control-allow-methods"), "GET");
  EXPECT_EQ(FindHeader(out, "access-control-allow-headers"), "range");
  EXPECT_EQ(FindHeader(out, "access-control-expose-headers"), "ETag");
  EXPECT_EQ(FindHeader(out, "access-control-max-age"), "600");
  EXPECT_FALSE(FindHeader(out, "access-control-allow-credentials").has_value());
}

TEST(Cors, BadDocumentsAreRefusedWithTheReason) {
  auto method = Parse(
      "<CORSConfiguration><CORSRule><AllowedMethod>PATCH</AllowedMethod><AllowedOrigin>*"
      "</AllowedOrigin></CORSRule></CORSConfiguration>");
  ASSERT_FALSE(method.has_value());
  EXPECT_EQ(method.error().code(), ErrorCode::kInvalidRequest);
  auto two_wildcards = Parse(
      "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*a*"
      "</AllowedOrigin></CORSRule></CORSConfiguration>");
  ASSERT_FALSE(two_wildcards.has_value());
  EXPECT_EQ(two_wildcards.error().code(), ErrorCode::kInvalidRequest);
  EXPECT_FALSE(Parse("<CORSConfiguration/>").has_value());
  auto header_wildcards = Parse(
      "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*"
      "</AllowedOrigin><AllowedHeader>x-*-*</AllowedHeader></CORSRule></CORSConfiguration>");
  ASSERT_FALSE(header_wildcards.has_value());
  EXPECT_EQ(header_wildcards.error().code(), ErrorCode::kInvalidRequest);
  // AWS's 64 KB bound on the document.
  std::string big = "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>";
  while (big.size() <= kMaxConfigurationBytes)
    big += "<AllowedOrigin>https://a.example</AllowedOrigin>";
  big += "</CORSRule></CORSConfiguration>";
  EXPECT_EQ(Parse(big).error().code(), ErrorCode::kInvalidRequest);
  EXPECT_FALSE(Parse("<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod>"
                     "</CORSRule></CORSConfiguration>")
                   .has_value());
}

TEST(Cors, APreflightNamesABoundedNumberOfHeaders) {
  auto few = SplitHeaderList(" Range, X-Amz-Date ,,");
  ASSERT_TRUE(few.has_value());
  EXPECT_EQ(*few, (std::vector<std::string>{"range", "x-amz-date"}));
  std::string many;
  for (size_t i = 0; i <= kMaxRequestHeaders; ++i) many += "h" + std::to_string(i) + ",";
  EXPECT_FALSE(SplitHeaderList(many).has_value());
}

TEST(Cors, StoredFormRoundTrips) {
  Configuration c = MustParse(
      "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><CORSRule><ID>r1"
      "</ID><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>"
      "<AllowedOrigin>https://a.example</AllowedOrigin></CORSRule></CORSConfiguration>");
  Configuration again = MustParse(ToXml(c));
  ASSERT_EQ(again.rules.size(), 1u);
  EXPECT_EQ(again.rules[0].id, "r1");
  EXPECT_EQ(again.rules[0].allowed_methods, (std::vector<std::string>{"GET", "HEAD"}));
  EXPECT_EQ(again.rules[0].allowed_origins, (std::vector<std::string>{"https://a.example"}));
}

}  // namespace
}  // namespace logbucket::s3::cors
