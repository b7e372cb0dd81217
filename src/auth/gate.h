// The web listener's sign-in gate: decides, before the viewer sees a request, who is asking and
// whether they may read. Modes (DESIGN §5):
//   none   no sign-in; loopback only unless explicitly forced, and every page says so;
//   proxy  a reverse proxy (Apache mod_auth_openidc, oauth2-proxy) signed the user in and
//          forwards who it is in headers, believed only from `trusted_proxies`;
//   oidc   logbucket is the OpenID Connect relying party itself (auth/oidc.h).
// Authorisation is the same for all: at least one of `require_roles`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "auth/session.h"
#include "common/net.h"
#include "http/handler.h"

namespace logbucket::auth {

enum class Mode { kNone, kProxy, kOidc };

// Header names (lower case) tried in order; the first present one wins.
struct ProxyHeaders {
  std::vector<std::string> user = {"oidc_claim_sub", "x-forwarded-user"};
  std::vector<std::string> name = {"oidc_claim_name", "x-forwarded-preferred-username"};
  std::vector<std::string> email = {"oidc_claim_email", "x-forwarded-email"};
  std::vector<std::string> roles = {"oidc_claim_cern_roles", "x-forwarded-groups"};
};

struct GateOptions {
  Mode mode = Mode::kNone;
  std::vector<std::string> require_roles;  // any one of them; empty = any signed-in user
  std::vector<Cidr> trusted_proxies;       // proxy mode: peers whose identity headers count
  ProxyHeaders headers;
  // oidc mode: opens the session cookie (auth/oidc.h issues it).
  std::shared_ptr<const SessionCodec> sessions;
};

struct Verdict {
  bool allowed = false;
  Identity identity;     // who asked (empty in mode none, or when nobody is signed in)
  int status = 0;        // when not allowed: 401 or 403
  std::string message;   // for the refusal page: plain text, escaped when shown
  bool sign_in = false;  // oidc: nobody (validly) signed in; pages go to the provider
};

class Gate {
 public:
  explicit Gate(GateOptions options);
  Verdict Check(const http::Request& request) const;

 private:
  Verdict Authorise(Identity identity) const;
  GateOptions options_;
};

// True for requests a script makes (the viewer's JSON API, or Accept: application/json): they
// get 401/403 JSON instead of a page.
bool IsApiRequest(const http::Request& request);

}  // namespace logbucket::auth
