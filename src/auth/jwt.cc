#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "common/encoding.h"

namespace logbucket::auth {

struct JwkSet::Key {
  std::string kid;
  std::string kty;  // "RSA" or "EC"
  std::string crv;  // EC: P-256, P-384, P-521
  std::string alg;  // may be empty
  std::shared_ptr<EVP_PKEY> pkey;
};

namespace {

Status Denied(std::string message) { return Error(ErrorCode::kAccessDenied, std::move(message)); }

struct AlgorithmInfo {
  const char* kty;
  const char* crv;  // EC only
  const EVP_MD* (*md)();
  bool pss;
  size_t ec_coordinate_bytes;
};

bool LookUpAlgorithm(std::string_view alg, AlgorithmInfo& out) {
  if (alg == "RS256")
    out = {"RSA", "", EVP_sha256, false, 0};
  else if (alg == "RS384")
    out = {"RSA", "", EVP_sha384, false, 0};
  else if (alg == "RS512")
    out = {"RSA", "", EVP_sha512, false, 0};
  else if (alg == "PS256")
    out = {"RSA", "", EVP_sha256, true, 0};
  else if (alg == "PS384")
    out = {"RSA", "", EVP_sha384, true, 0};
  else if (alg == "PS512")
    out = {"RSA", "", EVP_sha512, true, 0};
  else if (alg == "ES256")
    out = {"EC", "P-256", EVP_sha256, false, 32};
  else if (alg == "ES384")
    out = {"EC", "P-384", EVP_sha384, false, 48};
  else if (alg == "ES512")
    out = {"EC", "P-521", EVP_sha512, false, 66};
  else
    return false;
  return true;
}

std::optional<std::string> B64Field(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  auto bytes = Base64UrlDecode(it->get<std::string>());
  if (!bytes || bytes->empty()) return std::nullopt;
  return bytes;
}

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

BnPtr ToBn(const std::string& bytes) {
  return BnPtr(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), nullptr));
}

std::shared_ptr<EVP_PKEY> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) > 0) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (pkey == nullptr) return nullptr;
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

std::shared_ptr<EVP_PKEY> RsaKey(const nlohmann::json& jwk) {
  auto n = B64Field(jwk, "n");
  auto e = B64Field(jwk, "e");
  if (!n || !e || n->size() > 2048 || e->size() > 8) return nullptr;
  BnPtr bn_n = ToBn(*n), bn_e = ToBn(*e);
  // Below 2048 bits an RSA signature is not worth believing.
  if (!bn_n || !bn_e || BN_num_bits(bn_n.get()) < 2048) return nullptr;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (bld != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) > 0 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) > 0) {
    key = FromParams("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

std::shared_ptr<EVP_PKEY> EcKey(const nlohmann::json& jwk, const std::string& crv) {
  const char* group = crv == "P-256"   ? "prime256v1"
                      : crv == "P-384" ? "secp384r1"
                      : crv == "P-521" ? "secp521r1"
                                       : nullptr;
  size_t size = crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
  auto x = B64Field(jwk, "x");
  auto y = B64Field(jwk, "y");
  if (group == nullptr || !x || !y || x->size() != size || y->size() != size) return nullptr;
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (bld != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) > 0 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) >
          0) {
    key = FromParams("EC", bld);  // fromdata checks the point is on the curve
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

// JWS ECDSA signatures are r||s; OpenSSL verifies DER.
std::optional<std::string> EcdsaRawToDer(std::string_view raw, size_t coordinate_bytes) {
  if (raw.size() != 2 * coordinate_bytes) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r =
      BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), coordinate_bytes, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + coordinate_bytes,
                        coordinate_bytes, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int length = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (length <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), length);
  OPENSSL_free(der);
  return out;
}

bool VerifyWith(const JwkSet::Key& key, const AlgorithmInfo& info, const Jwt& jwt) {
  std::string signature = jwt.signature;
  if (info.ec_coordinate_bytes > 0) {
    auto der = EcdsaRawToDer(jwt.signature, info.ec_coordinate_bytes);
    if (!der) return false;
    signature = std::move(*der);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx, &pctx, info.md(), nullptr, key.pkey.get()) > 0;
  if (ok && info.pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
  }
  ok = ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                              signature.size(),
                              reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
                              jwt.signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

bool IsAcceptedJwtAlgorithm(std::string_view alg) {
  AlgorithmInfo info;
  return LookUpAlgorithm(alg, info);
}

Result<Jwt> DecodeJwt(std::string_view token) {
  if (token.size() > kMaxJwtBytes) return Denied("token larger than 64 KiB");
  size_t first = token.find('.');
  size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Denied("token is not a compact JWS (three dot-separated parts)");
  }
  auto header = Base64UrlDecode(token.substr(0, first));
  auto claims = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto signature = Base64UrlDecode(token.substr(second + 1));
  if (!header || !claims || !signature) return Denied("token part is not base64url");
  Jwt jwt;
  jwt.header = nlohmann::json::parse(*header, nullptr, false);
  jwt.claims = nlohmann::json::parse(*claims, nullptr, false);
  if (!jwt.header.is_object() || !jwt.claims.is_object()) {
    return Denied("token header or claims are not JSON objects");
  }
  auto alg = jwt.header.find("alg");
  if (alg == jwt.header.end() || !alg->is_string()) return Denied("token has no alg");
  jwt.alg = alg->get<std::string>();
  if (auto kid = jwt.header.find("kid"); kid != jwt.header.end()) {
    if (!kid->is_string()) return Denied("token kid is not a string");
    jwt.kid = kid->get<std::string>();
  }
  if (jwt.header.contains("crit")) return Denied("token has critical header extensions");
  jwt.signing_input = std::string(token.substr(0, second));
  jwt.signature = std::move(*signature);
  return jwt;
}

Result<JwkSet> JwkSet::Parse(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array()) {
    return Error(ErrorCode::kInvalidArgument, "JWKS is not a JSON object with a keys array");
  }
  JwkSet set;
  for (const auto& jwk : j["keys"]) {
    if (!jwk.is_object() || set.keys_.size() >= 64) continue;
    auto text = [&](const char* name) {
      auto it = jwk.find(name);
      return it != jwk.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string use = text("use");
    if (!use.empty() && use != "sig") continue;
    auto key = std::make_shared<Key>();
    key->kid = text("kid");
    key->kty = text("kty");
    key->alg = text("alg");
    if (key->kty == "RSA") {
      key->pkey = RsaKey(jwk);
    } else if (key->kty == "EC") {
      key->crv = text("crv");
      key->pkey = EcKey(jwk, key->crv);
    }
    if (key->pkey) set.keys_.push_back(std::move(key));
  }
  return set;
}

bool JwkSet::HasKid(std::string_view kid) const {
  for (const auto& key : keys_) {
    if (key->kid == kid) return true;
  }
  return false;
}

Status JwkSet::Verify(const Jwt& jwt) const {
  AlgorithmInfo info;
  if (!LookUpAlgorithm(jwt.alg, info)) {
    return Denied("token algorithm '" + jwt.alg + "' is not accepted (RS*, PS*, ES* only)");
  }
  bool any_candidate = false;
  for (const auto& key : keys_) {
    if (!jwt.kid.empty() && key->kid != jwt.kid) continue;
    if (key->kty != info.kty || (info.crv[0] != '\0' && key->crv != info.crv)) continue;
    if (!key->alg.empty() && key->alg != jwt.alg) continue;
    any_candidate = true;
    if (VerifyWith(*key, info, jwt)) return Status::Ok();
  }
  if (!any_candidate) {
    return Denied(jwt.kid.empty() ? "no provider key fits the token's algorithm " + jwt.alg
                                  : "no provider key with kid '" + jwt.kid + "' for " + jwt.alg);
  }
  return Denied("token signature does not verify");
}

Status ValidateIdTokenClaims(const nlohmann::json& claims, std::string_view issuer,
                             std::string_view client_id, std::string_view nonce, int64_t now_s,
                             int64_t skew_s) {
  auto string_claim = [&](const char* name) -> std::optional<std::string> {
    auto it = claims.find(name);
    if (it == claims.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto time_claim = [&](const char* name) -> std::optional<int64_t> {
    auto it = claims.find(name);
    if (it == claims.end() || !it->is_number()) return std::nullopt;
    return it->get<int64_t>();
  };
  if (string_claim("iss") != std::string(issuer)) {
    return Denied("ID token issuer is not " + std::string(issuer));
  }
  auto sub = string_claim("sub");
  if (!sub || sub->empty()) return Denied("ID token has no subject");
  auto aud = claims.find("aud");
  std::vector<std::string> audiences;
  if (aud != claims.end() && aud->is_string()) audiences.push_back(aud->get<std::string>());
  if (aud != claims.end() && aud->is_array()) {
    for (const auto& a : *aud) {
      if (a.is_string()) audiences.push_back(a.get<std::string>());
    }
  }
  if (std::find(audiences.begin(), audiences.end(), client_id) == audiences.end()) {
    return Denied("ID token is not meant for this client (aud)");
  }
  auto azp = string_claim("azp");
  if ((audiences.size() > 1 || claims.contains("azp")) && azp != std::string(client_id)) {
    return Denied("ID token was issued to another party (azp)");
  }
  auto exp = time_claim("exp");
  auto iat = time_claim("iat");
  if (!exp || !iat) return Denied("ID token lacks exp or iat");
  if (*exp + skew_s <= now_s) return Denied("ID token expired");
  if (*iat - skew_s > now_s) return Denied("ID token issued in the future");
  if (auto nbf = time_claim("nbf"); nbf && *nbf - skew_s > now_s) {
    return Denied("ID token not valid yet (nbf)");
  }
  auto token_nonce = string_claim("nonce");
  if (!token_nonce || nonce.empty() || *token_nonce != nonce) {
    return Denied("ID token nonce does not match this sign-in");
  }
  return Status::Ok();
}

}  // namespace logbucket::auth
