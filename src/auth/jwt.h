// JSON Web Tokens as an OpenID Connect relying party meets them: ID tokens the provider signed
// with an asymmetric key published in its JWKS. Only RS256/384/512, PS256/384/512 and
// ES256/384/512 are accepted; `none` and the HMAC algorithms are refused before any key is looked
// at, so the "HS256 with the public key as secret" trick has nothing to work with. The key type
// must match the algorithm family (and its curve), and a key's own `alg`, when given, must match.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace logbucket::auth {

// ID tokens carry a few claims; anything this large is not one.
inline constexpr size_t kMaxJwtBytes = 64 * 1024;

struct Jwt {
  nlohmann::json header;  // object
  nlohmann::json claims;  // object
  std::string alg;        // header.alg
  std::string kid;        // header.kid, may be empty
  std::string signing_input;
  std::string signature;  // decoded bytes
};

// Splits and decodes a compact JWS without verifying it. Malformed → InvalidArgument.
Result<Jwt> DecodeJwt(std::string_view token);

// True for the algorithms this relying party verifies (RS*, PS*, ES*).
bool IsAcceptedJwtAlgorithm(std::string_view alg);

// A provider's signing keys (RFC 7517). Keys not usable for signature verification (encryption
// keys, unknown types or curves, RSA below 2048 bits) are skipped, not errors.
class JwkSet {
 public:
  static Result<JwkSet> Parse(std::string_view json);

  size_t size() const { return keys_.size(); }
  bool HasKid(std::string_view kid) const;
  // Verifies `jwt`'s signature with the key named by its kid (or, without a kid, each key of the
  // right type). PermissionDenied-style AccessDenied errors say why.
  Status Verify(const Jwt& jwt) const;

  struct Key;

 private:
  std::vector<std::shared_ptr<const Key>> keys_;
};

// Checks an ID token's claims (OpenID Connect Core §3.1.3.7): iss, aud (and azp when several
// audiences or when present), exp and iat within `skew_s`, nbf, nonce, non-empty sub.
Status ValidateIdTokenClaims(const nlohmann::json& claims, std::string_view issuer,
                             std::string_view client_id, std::string_view nonce, int64_t now_s,
                             int64_t skew_s);

}  // namespace logbucket::auth
