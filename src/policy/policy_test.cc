#include "policy/policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace logbucket::policy {
namespace {

// The production policy: the bot user reads and writes, two frontend addresses read
// anonymously, everyone else is denied.
const char* const kProduction = R"({
  "Version": "2012-10-17",
  "Id": "alice-build-logs",
  "Statement": [
    {"Sid": "BotReadWrite", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam:::user/alibot"]},
     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
                "s3:AbortMultipartUpload", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::alice-build-logs", "arn:aws:s3:::alice-build-logs/*"]},
    {"Sid": "FrontendRead", "Effect": "Allow", "Principal": "*",
     "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::alice-build-logs", "arn:aws:s3:::alice-build-logs/*"],
     "Condition": {"IpAddress": {"aws:SourceIp": ["188.184.10.20/32", "2001:db8:5::/48"]}}}
  ]})";

struct Case {
  std::string name;
  std::string policy;     // statements only; wrapped into a document
  std::string principal;  // "" anonymous, else user name
  std::string action;
  std::string resource;  // object key or "" for the bucket
  std::vector<std::pair<std::string, std::string>> keys;
  Decision want;
};

std::string Doc(const std::string& statements) {
  return R"({"Version":"2012-10-17","Statement":[)" + statements + "]}";
}

Request MakeRequest(const Case& c) {
  Request r;
  r.anonymous = c.principal.empty();
  r.user = c.principal;
  r.action = c.action;
  r.resource = "arn:aws:s3:::b" + (c.resource.empty() ? "" : "/" + c.resource);
  for (const auto& [k, v] : c.keys) {
    bool merged = false;
    for (auto& [name, values] : r.keys) {
      if (name == k) {
        values.push_back(v);
        merged = true;
      }
    }
    if (!merged) r.Set(k, v);
  }
  return r;
}

const std::string kAllowAnyGet =
    R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*")";

TEST(PolicyEvaluate, Matrix) {
  const std::vector<Case> cases = {
      // --- principals
      {"anonymous allowed by *", kAllowAnyGet + "}", "", "s3:GetObject", "k", {}, Decision::kAllow},
      {"AWS * covers anonymous",
       R"({"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"named user allowed",
       R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"})",
       "bot",
       "s3:PutObject",
       "k",
       {},
       Decision::kAllow},
      {"other user not allowed",
       R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"})",
       "eve",
       "s3:PutObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"anonymous not a user",
       R"({"Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/bot"]},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"account root covers every user",
       R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})",
       "eve",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"account root is not anonymous",
       R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"foreign account never matches",
       R"({"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/bot","123456789012"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"})",
       "bot",
       "s3:GetObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"NotPrincipal deny hits everyone else",
       kAllowAnyGet +
           R"(},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"})",
       "eve",
       "s3:GetObject",
       "k",
       {},
       Decision::kExplicitDeny},
      {"NotPrincipal deny spares the named user",
       kAllowAnyGet +
           R"(},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"})",
       "bot",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      // --- actions
      {"action wildcard s3:Get*",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:GetObjectAcl",
       "k",
       {},
       Decision::kAllow},
      {"action ? wildcard",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:?etObject","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"action names are case-insensitive",
       R"({"Effect":"Allow","Principal":"*","Action":"S3:GETOBJECT","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"other action not allowed",
       kAllowAnyGet + "}",
       "",
       "s3:PutObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"NotAction allows the rest",
       R"({"Effect":"Allow","Principal":"*","NotAction":"s3:Delete*","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:PutObject",
       "k",
       {},
       Decision::kAllow},
      {"NotAction excludes its list",
       R"({"Effect":"Allow","Principal":"*","NotAction":"s3:Delete*","Resource":"arn:aws:s3:::b/*"})",
       "",
       "s3:DeleteObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"action * is every s3 action",
       R"({"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"})",
       "",
       "s3:ListBucket",
       "",
       {},
       Decision::kAllow},
      // --- resources
      {"object ARN does not cover the bucket",
       kAllowAnyGet + "}",
       "",
       "s3:GetObject",
       "",
       {},
       Decision::kImplicitDeny},
      {"resource ? matches one character",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/log?.txt"})",
       "",
       "s3:GetObject",
       "log1.txt",
       {},
       Decision::kAllow},
      {"resource ? does not match two",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/log?.txt"})",
       "",
       "s3:GetObject",
       "log12.txt",
       {},
       Decision::kImplicitDeny},
      {"resource * spans slashes",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/alisw/*/fullLog.txt"})",
       "",
       "s3:GetObject",
       "alisw/O2/1/abc/check/fullLog.txt",
       {},
       Decision::kAllow},
      {"resources are case-sensitive",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/Logs/*"})",
       "",
       "s3:GetObject",
       "logs/x",
       {},
       Decision::kImplicitDeny},
      {"NotResource",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/private/*"})",
       "",
       "s3:GetObject",
       "public/x",
       {},
       Decision::kAllow},
      {"NotResource excludes",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/private/*"})",
       "",
       "s3:GetObject",
       "private/x",
       {},
       Decision::kImplicitDeny},
      // --- Deny beats Allow
      {"explicit deny overrides allow",
       kAllowAnyGet +
           R"(},{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"})",
       "",
       "s3:GetObject",
       "secret/x",
       {},
       Decision::kExplicitDeny},
      {"deny elsewhere leaves allow",
       kAllowAnyGet +
           R"(},{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"})",
       "",
       "s3:GetObject",
       "public/x",
       {},
       Decision::kAllow},
      // --- IP conditions
      {"IPv4 CIDR inside",
       kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"10.1.0.0/16"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "10.1.200.3"}},
       Decision::kAllow},
      {"IPv4 CIDR outside",
       kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"10.1.0.0/16"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "10.2.0.1"}},
       Decision::kImplicitDeny},
      {"several CIDRs are OR",
       kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":["10.1.0.0/16","192.0.2.7"]}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "192.0.2.7"}},
       Decision::kAllow},
      {"IPv6 CIDR inside",
       kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "2001:db8:1::5"}},
       Decision::kAllow},
      {"IPv6 CIDR outside",
       kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "2001:db9::1"}},
       Decision::kImplicitDeny},
      {"IPv4 client vs IPv6 CIDR",
       kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"::/0"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "10.0.0.1"}},
       Decision::kImplicitDeny},
      {"NotIpAddress outside allows",
       kAllowAnyGet + R"(,"Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "192.0.2.1"}},
       Decision::kAllow},
      {"NotIpAddress inside does not",
       kAllowAnyGet + R"(,"Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "10.9.9.9"}},
       Decision::kImplicitDeny},
      {"deny from outside the office",
       R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
          {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}})",
       "bot",
       "s3:PutObject",
       "k",
       {{"aws:SourceIp", "192.0.2.1"}},
       Decision::kExplicitDeny},
      // --- missing keys, IfExists, multiple keys, set qualifiers
      {"missing key fails a positive operator",
       kAllowAnyGet + R"(,"Condition":{"StringLike":{"aws:Referer":"http://www.example.com/*"}}})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"missing key passes IfExists",
       kAllowAnyGet +
           R"(,"Condition":{"StringLikeIfExists":{"aws:Referer":"http://www.example.com/*"}}})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"present key must still match with IfExists",
       kAllowAnyGet +
           R"(,"Condition":{"StringLikeIfExists":{"aws:Referer":"http://www.example.com/*"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:Referer", "http://evil.example/"}},
       Decision::kImplicitDeny},
      {"missing key passes a negated operator",
       kAllowAnyGet + R"(,"Condition":{"StringNotEquals":{"aws:UserAgent":"bad-bot"}}})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"two keys are AND (one fails)",
       kAllowAnyGet +
           R"(,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringEquals":{"aws:UserAgent":"ci"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "10.0.0.1"}, {"aws:UserAgent", "curl"}},
       Decision::kImplicitDeny},
      {"two keys are AND (both hold)",
       kAllowAnyGet +
           R"(,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringEquals":{"aws:UserAgent":"ci"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "10.0.0.1"}, {"aws:UserAgent", "ci"}},
       Decision::kAllow},
      {"Null true wants the key missing",
       kAllowAnyGet + R"(,"Condition":{"Null":{"aws:Referer":"true"}}})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"Null false wants the key present",
       kAllowAnyGet + R"(,"Condition":{"Null":{"aws:Referer":"false"}}})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kImplicitDeny},
      {"ForAnyValue one of several",
       kAllowAnyGet +
           R"(,"Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["team","owner"]}}})",
       "",
       "s3:GetObject",
       "k",
       {{"s3:RequestObjectTagKeys", "x"}, {"s3:RequestObjectTagKeys", "owner"}},
       Decision::kAllow},
      {"ForAllValues needs all",
       kAllowAnyGet +
           R"(,"Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team","owner"]}}})",
       "",
       "s3:GetObject",
       "k",
       {{"s3:RequestObjectTagKeys", "x"}, {"s3:RequestObjectTagKeys", "owner"}},
       Decision::kImplicitDeny},
      {"ForAllValues on a missing key holds",
       kAllowAnyGet +
           R"(,"Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kAllow},
      {"ForAnyValue on a missing key fails",
       kAllowAnyGet +
           R"(,"Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}})",
       "",
       "s3:GetObject",
       "k",
       {},
       Decision::kImplicitDeny},
      // --- s3:prefix on ListBucket
      {"ListBucket with allowed prefix",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["alisw/*",""]}}})",
       "",
       "s3:ListBucket",
       "",
       {{"s3:prefix", "alisw/O2/"}},
       Decision::kAllow},
      {"ListBucket with other prefix",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["alisw/*",""]}}})",
       "",
       "s3:ListBucket",
       "",
       {{"s3:prefix", "private/"}},
       Decision::kImplicitDeny},
      {"ListBucket with delimiter",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringEquals":{"s3:delimiter":"/"}}})",
       "",
       "s3:ListBucket",
       "",
       {{"s3:delimiter", "/"}},
       Decision::kAllow},
      {"ListBucket max-keys numeric",
       R"({"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"NumericLessThanEquals":{"s3:max-keys":"100"}}})",
       "",
       "s3:ListBucket",
       "",
       {{"s3:max-keys", "1000"}},
       Decision::kImplicitDeny},
      // --- case rules of conditions
      {"condition keys are case-insensitive",
       kAllowAnyGet + R"(,"Condition":{"IpAddress":{"AWS:SOURCEIP":"10.0.0.0/8"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SourceIp", "10.0.0.1"}},
       Decision::kAllow},
      {"StringEquals values are case-sensitive",
       kAllowAnyGet + R"(,"Condition":{"StringEquals":{"aws:UserAgent":"CI"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:UserAgent", "ci"}},
       Decision::kImplicitDeny},
      {"StringEqualsIgnoreCase",
       kAllowAnyGet + R"(,"Condition":{"StringEqualsIgnoreCase":{"aws:UserAgent":"CI"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:UserAgent", "ci"}},
       Decision::kAllow},
      // --- other operators
      {"Bool SecureTransport false denies",
       R"({"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},)" +
           kAllowAnyGet + "}",
       "",
       "s3:GetObject",
       "k",
       {{"aws:SecureTransport", "false"}},
       Decision::kExplicitDeny},
      {"DateLessThan before",
       kAllowAnyGet +
           R"(,"Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:CurrentTime", "2026-11-24T12:00:00Z"}},
       Decision::kAllow},
      {"DateGreaterThan epoch",
       kAllowAnyGet + R"(,"Condition":{"DateGreaterThan":{"aws:EpochTime":1900000000}}})",
       "",
       "s3:GetObject",
       "k",
       {{"aws:EpochTime", "1800000000"}},
       Decision::kImplicitDeny},
      // --- policy variables
      {"${aws:username} in a resource",
       R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/home/${aws:username}/*"})",
       "bob",
       "s3:PutObject",
       "home/bob/x",
       {{"aws:username", "bob"}},
       Decision::kAllow},
      {"${aws:username} is not someone else's",
       R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/home/${aws:username}/*"})",
       "bob",
       "s3:PutObject",
       "home/eve/x",
       {{"aws:username", "bob"}},
       Decision::kImplicitDeny},
  };
  for (const Case& c : cases) {
    auto policy = Policy::Parse(Doc(c.policy));
    ASSERT_TRUE(policy) << c.name << ": " << policy.error().message();
    Request r = MakeRequest(c);
    Explanation e = policy->Evaluate(r);
    EXPECT_EQ(e.decision, c.want) << c.name << ": " << e.ToString(r);
  }
}

TEST(PolicyEvaluate, ProductionPolicy) {
  auto p = Policy::Parse(kProduction, {"alice-build-logs", nullptr});
  ASSERT_TRUE(p) << p.error().message();
  Request frontend;
  frontend.action = "s3:GetObject";
  frontend.resource = "arn:aws:s3:::alice-build-logs/alisw/O2/1/abc/build_O2/fullLog.txt";
  frontend.Set("aws:SourceIp", "188.184.10.20");
  EXPECT_EQ(p->Evaluate(frontend).decision, Decision::kAllow);

  Request elsewhere = frontend;
  elsewhere.keys = {};
  elsewhere.Set("aws:SourceIp", "188.184.10.21");
  Explanation e = p->Evaluate(elsewhere);
  EXPECT_EQ(e.decision, Decision::kImplicitDeny);
  // The explanation names the statement that nearly applied and why not.
  std::string text = e.ToString(elsewhere);
  EXPECT_NE(text.find("'FrontendRead'"), std::string::npos) << text;
  EXPECT_NE(text.find("188.184.10.21"), std::string::npos) << text;
  EXPECT_NE(text.find("'BotReadWrite' (Allow) did not apply: Principal does not include anonymous"),
            std::string::npos)
      << text;

  Request frontend_put = frontend;
  frontend_put.action = "s3:PutObject";
  EXPECT_EQ(p->Evaluate(frontend_put).decision, Decision::kImplicitDeny);

  Request bot;
  bot.anonymous = false;
  bot.user = "alibot";
  bot.action = "s3:PutObject";
  bot.resource = "arn:aws:s3:::alice-build-logs/x";
  bot.Set("aws:SourceIp", "203.0.113.9");
  Explanation allowed = p->Evaluate(bot);
  EXPECT_EQ(allowed.decision, Decision::kAllow);
  ASSERT_EQ(allowed.deciding.size(), 1u);
  EXPECT_EQ(allowed.deciding[0].name, "BotReadWrite");
  EXPECT_TRUE(p->IsPublic() == false) << "IP-pinned anonymous access is not public";
}

TEST(PolicyStatus, IsPublic) {
  auto open = Policy::Parse(Doc(kAllowAnyGet + "}"));
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->IsPublic());
  auto pinned = Policy::Parse(
      Doc(kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/32"}}})"));
  ASSERT_TRUE(pinned);
  EXPECT_FALSE(pinned->IsPublic());
  auto wide = Policy::Parse(
      Doc(kAllowAnyGet + R"(,"Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}})"));
  ASSERT_TRUE(wide);
  EXPECT_TRUE(wide->IsPublic());
  auto user = Policy::Parse(Doc(
      R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::user/bot"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"})"));
  ASSERT_TRUE(user);
  EXPECT_FALSE(user->IsPublic());
}

}  // namespace
}  // namespace logbucket::policy
