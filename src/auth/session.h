// Who is signed in, and the stateless session cookie that carries it between requests: an
// HMAC-SHA256 over (subject, name, email, roles, expiry) with a secret every frontend of one
// site shares, so any of them accepts a cookie another one issued and none keeps state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace logbucket::auth {

struct Identity {
  std::string subject;  // the provider's `sub`, or the proxy's user header
  std::string name;     // for display
  std::string email;
  std::vector<std::string> roles;
  int64_t expires_s = 0;  // Unix seconds; 0 = not a session (proxy mode, or no sign-in)
  // What pages show: the name, or the subject when the provider gave none.
  const std::string& DisplayName() const { return name.empty() ? subject : name; }
};

// The error message of Open for a session past its expiry (routine, unlike a bad signature).
inline constexpr std::string_view kSessionExpired = "session expired";

// Cookies larger than this are refused unread (a browser sends at most ~4 KB per cookie).
inline constexpr size_t kMaxSessionCookieBytes = 4096;

class SessionCodec {
 public:
  // `secret`: at least 32 bytes (config or the data dir's web-session.key).
  explicit SessionCodec(std::string secret);
  // The cookie value: base64url(JSON) "." base64url(HMAC). Roles that would push it past
  // kMaxSessionCookieBytes are dropped from the end (the caller checks the required role first).
  std::string Seal(const Identity& identity) const;
  // Verifies (constant-time), then checks expiry against `now_s`. Errors say why, for the log.
  Result<Identity> Open(std::string_view cookie, int64_t now_s) const;
  // A key for another purpose (the OIDC sign-in cookie), derived so it never signs sessions.
  std::string DeriveKey(std::string_view purpose) const;

 private:
  std::string secret_;
};

// Roles from ID-token/userinfo claims at a dotted path ("cern_roles", "groups",
// "realm_access.roles"): an array of strings, or one string of comma/space-separated roles.
std::vector<std::string> RolesAtClaimPath(std::string_view claims_json, std::string_view path);
// "a, b c" → {a, b, c} (proxy headers: mod_auth_openidc joins arrays with ',').
std::vector<std::string> SplitRoles(std::string_view text);
bool HasAnyRole(const Identity& identity, const std::vector<std::string>& required);

}  // namespace logbucket::auth
