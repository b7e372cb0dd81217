#include "auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/oidc.h"
#include "common/encoding.h"
#include "common/hash.h"

namespace logbucket::auth {
namespace {

std::string BnBytes(EVP_PKEY* key, const char* name, size_t pad = 0) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(std::max<size_t>(pad, BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), out.size());
  BN_free(bn);
  return out;
}

// A signing key made here, published as a JWK the way a provider would.
struct TestKey {
  std::shared_ptr<EVP_PKEY> key;
  nlohmann::json jwk;

  static TestKey Rsa(std::string kid) {
    TestKey k{std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(2048), EVP_PKEY_free), {}};
    k.jwk = {{"kty", "RSA"},
             {"kid", kid},
             {"n", Base64UrlEncode(BnBytes(k.key.get(), OSSL_PKEY_PARAM_RSA_N))},
             {"e", Base64UrlEncode(BnBytes(k.key.get(), OSSL_PKEY_PARAM_RSA_E))}};
    return k;
  }
  static TestKey Ec(std::string kid) {
    TestKey k{std::shared_ptr<EVP_PKEY>(EVP_EC_gen("P-256"), EVP_PKEY_free), {}};
    k.jwk = {{"kty", "EC"},
             {"kid", kid},
             {"crv", "P-256"},
             {"x", Base64UrlEncode(BnBytes(k.key.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
             {"y", Base64UrlEncode(BnBytes(k.key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    return k;
  }

  std::string Sign(const std::string& alg, const nlohmann::json& claims,
                   nlohmann::json header = nlohmann::json::object()) const {
    header["alg"] = alg;
    if (!header.contains("kid")) header["kid"] = jwk["kid"];
    std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key.get());
    if (alg == "PS256") {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    size_t length = 0;
    EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(length, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &length,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(length);
    EVP_MD_CTX_free(ctx);
    if (EVP_PKEY_is_a(key.get(), "EC")) {  // DER → r||s
      const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, sig.size());
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(es);
      sig = raw;
    }
    return input + "." + Base64UrlEncode(sig);
  }
};

JwkSet SetOf(std::initializer_list<nlohmann::json> keys) {
  nlohmann::json j = {{"keys", nlohmann::json::array()}};
  for (const auto& k : keys) j["keys"].push_back(k);
  return *JwkSet::Parse(j.dump());
}

const nlohmann::json kClaims = {{"iss", "https://sso.example"},
                                {"sub", "alice"},
                                {"aud", "viewer"},
                                {"iat", 1000},
                                {"exp", 1300},
                                {"nonce", "n-1"}};

TEST(Jwt, RsaPssAndEcSignaturesVerifyAndTamperingDoesNot) {
  TestKey rsa = TestKey::Rsa("r1"), ec = TestKey::Ec("e1");
  JwkSet set = SetOf({rsa.jwk, ec.jwk});
  ASSERT_EQ(set.size(), 2u);
  for (auto [key, alg] : {std::pair{&rsa, "RS256"}, {&rsa, "PS256"}, {&ec, "ES256"}}) {
    std::string token = key->Sign(alg, kClaims);
    auto jwt = DecodeJwt(token);
    ASSERT_TRUE(jwt) << alg;
    EXPECT_TRUE(set.Verify(*jwt).ok()) << alg << ": " << set.Verify(*jwt).message();
    // One changed claim byte breaks the signature.
    auto other = kClaims;
    other["sub"] = "mallory";
    size_t dot = token.find('.'), last = token.rfind('.');
    std::string forged =
        token.substr(0, dot + 1) + Base64UrlEncode(other.dump()) + token.substr(last);
    EXPECT_FALSE(set.Verify(*DecodeJwt(forged)).ok()) << alg;
  }
}

TEST(Jwt, NoneHmacAndMismatchedKeyTypesAreRefused) {
  TestKey rsa = TestKey::Rsa("r1");
  JwkSet set = SetOf({rsa.jwk});
  nlohmann::json none_header = {{"alg", "none"}, {"kid", "r1"}};
  auto none =
      DecodeJwt(Base64UrlEncode(none_header.dump()) + "." + Base64UrlEncode(kClaims.dump()) + ".");
  ASSERT_TRUE(none);
  EXPECT_FALSE(IsAcceptedJwtAlgorithm("none"));
  EXPECT_NE(set.Verify(*none).message().find("not accepted"), std::string::npos);
  // HS256 keyed with the public key's bytes: refused before any key is used.
  nlohmann::json hs_header = {{"alg", "HS256"}, {"kid", "r1"}};
  std::string input = Base64UrlEncode(hs_header.dump()) + "." + Base64UrlEncode(kClaims.dump());
  auto hs =
      DecodeJwt(input + "." + Base64UrlEncode(HmacSha256(rsa.jwk["n"].get<std::string>(), input)));
  EXPECT_FALSE(set.Verify(*hs).ok());
  // An ES256 header on an RSA key finds no key.
  auto es_on_rsa = DecodeJwt(rsa.Sign("ES256", kClaims));
  EXPECT_NE(set.Verify(*es_on_rsa).message().find("no provider key"), std::string::npos);
  // Unknown kid.
  auto unknown = DecodeJwt(rsa.Sign("RS256", kClaims, {{"kid", "r2"}}));
  EXPECT_FALSE(set.HasKid("r2"));
  EXPECT_NE(set.Verify(*unknown).message().find("kid 'r2'"), std::string::npos);
}

TEST(Jwt, MalformedTokensAndKeySetsAreErrorsNotCrashes) {
  for (const std::string& bad :
       std::vector<std::string>{"", "a", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.!!", "W10.e30.",
                                "e30.e30.", std::string(kMaxJwtBytes + 1, 'a')}) {
    auto jwt = DecodeJwt(bad);
    EXPECT_TRUE(!jwt || !jwt->header.contains("alg")) << bad.substr(0, 20);
  }
  EXPECT_FALSE(DecodeJwt(Base64UrlEncode(R"({"alg":"RS256","crit":["x"]})") + ".e30.AA"));
  EXPECT_FALSE(JwkSet::Parse("not json"));
  EXPECT_FALSE(JwkSet::Parse(R"({"keys": 3})"));
  // Unusable keys are skipped: short RSA, wrong curve length, encryption keys, junk.
  auto set = JwkSet::Parse(
      R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},
      {"kty":"oct","k":"c2VjcmV0"},3,{"kty":"RSA","use":"enc"}]})");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->size(), 0u);
}

TEST(Jwt, IdTokenClaimsAreCheckedOneByOne) {
  auto check = [](const nlohmann::json& c, int64_t now = 1100) {
    return ValidateIdTokenClaims(c, "https://sso.example", "viewer", "n-1", now, 60);
  };
  EXPECT_TRUE(check(kClaims).ok());
  auto with = [](const char* k, nlohmann::json v) {
    auto c = kClaims;
    c[k] = std::move(v);
    return c;
  };
  EXPECT_FALSE(check(with("iss", "https://evil.example")).ok());
  EXPECT_FALSE(check(with("aud", "other")).ok());
  EXPECT_TRUE(check(with("aud", {"viewer"})).ok());
  EXPECT_FALSE(check(with("aud", {"viewer", "other"})).ok());  // azp required
  auto multi = with("aud", {"viewer", "other"});
  multi["azp"] = "viewer";
  EXPECT_TRUE(check(multi).ok());
  EXPECT_FALSE(check(with("azp", "other")).ok());
  EXPECT_FALSE(check(with("nonce", "n-2")).ok());
  EXPECT_FALSE(check(with("sub", "")).ok());
  EXPECT_TRUE(check(kClaims, 1300 + 59).ok());   // within the skew
  EXPECT_FALSE(check(kClaims, 1300 + 60).ok());  // expired
  EXPECT_FALSE(check(kClaims, 1000 - 61).ok());  // issued in the future
  EXPECT_FALSE(check(with("nbf", 2000)).ok());
  auto no_exp = kClaims;
  no_exp.erase("exp");
  EXPECT_FALSE(check(no_exp).ok());
  EXPECT_FALSE(ValidateIdTokenClaims(kClaims, "https://sso.example", "viewer", "", 1100, 60).ok());
}

TEST(Oidc, ReturnPathsStayOnTheSite) {
  EXPECT_EQ(SafeReturnPath("/bucket/a.txt?x=1#L3"), "/bucket/a.txt?x=1#L3");
  for (const char* bad : {"", "//evil.example", "/\\evil", "https://evil.example/", "evil",
                          "/a\r\nSet-Cookie: x", "/_auth/logout", "javascript:alert(1)"}) {
    EXPECT_EQ(SafeReturnPath(bad), "/") << bad;
  }
}

TEST(Oidc, CookieValueFindsTheNamedCookie) {
  http::Request r;
  r.headers = {{"cookie", "a=1; lb_session=abc.def;b=2"}, {"cookie", "c=3"}};
  EXPECT_EQ(CookieValue(r, "lb_session").value_or(""), "abc.def");
  EXPECT_EQ(CookieValue(r, "c").value_or(""), "3");
  EXPECT_FALSE(CookieValue(r, "lb_sess"));
}

}  // namespace
}  // namespace logbucket::auth
