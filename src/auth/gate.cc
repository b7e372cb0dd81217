#include "auth/gate.h"

#include "auth/oidc.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/headers.h"
#include "common/log.h"

namespace logbucket::auth {
namespace {

// One identity header: absent, present once (trimmed value, possibly empty), or repeated (the
// proxy appended where it should have replaced, so a client's copy may have survived).
struct IdentityHeader {
  int count = 0;
  std::string_view value;
};

IdentityHeader Find(const Headers& headers, std::string_view name) {
  IdentityHeader found;
  if (name.empty()) return found;
  for (const Header& h : headers) {
    if (h.name == name) {
      ++found.count;
      found.value = TrimWhitespace(h.value);
    }
  }
  return found;
}

// Identity headers of every family this viewer knows, for the warning when a request carries
// one the configured proxy does not own.
constexpr std::string_view kKnownIdentityHeaders[] = {
    "x-forwarded-user",   "x-forwarded-email",   "x-forwarded-preferred-username",
    "x-forwarded-groups", "x-auth-request-user", "x-auth-request-groups",
    "remote-user",        "x-remote-user"};

bool OwnHeader(const ProxyHeaders& own, std::string_view name) {
  return name == own.user || name == own.name || name == own.email || name == own.roles;
}

std::string_view ForeignIdentityHeader(const Headers& headers, const ProxyHeaders& own) {
  for (const Header& h : headers) {
    if (OwnHeader(own, h.name)) continue;
    if (h.name.starts_with("oidc_claim_")) return h.name;
    for (std::string_view known : kKnownIdentityHeaders) {
      if (h.name == known) return h.name;
    }
  }
  return {};
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

ProxyHeaders HeadersOf(ProxyKind kind, std::string_view roles_claim) {
  switch (kind) {
    case ProxyKind::kModAuthOpenidc:
      return {"oidc_claim_sub", "oidc_claim_name", "oidc_claim_email",
              "oidc_claim_" + AsciiLower(roles_claim)};
    case ProxyKind::kOauth2Proxy:
      return {"x-forwarded-user", "x-forwarded-preferred-username", "x-forwarded-email",
              "x-forwarded-groups"};
    case ProxyKind::kCustom:
      break;
  }
  return {};
}

Gate::Gate(GateOptions options) : options_(std::move(options)) {}

Verdict Gate::Authorise(Identity identity) const {
  Verdict v;
  if (HasAnyRole(identity, options_.require_roles)) {
    v.allowed = true;
    v.identity = std::move(identity);
    return v;
  }
  v.status = 403;
  std::string who =
      identity.name.empty() ? identity.subject : identity.name + " (" + identity.subject + ")";
  v.message = "You are signed in as " + who + ", but reading these logs needs the role " +
              Joined(options_.require_roles) + ". Your roles: " +
              (identity.roles.empty() ? std::string("none") : Joined(identity.roles)) + ".";
  v.identity = std::move(identity);
  return v;
}

Verdict Gate::Check(const http::Request& request) const {
  if (options_.mode == Mode::kNone) {
    Verdict v;
    v.allowed = true;
    return v;
  }
  if (options_.mode == Mode::kProxy) {
    auto peer = ParseIp(request.peer_address);
    bool trusted = false;
    for (const auto& cidr : *trusted_proxies_.Get()) {
      if (peer && CidrContains(cidr, *peer)) trusted = true;
    }
    const ProxyHeaders& own = options_.headers;
    IdentityHeader user = Find(request.headers, own.user);
    if (!trusted) {
      // Anyone can send these headers; only the proxy's count. Logged: it is either a
      // misconfigured trusted_proxies or someone trying.
      if (user.count > 0) {
        Log().warn("web: ignored identity headers from {} (not in auth.trusted_proxies)",
                   request.peer_address);
      }
      Verdict v;
      v.status = 401;
      v.message =
          "Sign in through the site's front door: this address accepts identities only "
          "from its trusted proxy.";
      return v;
    }
    IdentityHeader roles = Find(request.headers, own.roles);
    IdentityHeader name = Find(request.headers, own.name);
    IdentityHeader email = Find(request.headers, own.email);
    if (user.count > 1 || roles.count > 1 || name.count > 1 || email.count > 1) {
      Log().warn(
          "web: refused a request from proxy {} carrying an identity header more than once "
          "(the proxy must replace, not append, {} / {})",
          request.peer_address, own.user, own.roles);
      Verdict v;
      v.status = 401;
      v.message = "The proxy in front of this viewer sent conflicting identities.";
      return v;
    }
    if (std::string_view foreign = ForeignIdentityHeader(request.headers, own); !foreign.empty()) {
      // Not believed: only the configured proxy's family counts. Said in the log because a
      // proxy that passes a client's identity headers through is an attack waiting to happen.
      Log().warn("web: ignored header {} from proxy {} (auth.proxy.kind reads {} and {} only)",
                 foreign, request.peer_address, own.user, own.roles);
    }
    if (user.count == 0 || user.value.empty()) {
      Verdict v;
      v.status = 401;
      v.message = "The proxy in front of this viewer sent no signed-in user.";
      return v;
    }
    Identity id;
    id.subject = std::string(user.value);
    id.name = std::string(name.value);
    id.email = std::string(email.value);
    // Present but empty, or absent: no roles. Never another header's.
    id.roles = SplitRoles(roles.value);
    return Authorise(std::move(id));
  }
  // oidc: the session cookie the relying party issued (auth/oidc.h).
  Verdict v;
  v.status = 401;
  v.sign_in = true;
  v.message = "Sign in to read these logs.";
  auto cookie = CookieValue(request, kSessionCookie);
  if (!cookie || cookie->empty() || !options_.sessions) return v;
  auto identity = options_.sessions->Open(*cookie, SystemClock::Instance().NowMs() / 1000);
  if (!identity) {
    // Expired ones are routine; anything else is a bug or someone trying.
    if (identity.error().message() != kSessionExpired) {
      Log().warn("web: refused session cookie from {}: {}", request.peer_address,
                 identity.error().message());
    }
    v.message =
        "Your session " +
        std::string(identity.error().message() == kSessionExpired ? "expired" : "is not valid") +
        "; sign in again.";
    return v;
  }
  return Authorise(std::move(*identity));
}

}  // namespace logbucket::auth
