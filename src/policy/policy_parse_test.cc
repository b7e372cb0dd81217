// The policy grammar: what is refused, with which message (AWS's MalformedPolicy wording where it
// has one), and the limits; wildcard matching.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/policy.h"

namespace logbucket::policy {
namespace {

std::string Doc(const std::string& statements) {
  return R"({"Version":"2012-10-17","Statement":[)" + statements + "]}";
}

const std::string kAllowAnyGet =
    R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*")";

struct GrammarCase {
  std::string name;
  std::string json;
  std::string message_part;  // must appear in the MalformedPolicy message
};

TEST(PolicyParse, GrammarErrors) {
  const std::string ok_statement =
      R"("Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*")";
  const std::vector<GrammarCase> cases = {
      {"not JSON", "{", "not valid JSON"},
      {"not an object", "[]", "JSON object"},
      {"empty", "   ", "empty"},
      {"unknown top-level field", R"({"Version":"2012-10-17","Statment":[]})",
       "Unknown field Statment"},
      {"bad version", R"({"Version":"2020-01-01","Statement":[{)" + ok_statement + "}]}",
       "Version"},
      {"no statement", R"({"Version":"2012-10-17"})", "Missing required field Statement"},
      {"empty statement list", R"({"Statement":[]})", "Statement must be"},
      {"missing effect",
       R"({"Statement":{"Principal":"*","Action":"s3:GetObject","Resource":"*"}})",
       "Statement[0]: missing required field Effect"},
      {"lower-case effect",
       R"({"Statement":[{"Effect":"allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]})",
       "Effect must be"},
      {"missing principal",
       R"({"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]})",
       "missing required field Principal"},
      {"principal and notprincipal",
       R"({"Statement":[{)" + ok_statement + R"(,"NotPrincipal":"*"}]})", "cannot both be given"},
      {"allow with notprincipal (grants to the world, anonymous included)",
       R"({"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]})",
       "NotPrincipal can only be used with"},
      {"service principal",
       R"({"Statement":[{"Effect":"Allow","Principal":{"Service":"x"},"Action":"s3:GetObject","Resource":"*"}]})",
       "principal type \"Service\""},
      {"bad principal",
       R"({"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"*"}]})",
       "Invalid principal in policy: \"bob\""},
      {"non-s3 action",
       R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"iam:CreateUser","Resource":"*"}]})",
       "invalid action \"iam:CreateUser\""},
      {"misspelt action",
       R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"*"}]})",
       "invalid action \"s3:GetObjekt\""},
      {"action list with a number",
       R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject",5],"Resource":"*"}]})",
       "Action must contain only strings"},
      {"bad resource",
       R"({"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:sqs:::q"}]})",
       "invalid resource \"arn:aws:sqs:::q\""},
      {"unknown statement field", R"({"Statement":[{)" + ok_statement + R"(,"Conditions":{}}]})",
       "unknown field Conditions"},
      {"unknown operator",
       R"({"Statement":[{)" + ok_statement +
           R"(,"Condition":{"StringMatches":{"aws:UserAgent":"x"}}}]})",
       "Invalid Condition type : StringMatches"},
      {"operator case",
       R"({"Statement":[{)" + ok_statement +
           R"(,"Condition":{"ipaddress":{"aws:SourceIp":"10.0.0.1"}}}]})",
       "Invalid Condition type : ipaddress"},
      {"bad CIDR",
       R"({"Statement":[{)" + ok_statement +
           R"(,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}]})",
       "\"10.0.0.0/33\" is not an IP address or CIDR"},
      {"bad condition key",
       R"({"Statement":[{)" + ok_statement +
           R"(,"Condition":{"StringEquals":{"s3:nonsense":"x"}}}]})",
       "invalid condition key \"s3:nonsense\""},
      {"foreign condition namespace",
       R"({"Statement":[{)" + ok_statement +
           R"(,"Condition":{"StringEquals":{"ec2:Region":"x"}}}]})",
       "invalid condition key"},
      {"nested condition value",
       R"({"Statement":[{)" + ok_statement +
           R"(,"Condition":{"StringEquals":{"aws:UserAgent":{"a":1}}}}]})",
       "condition values must be"},
      {"bad number",
       R"({"Statement":[{)" + ok_statement +
           R"(,"Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}]})",
       "\"ten\" is not a number"},
      {"duplicate sid",
       R"({"Statement":[{"Sid":"A",)" + ok_statement + R"(},{"Sid":"A",)" + ok_statement + "}]}",
       "must be unique"},
      {"duplicate key",
       R"({"Statement":[{"Effect":"Deny","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]})",
       "Duplicate field \"Effect\""},
      {"deep nesting",
       R"({"Statement":[{)" + ok_statement + R"(,"Condition":)" + std::string(40, '[') +
           std::string(40, ']') + "}]}",
       "nested deeper"},
      {"non-UTF-8",
       std::string(R"({"Statement":[{"Sid":"caf)") + "\xe9" + R"(",)" + ok_statement + "}]}",
       "not valid JSON"},
  };
  for (const GrammarCase& c : cases) {
    auto p = Policy::Parse(c.json);
    ASSERT_FALSE(p) << c.name;
    EXPECT_EQ(p.error().code(), ErrorCode::kMalformedPolicy) << c.name;
    EXPECT_NE(p.error().message().find(c.message_part), std::string::npos)
        << c.name << ": " << p.error().message();
  }
}

TEST(PolicyParse, SizeLimitAndBucketScope) {
  std::string big = Doc(kAllowAnyGet + R"(,"Sid":")" + std::string(kMaxPolicyBytes, 'x') + "\"}");
  auto p = Policy::Parse(big);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("20 KB"), std::string::npos);

  ParseOptions scope{"b", nullptr};
  EXPECT_TRUE(Policy::Parse(Doc(kAllowAnyGet + "}"), scope));
  EXPECT_TRUE(Policy::Parse(
      Doc(R"({"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::*"})"),
      scope));
  auto other = Policy::Parse(
      Doc(R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"})"),
      scope);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("names neither bucket b"), std::string::npos);

  ParseOptions users{"", [](std::string_view u) { return u == "bot"; }};
  EXPECT_TRUE(Policy::Parse(
      Doc(R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:*","Resource":"*"})"),
      users));
  auto typo = Policy::Parse(
      Doc(R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::user/bto"},"Action":"s3:*","Resource":"*"})"),
      users);
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message().find("no user \"bto\""), std::string::npos);
}

TEST(Wildcard, Matches) {
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_TRUE(WildcardMatch("a*c", "abbbc"));
  EXPECT_FALSE(WildcardMatch("a*c", "abbbd"));
  EXPECT_TRUE(WildcardMatch("a?c", "abc"));
  EXPECT_FALSE(WildcardMatch("a?c", "ac"));
  EXPECT_TRUE(WildcardMatch("*.txt", "dir/x.txt"));
  EXPECT_TRUE(WildcardMatch("A*", "abc", /*ignore_case=*/true));
  // Pathological backtracking stays fast (linear-ish, no recursion).
  std::string text(5000, 'a');
  EXPECT_FALSE(WildcardMatch("*a*a*a*a*a*a*b", text));
}

}  // namespace
}  // namespace logbucket::policy
