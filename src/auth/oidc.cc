#include "auth/oidc.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/log.h"
#include "http/client/curl_client.h"

namespace logbucket::auth {
namespace {

constexpr std::string_view kStateCookiePrefix = "lb_oidc_";
constexpr size_t kMaxProviderDocumentBytes = 1 << 20;

int64_t NowSeconds() { return SystemClock::Instance().NowMs() / 1000; }

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  for (std::string_view part : Split(query, '&')) {
    size_t eq = part.find('=');
    if (part.substr(0, eq) != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return UriDecode(part.substr(eq + 1), /*plus_is_space=*/true);
  }
  return std::nullopt;
}

// Text from the query string (the provider's error, or whoever forged the link) for a page and
// a log line: at most 200 bytes, control characters (forged log lines) replaced.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 200));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string RandomToken(size_t bytes) { return Base64UrlEncode(RandomBytes(bytes)); }

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += UriEncode(name, false) + "=" + UriEncode(value, false);
  }
  return out;
}

struct ProviderMetadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string userinfo_endpoint;     // optional
  std::string end_session_endpoint;  // optional
};

// A provider's answer that is not a JSON object is a provider failure, said plainly.
Result<nlohmann::json> FetchJson(http::client::CurlClient& client, std::string_view method,
                                 const std::string& url, const Headers& headers,
                                 std::string_view body, std::string_view what) {
  auto response = client.Send(method, url, headers, body);
  if (!response) {
    return Error(
        ErrorCode::kServiceUnavailable,
        std::string(what) + " at " + url + " cannot be reached: " + response.error().message());
  }
  if (response->body.size() > kMaxProviderDocumentBytes) {
    return Error(ErrorCode::kServiceUnavailable, std::string(what) + " answer is too large");
  }
  nlohmann::json j = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200) {
    std::string detail;
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
      detail = ": " + j["error"].get<std::string>();
      if (j.contains("error_description") && j["error_description"].is_string()) {
        detail += " (" + j["error_description"].get<std::string>() + ")";
      }
    }
    return Error(ErrorCode::kServiceUnavailable,
                 std::string(what) + " answered HTTP " + std::to_string(response->status) + detail);
  }
  if (!j.is_object()) {
    return Error(ErrorCode::kServiceUnavailable,
                 std::string(what) + " answered something that is not a JSON object");
  }
  return j;
}

std::string StringField(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string CookieHeader(std::string_view name, std::string_view value, std::string_view path,
                         int64_t max_age, bool secure) {
  std::string c = std::string(name) + "=" + std::string(value) + "; Path=" + std::string(path) +
                  "; Max-Age=" + std::to_string(max_age) + "; HttpOnly; SameSite=Lax";
  if (secure) c += "; Secure";
  return c;
}

bool UrlIsHttp(std::string_view url) {
  return url.starts_with("https://") || url.starts_with("http://");
}

}  // namespace

std::optional<std::string_view> CookieValue(const http::Request& request, std::string_view name) {
  std::optional<std::string_view> found;
  for (const auto& [header, value] : request.headers) {
    if (header != "cookie") continue;
    for (std::string_view part : Split(value, ';')) {
      part = TrimWhitespace(part);
      size_t eq = part.find('=');
      if (eq != std::string_view::npos && part.substr(0, eq) == name) {
        found = part.substr(eq + 1);
      }
    }
  }
  return found;
}

std::string SafeReturnPath(std::string_view return_to) {
  if (return_to.empty() || return_to.size() > 4096 || return_to[0] != '/') return "/";
  // "//host" and "/\host" are network-path references to browsers.
  if (return_to.size() > 1 && (return_to[1] == '/' || return_to[1] == '\\')) return "/";
  for (unsigned char c : return_to) {
    if (c < 0x20 || c == 0x7f || c == '\\') return "/";
  }
  if (return_to.starts_with(kAuthPathPrefix)) return "/";  // never back into the sign-in flow
  return std::string(return_to);
}

struct OidcRelyingParty::Impl {
  OidcOptions options;
  std::atomic<int64_t> session_seconds{options.session_seconds};
  std::shared_ptr<const SessionCodec> sessions;
  std::string state_key;  // HMAC key for the sign-in cookie, derived from the session secret
  std::string redirect_uri;
  bool secure = false;

  std::mutex mu;
  std::optional<ProviderMetadata> metadata;
  std::shared_ptr<const JwkSet> jwks;
  int64_t jwks_window_start_s = 0;
  int jwks_window_fetches = 0;
  std::map<std::string, int64_t> spent_states;  // state → its expiry (replays refused)

  std::unique_ptr<http::client::CurlClient> NewClient() const {
    http::client::CurlOptions o;
    o.connect_timeout_ms = std::min(options.http_timeout_ms, 5000);
    o.timeout_ms = options.http_timeout_ms;
    o.max_response_bytes = kMaxProviderDocumentBytes;
    o.ca_file = options.ca_file;
    return std::make_unique<http::client::CurlClient>(o);
  }

  // Discovery once; a failure is not remembered, so the next sign-in tries again.
  Result<ProviderMetadata> Metadata() {
    {
      std::lock_guard lock(mu);
      if (metadata) return *metadata;
    }
    std::string url = options.issuer;
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += "/.well-known/openid-configuration";
    auto client = NewClient();
    auto j = FetchJson(*client, "GET", url, {}, {}, "the sign-in provider's discovery document");
    if (!j) return j.error();
    ProviderMetadata m;
    m.issuer = StringField(*j, "issuer");
    m.authorization_endpoint = StringField(*j, "authorization_endpoint");
    m.token_endpoint = StringField(*j, "token_endpoint");
    m.jwks_uri = StringField(*j, "jwks_uri");
    m.userinfo_endpoint = StringField(*j, "userinfo_endpoint");
    m.end_session_endpoint = StringField(*j, "end_session_endpoint");
    if (m.issuer != options.issuer) {
      return Error(ErrorCode::kServiceUnavailable, "the discovery document names issuer '" +
                                                       m.issuer + "', not the configured '" +
                                                       options.issuer + "'");
    }
    if (!UrlIsHttp(m.authorization_endpoint) || !UrlIsHttp(m.token_endpoint) ||
        !UrlIsHttp(m.jwks_uri)) {
      return Error(ErrorCode::kServiceUnavailable,
                   "the discovery document lacks an authorization, token or JWKS endpoint");
    }
    if (!m.userinfo_endpoint.empty() && !UrlIsHttp(m.userinfo_endpoint)) {
      m.userinfo_endpoint.clear();
    }
    if (!m.end_session_endpoint.empty() && !UrlIsHttp(m.end_session_endpoint)) {
      m.end_session_endpoint.clear();
    }
    Log().info("oidc: provider {} discovered", m.issuer);
    std::lock_guard lock(mu);
    metadata = m;
    return m;
  }

  // The cached key set; fetched when there is none, or when `need_kid` is unknown to it (a
  // provider rotating keys, or an attacker's made-up kid), within a rate limit.
  Result<std::shared_ptr<const JwkSet>> Keys(const ProviderMetadata& m,
                                             const std::string& need_kid) {
    int64_t now = NowSeconds();
    {
      std::lock_guard lock(mu);
      bool known = jwks && (need_kid.empty() || jwks->HasKid(need_kid));
      if (known) return jwks;
      // A budget of refetches per window: a rotation is picked up at once, a stream of
      // made-up kids costs the provider at most jwks_refetches_per_minute requests a minute.
      if (now - jwks_window_start_s >= 60) {
        jwks_window_start_s = now;
        jwks_window_fetches = 0;
      }
      if (jwks && jwks_window_fetches >= options.jwks_refetches_per_minute) return jwks;
      ++jwks_window_fetches;  // claimed before fetching, so concurrent sign-ins share the budget
    }
    auto client = NewClient();
    auto j = FetchJson(*client, "GET", m.jwks_uri, {}, {}, "the provider's key set (JWKS)");
    if (!j) return j.error();
    auto parsed = JwkSet::Parse(j->dump());
    if (!parsed) return Error(ErrorCode::kServiceUnavailable, parsed.error().message());
    auto set = std::make_shared<const JwkSet>(std::move(*parsed));
    Log().info("oidc: fetched the provider's keys ({} usable)", set->size());
    std::lock_guard lock(mu);
    jwks = set;
    return set;
  }

  AuthReply Page(int status, std::string message) const {
    AuthReply r;
    r.status = status;
    r.message = std::move(message);
    r.link_href = "/";
    r.link_label = "Start again";
    return r;
  }

  AuthReply Login(const http::Request& request) {
    std::string return_to =
        SafeReturnPath(QueryParam(request.raw_query, "return_to").value_or("/"));
    if (!QueryParam(request.raw_query, "go")) {
      // A browser still has the #L… of the link it opened (it survives our redirect, not the
      // provider's login form); this page's script adds it to return_to and continues.
      AuthReply r;
      r.status = 200;
      r.message = "Signing you in…";
      r.link_href = "/_auth/login?go=1&return_to=" + UriEncode(return_to, false);
      r.link_label = "Continue to sign-in";
      r.keep_hash = true;
      return r;
    }
    auto m = Metadata();
    if (!m) {
      Log().warn("oidc: sign-in failed: {}", m.error().message());
      return Page(502,
                  "Sign-in is unavailable: " + m.error().message() + ". Try again in a minute.");
    }
    std::string state = RandomToken(24);
    std::string nonce = RandomToken(24);
    std::string verifier = RandomToken(32);  // 43 characters, RFC 7636 §4.1
    std::string challenge = Base64UrlEncode(Sha256(verifier));
    nlohmann::json pending = {{"s", state},
                              {"n", nonce},
                              {"v", verifier},
                              {"r", return_to},
                              {"exp", NowSeconds() + options.login_seconds}};
    std::string payload = Base64UrlEncode(pending.dump());
    std::string sealed = payload + "." + Base64UrlEncode(HmacSha256(state_key, payload));

    std::string scope;
    for (const auto& s : options.scopes) scope += (scope.empty() ? "" : " ") + s;
    std::string url = m->authorization_endpoint;
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += FormEncode({{"response_type", "code"},
                       {"client_id", options.client_id},
                       {"redirect_uri", redirect_uri},
                       {"scope", scope},
                       {"state", state},
                       {"nonce", nonce},
                       {"code_challenge", challenge},
                       {"code_challenge_method", "S256"}});
    AuthReply r;
    r.location = url;
    // One cookie per sign-in in progress (named by the state), so two tabs do not collide.
    r.set_cookies.push_back(CookieHeader(std::string(kStateCookiePrefix) + state.substr(0, 12),
                                         sealed, "/_auth/", options.login_seconds, secure));
    return r;
  }

  // Marks `state` used; false when it already was (a replayed callback).
  bool SpendState(const std::string& state, int64_t expires_s) {
    std::lock_guard lock(mu);
    int64_t now = NowSeconds();
    for (auto it = spent_states.begin(); it != spent_states.end();) {
      it = it->second < now ? spent_states.erase(it) : std::next(it);
    }
    if (spent_states.size() > 100000) spent_states.clear();  // bounded; the provider also refuses
    return spent_states.emplace(state, expires_s).second;
  }

  AuthReply Callback(const http::Request& request) {
    auto state = QueryParam(request.raw_query, "state");
    if (auto raw_error = QueryParam(request.raw_query, "error")) {
      std::string error = Printable(*raw_error);
      std::string description =
          Printable(QueryParam(request.raw_query, "error_description").value_or(""));
      Log().info("oidc: provider refused the sign-in: {} {}", error, description);
      return Page(401, "The sign-in provider did not sign you in: " + error +
                           (description.empty() ? "" : " (" + description + ")") + ".");
    }
    auto code = QueryParam(request.raw_query, "code");
    if (!state || !code || state->size() < 12 || code->empty() || code->size() > 4096) {
      return Page(400,
                  "This sign-in answer lacks its code or state. Start again from the page "
                  "you wanted.");
    }
    std::string cookie_name = std::string(kStateCookiePrefix) + state->substr(0, 12);
    AuthReply r;
    r.link_href = "/";
    r.link_label = "Start again";
    r.set_cookies.push_back(CookieHeader(cookie_name, "", "/_auth/", 0, secure));
    auto cookie = CookieValue(request, cookie_name);
    nlohmann::json pending;
    if (cookie && cookie->size() < 8192) {
      size_t dot = cookie->find('.');
      std::string_view payload = cookie->substr(0, dot);
      auto mac =
          dot == std::string_view::npos ? std::nullopt : Base64UrlDecode(cookie->substr(dot + 1));
      if (mac && ConstantTimeEquals(*mac, HmacSha256(state_key, payload))) {
        auto json = Base64UrlDecode(payload);
        if (json) pending = nlohmann::json::parse(*json, nullptr, false);
      }
    }
    if (!pending.is_object() || !pending["s"].is_string() || !pending["n"].is_string() ||
        !pending["v"].is_string() || !pending["r"].is_string() ||
        !pending["exp"].is_number_integer()) {
      Log().warn("oidc: sign-in answer from {} without a valid sign-in cookie",
                 request.peer_address);
      r.status = 400;
      r.message =
          "This sign-in answer does not belong to a sign-in started in this browser (or it took "
          "too long). Open the page you wanted again.";
      return r;
    }
    int64_t expires = pending["exp"].get<int64_t>();
    if (!ConstantTimeEquals(pending["s"].get<std::string>(), *state) || expires < NowSeconds()) {
      r.status = 400;
      r.message = "This sign-in expired or does not match. Open the page you wanted again.";
      return r;
    }
    if (!SpendState(*state, expires)) {
      Log().warn("oidc: replayed sign-in state from {}", request.peer_address);
      r.status = 400;
      r.message = "This sign-in answer was already used. Open the page you wanted again.";
      return r;
    }
    auto identity =
        Exchange(*code, pending["v"].get<std::string>(), pending["n"].get<std::string>());
    if (!identity) {
      bool provider = identity.error().code() == ErrorCode::kServiceUnavailable;
      Log().warn("oidc: sign-in from {} refused: {}", request.peer_address,
                 identity.error().message());
      r.status = provider ? 502 : 403;
      r.message = (provider ? "Sign-in failed talking to the provider: "
                            : "Sign-in refused: the provider's answer did not verify: ") +
                  identity.error().message() + ".";
      return r;
    }
    Log().info("oidc: {} signed in from {} (roles: {})", identity->subject, request.peer_address,
               fmt::join(identity->roles, ","));
    r.set_cookies.push_back(CookieHeader(kSessionCookie, sessions->Seal(*identity), "/",
                                         session_seconds.load(), secure));
    r.location = pending["r"].get<std::string>();
    return r;
  }

  Result<Identity> Exchange(const std::string& code, const std::string& verifier,
                            const std::string& nonce) {
    auto m = Metadata();
    if (!m) return m.error();
    std::vector<std::pair<std::string, std::string>> form = {{"grant_type", "authorization_code"},
                                                             {"code", code},
                                                             {"redirect_uri", redirect_uri},
                                                             {"code_verifier", verifier}};
    Headers headers = {{"content-type", "application/x-www-form-urlencoded"},
                       {"accept", "application/json"}};
    if (options.client_secret.empty()) {
      form.push_back({"client_id", options.client_id});  // a public client: PKCE alone
    } else if (options.token_auth_method == "client_secret_post") {
      form.push_back({"client_id", options.client_id});
      form.push_back({"client_secret", options.client_secret});
    } else {
      // RFC 6749 §2.3.1: both parts form-encoded before base64.
      headers.push_back(
          {"authorization", "Basic " + Base64Encode(UriEncode(options.client_id, false) + ":" +
                                                    UriEncode(options.client_secret, false))});
    }
    auto client = NewClient();
    auto tokens = FetchJson(*client, "POST", m->token_endpoint, headers, FormEncode(form),
                            "the token endpoint");
    if (!tokens) return tokens.error();
    std::string id_token = StringField(*tokens, "id_token");
    std::string access_token = StringField(*tokens, "access_token");
    if (id_token.empty()) {
      return Error(ErrorCode::kServiceUnavailable, "the token endpoint returned no id_token");
    }
    auto jwt = DecodeJwt(id_token);
    if (!jwt) return jwt.error();
    if (!IsAcceptedJwtAlgorithm(jwt->alg)) {
      return Error(ErrorCode::kAccessDenied,
                   "ID token algorithm '" + jwt->alg + "' is not accepted (RS*, PS*, ES* only)");
    }
    auto keys = Keys(*m, jwt->kid);
    if (!keys) return keys.error();
    if (!*keys) return Error(ErrorCode::kServiceUnavailable, "the provider's keys are unknown");
    LB_RETURN_IF_ERROR((*keys)->Verify(*jwt));
    LB_RETURN_IF_ERROR(ValidateIdTokenClaims(jwt->claims, m->issuer, options.client_id, nonce,
                                             NowSeconds(), options.clock_skew_seconds));
    Identity id;
    id.subject = StringField(jwt->claims, "sub");
    id.name = StringField(jwt->claims, "name");
    if (id.name.empty()) id.name = StringField(jwt->claims, "preferred_username");
    id.email = StringField(jwt->claims, "email");
    id.roles = RolesAtClaimPath(jwt->claims.dump(), options.roles_claim);
    if (id.roles.empty() && !m->userinfo_endpoint.empty() && !access_token.empty()) {
      // Providers that keep scope claims out of the ID token (oidc-provider does, by default)
      // give them from userinfo.
      auto info =
          FetchJson(*client, "GET", m->userinfo_endpoint,
                    {{"authorization", "Bearer " + access_token}, {"accept", "application/json"}},
                    {}, "the userinfo endpoint");
      if (!info) return info.error();
      if (StringField(*info, "sub") != id.subject) {
        return Error(ErrorCode::kAccessDenied, "userinfo is about another subject");
      }
      id.roles = RolesAtClaimPath(info->dump(), options.roles_claim);
      if (id.name.empty()) id.name = StringField(*info, "name");
      if (id.name.empty()) id.name = StringField(*info, "preferred_username");
      if (id.email.empty()) id.email = StringField(*info, "email");
    }
    id.expires_s = NowSeconds() + session_seconds.load();
    return id;
  }

  AuthReply Logout() {
    AuthReply r;
    r.set_cookies.push_back(CookieHeader(kSessionCookie, "", "/", 0, secure));
    r.location = "/_auth/signed-out";
    std::string end_session;
    {
      std::lock_guard lock(mu);
      if (metadata) end_session = metadata->end_session_endpoint;
    }
    if (end_session.empty()) {
      auto m = Metadata();  // the provider may be down: local sign-out still happens
      if (m) end_session = m->end_session_endpoint;
    }
    if (!end_session.empty()) {
      r.location =
          end_session + (end_session.find('?') == std::string::npos ? "?" : "&") +
          FormEncode({{"client_id", options.client_id},
                      {"post_logout_redirect_uri", options.public_url + "/_auth/signed-out"}});
    }
    return r;
  }
};

OidcRelyingParty::OidcRelyingParty(OidcOptions options,
                                   std::shared_ptr<const SessionCodec> sessions)
    : impl_(std::make_unique<Impl>()) {
  while (!options.public_url.empty() && options.public_url.back() == '/') {
    options.public_url.pop_back();
  }
  impl_->redirect_uri = options.public_url + "/_auth/callback";
  impl_->secure = options.tls || options.public_url.starts_with("https://");
  impl_->state_key = sessions->DeriveKey("logbucket oidc sign-in");
  impl_->options = std::move(options);
  impl_->sessions = std::move(sessions);
  secure_ = impl_->secure;
}

OidcRelyingParty::~OidcRelyingParty() = default;

void OidcRelyingParty::SetSessionSeconds(int64_t seconds) { impl_->session_seconds = seconds; }

AuthReply OidcRelyingParty::Handle(const http::Request& request) {
  std::string_view path = request.raw_path;
  if (request.method != "GET" && request.method != "HEAD" &&
      !(path == "/_auth/logout" && request.method == "POST")) {
    return impl_->Page(405, "Method not allowed here.");
  }
  if (path == "/_auth/login") return impl_->Login(request);
  if (path == "/_auth/callback") return impl_->Callback(request);
  if (path == "/_auth/logout") return impl_->Logout();
  if (path == "/_auth/signed-out") {
    AuthReply r = impl_->Page(200, "You are signed out.");
    r.link_href = "/_auth/login?return_to=%2F";
    r.link_label = "Sign in again";
    return r;
  }
  return impl_->Page(404, "No such page.");
}

AuthReply OidcRelyingParty::SignInRedirect(const http::Request& request) const {
  AuthReply r;
  r.location = "/_auth/login?return_to=" + UriEncode(SafeReturnPath(request.target), false);
  return r;
}

}  // namespace logbucket::auth
