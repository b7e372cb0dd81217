#include "auth/gate.h"

#include "auth/oidc.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/headers.h"
#include "common/log.h"

namespace logbucket::auth {
namespace {

std::optional<std::string_view> FirstHeader(const Headers& headers,
                                            const std::vector<std::string>& names) {
  for (const auto& name : names) {
    auto value = FindHeader(headers, name);
    if (value && !TrimWhitespace(*value).empty()) return TrimWhitespace(*value);
  }
  return std::nullopt;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

bool IsApiRequest(const http::Request& request) {
  for (std::string_view part : Split(request.raw_query, '&')) {
    std::string_view name = part.substr(0, part.find('='));
    if (name == "meta" || name == "lines" || name == "search" || name == "errors") return true;
  }
  auto accept = FindHeader(request.headers, "accept");
  return accept && accept->find("application/json") != std::string_view::npos &&
         accept->find("text/html") == std::string_view::npos;
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
    for (const auto& cidr : options_.trusted_proxies) {
      if (peer && CidrContains(cidr, *peer)) trusted = true;
    }
    auto user = FirstHeader(request.headers, options_.headers.user);
    if (!trusted) {
      // Anyone can send these headers; only the proxy's count. Logged: it is either a
      // misconfigured trusted_proxies or someone trying.
      if (user) {
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
    if (!user) {
      Verdict v;
      v.status = 401;
      v.message = "The proxy in front of this viewer sent no signed-in user.";
      return v;
    }
    Identity id;
    id.subject = std::string(*user);
    id.name = std::string(FirstHeader(request.headers, options_.headers.name).value_or(""));
    id.email = std::string(FirstHeader(request.headers, options_.headers.email).value_or(""));
    if (auto roles = FirstHeader(request.headers, options_.headers.roles)) {
      id.roles = SplitRoles(*roles);
    }
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
