// logbucket as an OpenID Connect relying party (auth.mode = "oidc"): the authorization-code flow
// with PKCE (S256), state and nonce; the provider's metadata from discovery; ID tokens verified
// against its JWKS (auth/jwt.h), re-fetched on an unknown kid at most
// `jwks_refetches_per_minute` times a minute; roles from the ID token or, when absent there, from
// userinfo. The outcome is a stateless session cookie (auth/session.h), so no frontend keeps
// sign-in state beyond a short list of spent `state` values.
//
// Routes, all under /_auth/ (the web server runs them on worker threads: they call the provider):
//   /_auth/login?return_to=/path   a page that picks up the link's #L… and goes on to
//   /_auth/login?go=1&return_to=…  which starts the sign-in (state cookie, off to the provider)
//   /_auth/callback                the provider sends the browser back here
//   /_auth/logout                  clears the session; RP-initiated logout when advertised
//   /_auth/signed-out              where the provider's logout returns
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/session.h"
#include "http/handler.h"

namespace logbucket::auth {

inline constexpr std::string_view kAuthPathPrefix = "/_auth/";
inline constexpr std::string_view kSessionCookie = "lb_session";

struct OidcOptions {
  std::string issuer;  // exactly as the provider's discovery document names itself
  std::string client_id;
  std::string client_secret;
  std::string token_auth_method = "client_secret_basic";  // or client_secret_post
  // Where browsers reach this viewer ("https://alice-logs.example.org"): the redirect URI is
  // public_url + "/_auth/callback". Never taken from the Host header, which the client controls.
  std::string public_url;
  std::vector<std::string> scopes = {"openid", "profile", "email"};
  std::string roles_claim = "cern_roles";
  int64_t session_seconds = 12 * 3600;
  int64_t clock_skew_seconds = 60;
  int jwks_refetches_per_minute = 5;
  int64_t login_seconds = 600;  // a sign-in must come back within this
  int http_timeout_ms = 10000;  // each call to the provider
  bool tls = false;             // the viewer's own listener speaks TLS: cookies are Secure
  std::string ca_file;          // PEM CAs to trust for the provider; "" = the system's
};

// What a /_auth/ route answers; the web server renders it (redirect, or a page with `message`).
struct AuthReply {
  int status = 302;
  std::string location;                  // redirects
  std::vector<std::string> set_cookies;  // Set-Cookie values
  std::string message;                   // pages: plain text, escaped when shown
  std::string link_href;                 // pages: where to go next
  std::string link_label;
  bool keep_hash = false;  // the page follows link_href at once, adding its #fragment
};

class OidcRelyingParty {
 public:
  OidcRelyingParty(OidcOptions options, std::shared_ptr<const SessionCodec> sessions);
  ~OidcRelyingParty();

  static bool Owns(std::string_view path) { return path.starts_with(kAuthPathPrefix); }
  AuthReply Handle(const http::Request& request);
  // A page request without a (valid) session: off to the provider, coming back to this URL.
  AuthReply SignInRedirect(const http::Request& request) const;

  // Cookie attributes every cookie we set carries.
  bool secure_cookies() const { return secure_; }

  // How long a new session lasts (auth.session_seconds, changed by a reload); sessions already
  // issued keep the expiry sealed into them.
  void SetSessionSeconds(int64_t seconds);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool secure_ = false;
};

// The session cookie's value in a request, if any (the last one wins, as browsers send the
// most specific path first and we only set one path).
std::optional<std::string_view> CookieValue(const http::Request& request, std::string_view name);

// return_to must be a path on this site: "/x", not "//evil", "/\evil", "https://…" or anything
// with control characters. Anything else becomes "/".
std::string SafeReturnPath(std::string_view return_to);

}  // namespace logbucket::auth
