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
#include <string_view>
#include <vector>

#include "auth/session.h"
#include "common/live.h"
#include "common/net.h"
#include "http/handler.h"

namespace logbucket::auth {

enum class Mode { kNone, kProxy, kOidc };

// The authenticating proxy in front of the viewer (auth.proxy.kind). Every identity attribute
// comes from that one proxy's header family: the headers it sets, and strips from what clients
// send. Mixing families let a browser-supplied header of the other family stand in for one the
// proxy did not set (a user without roles adding X-Forwarded-Groups behind mod_auth_openidc).
enum class ProxyKind { kModAuthOpenidc, kOauth2Proxy, kCustom };

// The family's header names, lower case; name and email may be empty (not sent).
struct ProxyHeaders {
  std::string user;
  std::string name;
  std::string email;
  std::string roles;
};

// mod_auth_openidc (OIDCPassClaimsAs headers): OIDC_CLAIM_sub, _name, _email, _<roles_claim>;
// oauth2-proxy: X-Forwarded-User, -Preferred-Username, -Email, -Groups. kCustom: none.
ProxyHeaders HeadersOf(ProxyKind kind, std::string_view roles_claim);

struct GateOptions {
  Mode mode = Mode::kNone;
  std::vector<std::string> require_roles;  // any one of them; empty = any signed-in user
  std::vector<Cidr> trusted_proxies;       // proxy mode: peers whose identity headers count
  ProxyKind proxy_kind = ProxyKind::kModAuthOpenidc;
  ProxyHeaders headers = HeadersOf(ProxyKind::kModAuthOpenidc, "cern_roles");
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

  // auth.trusted_proxies, changed by a configuration reload.
  void SetTrustedProxies(std::vector<Cidr> proxies) { trusted_proxies_.Set(std::move(proxies)); }

 private:
  Verdict Authorise(Identity identity) const;
  GateOptions options_;
  Live<std::vector<Cidr>> trusted_proxies_{options_.trusted_proxies};
};

}  // namespace logbucket::auth
