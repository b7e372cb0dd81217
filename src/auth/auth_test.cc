#include <gtest/gtest.h>

#include "auth/gate.h"
#include "auth/session.h"
#include "common/encoding.h"
#include "common/hash.h"

namespace logbucket::auth {
namespace {

const std::string kSecret(32, 'k');

Identity Alice() {
  Identity id;
  id.subject = "alice-sub";
  id.name = "Alice <b>";
  id.email = "alice@example.org";
  id.roles = {"alice-member", "other"};
  id.expires_s = 2000;
  return id;
}

TEST(Session, SealedCookieOpensWithTheSameSecretOnAnyFrontend) {
  std::string cookie = SessionCodec(kSecret).Seal(Alice());
  auto opened = SessionCodec(kSecret).Open(cookie, 1000);  // a second instance, same secret
  ASSERT_TRUE(opened.has_value()) << opened.error().message();
  EXPECT_EQ(opened->subject, "alice-sub");
  EXPECT_EQ(opened->name, "Alice <b>");
  EXPECT_EQ(opened->roles, (std::vector<std::string>{"alice-member", "other"}));
  EXPECT_EQ(cookie.find_first_of(" ;,\"\\"), std::string::npos);  // a valid cookie value
}

TEST(Session, TamperedExpiredForeignOrOversizedCookiesAreRefused) {
  SessionCodec codec(kSecret);
  std::string cookie = codec.Seal(Alice());
  EXPECT_EQ(codec.Open(cookie, 2000).error().message(), "session expired");
  // Change the payload (grant a role) and keep the old MAC.
  size_t dot = cookie.find('.');
  Identity forged = Alice();
  forged.roles = {"admin"};
  std::string forged_payload = SessionCodec("another secret of 32 bytes......").Seal(forged);
  std::string spliced = forged_payload.substr(0, forged_payload.find('.')) + cookie.substr(dot);
  EXPECT_FALSE(codec.Open(spliced, 1000).has_value());
  EXPECT_FALSE(codec.Open(forged_payload, 1000).has_value());  // another site's secret
  std::string flipped = cookie;
  flipped[dot + 3] = flipped[dot + 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(codec.Open(flipped, 1000).has_value());
  EXPECT_FALSE(codec.Open("", 1000).has_value());
  EXPECT_FALSE(codec.Open("no-dot", 1000).has_value());
  EXPECT_FALSE(codec.Open(std::string(5000, 'a') + ".x", 1000).has_value());
  // A correctly signed payload that is not a session (say, from a bug or an older format).
  std::string junk = Base64UrlEncode("[1,2]");
  EXPECT_FALSE(
      codec.Open(junk + "." + Base64UrlEncode(HmacSha256(kSecret, junk)), 1000).has_value());
}

TEST(Session, TooManyRolesAreTrimmedToFitACookie) {
  Identity id = Alice();
  for (int i = 0; i < 500; ++i) id.roles.push_back("some-long-group-name-" + std::to_string(i));
  std::string cookie = SessionCodec(kSecret).Seal(id);
  EXPECT_LE(cookie.size(), kMaxSessionCookieBytes);
  auto opened = SessionCodec(kSecret).Open(cookie, 1000);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->roles[0], "alice-member");  // the first ones are kept
}

TEST(Roles, ClaimPathsAndShapes) {
  EXPECT_EQ(RolesAtClaimPath(R"({"cern_roles":["alice-member","x"]})", "cern_roles"),
            (std::vector<std::string>{"alice-member", "x"}));
  EXPECT_EQ(RolesAtClaimPath(R"({"realm_access":{"roles":["a","b"]}})", "realm_access.roles"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(RolesAtClaimPath(R"({"https://x.org/roles":["r"]})", "https://x.org/roles"),
            (std::vector<std::string>{"r"}));
  EXPECT_EQ(RolesAtClaimPath(R"({"groups":"a, b c"})", "groups"),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(RolesAtClaimPath(R"({"groups":[1,{"a":2}]})", "groups").empty());
  EXPECT_TRUE(RolesAtClaimPath(R"({"realm_access":"x"})", "realm_access.roles").empty());
  EXPECT_TRUE(RolesAtClaimPath("not json", "groups").empty());
  EXPECT_TRUE(RolesAtClaimPath(R"({"a":{}})", "a.b.c").empty());
}

http::Request FromPeer(std::string peer, Headers headers) {
  http::Request r;
  r.method = "GET";
  r.peer_address = std::move(peer);
  r.headers = std::move(headers);
  return r;
}

GateOptions ProxyOptions(ProxyKind kind) {
  GateOptions o;
  o.mode = Mode::kProxy;
  o.require_roles = {"alice-member"};
  o.trusted_proxies = {*ParseCidr("127.0.0.2")};
  o.proxy_kind = kind;
  o.headers = HeadersOf(kind, "cern_roles");
  return o;
}

TEST(Gate, ProxyHeadersCountOnlyFromTrustedPeers) {
  Gate gate(ProxyOptions(ProxyKind::kModAuthOpenidc));
  Headers member = {{"oidc_claim_sub", "alice"}, {"oidc_claim_cern_roles", "x,alice-member"}};
  Verdict ok = gate.Check(FromPeer("127.0.0.2", member));
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.identity.subject, "alice");
  Verdict forged = gate.Check(FromPeer("127.0.0.1", member));
  EXPECT_FALSE(forged.allowed);
  EXPECT_EQ(forged.status, 401);
  Verdict outsider = gate.Check(
      FromPeer("127.0.0.2", {{"oidc_claim_sub", "bob"}, {"oidc_claim_cern_roles", "x"}}));
  EXPECT_FALSE(outsider.allowed);
  EXPECT_EQ(outsider.status, 403);
  EXPECT_NE(outsider.message.find("bob"), std::string::npos);
  EXPECT_NE(outsider.message.find("alice-member"), std::string::npos);
  EXPECT_EQ(gate.Check(FromPeer("127.0.0.2", {})).status, 401);  // the proxy sent nobody
}

// A signed-in user whose roles the proxy did not send (absent or empty claim) cannot supply them
// in another proxy's header: identity comes from the configured proxy's family only.
TEST(Gate, RolesComeOnlyFromTheConfiguredProxysHeaders) {
  Gate apache(ProxyOptions(ProxyKind::kModAuthOpenidc));
  for (const Headers& attempt : std::vector<Headers>{
           {{"oidc_claim_sub", "mallory"}, {"x-forwarded-groups", "alice-member"}},
           {{"oidc_claim_sub", "mallory"},
            {"oidc_claim_cern_roles", ""},
            {"x-forwarded-groups", "alice-member"}},
           {{"oidc_claim_sub", "mallory"}, {"oidc_claim_cern_roles", "  "}},
       }) {
    Verdict v = apache.Check(FromPeer("127.0.0.2", attempt));
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.status, 403);
    EXPECT_TRUE(v.identity.roles.empty());
  }
  // oauth2-proxy's user header alone is nobody behind mod_auth_openidc.
  EXPECT_EQ(apache
                .Check(FromPeer("127.0.0.2", {{"x-forwarded-user", "alice"},
                                              {"x-forwarded-groups", "alice-member"}}))
                .status,
            401);
  // An identity header twice: the proxy appended where it should replace; nobody is believed.
  Verdict twice = apache.Check(FromPeer("127.0.0.2", {{"oidc_claim_sub", "mallory"},
                                                      {"oidc_claim_cern_roles", "x"},
                                                      {"oidc_claim_cern_roles", "alice-member"}}));
  EXPECT_FALSE(twice.allowed);
  EXPECT_EQ(twice.status, 401);

  Gate oauth2(ProxyOptions(ProxyKind::kOauth2Proxy));
  EXPECT_TRUE(oauth2
                  .Check(FromPeer("127.0.0.2", {{"x-forwarded-user", "alice"},
                                                {"x-forwarded-groups", "alice-member"}}))
                  .allowed);
  Verdict smuggled = oauth2.Check(FromPeer(
      "127.0.0.2", {{"x-forwarded-user", "mallory"}, {"oidc_claim_cern_roles", "alice-member"}}));
  EXPECT_FALSE(smuggled.allowed);
  EXPECT_EQ(smuggled.status, 403);
  EXPECT_EQ(oauth2
                .Check(FromPeer("127.0.0.2", {{"oidc_claim_sub", "alice"},
                                              {"oidc_claim_cern_roles", "alice-member"}}))
                .status,
            401);

  GateOptions custom = ProxyOptions(ProxyKind::kCustom);
  custom.headers = {"x-sso-user", "", "", "x-sso-roles"};
  Gate site(custom);
  EXPECT_TRUE(
      site.Check(FromPeer("127.0.0.2", {{"x-sso-user", "a"}, {"x-sso-roles", "alice-member"}}))
          .allowed);
  EXPECT_EQ(site.Check(FromPeer("127.0.0.2",
                                {{"x-sso-user", "a"}, {"x-forwarded-groups", "alice-member"}}))
                .status,
            403);
}

}  // namespace
}  // namespace logbucket::auth
