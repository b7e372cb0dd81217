// What a browser or a proxy in front of the viewer controls about sign-in: the session cookie,
// the OIDC callback (query and cookies, checked before any call to the provider), an ID token
// and a key set as a provider would send them (decoded, verified, claims validated, roles read),
// and the identity headers the proxy gate reads. Input: fields separated by "\n--\n":
//   0 session cookie, 1 callback query, 2 Cookie header, 3 JWT, 4 JWKS JSON,
//   5 claims path, 6 proxy headers ("name: value" lines).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/gate.h"
#include "auth/jwt.h"
#include "auth/oidc.h"
#include "auth/session.h"
#include "common/encoding.h"
#include "common/net.h"

namespace {

using namespace logbucket;

struct World {
  std::shared_ptr<const auth::SessionCodec> sessions =
      std::make_shared<auth::SessionCodec>(std::string(32, 'k'));
  std::unique_ptr<auth::OidcRelyingParty> rp;
  std::unique_ptr<auth::Gate> apache;
  std::unique_ptr<auth::Gate> oauth2;

  World() {
    auth::OidcOptions o;
    o.issuer = "http://127.0.0.1:9";  // the discard port: nothing answers
    o.client_id = "alice-build-logs";
    o.client_secret = "secret";
    o.public_url = "https://alice-logs.example.org";
    o.http_timeout_ms = 100;
    rp = std::make_unique<auth::OidcRelyingParty>(o, sessions);
    auth::GateOptions g;
    g.mode = auth::Mode::kProxy;
    g.require_roles = {"alice-member"};
    g.trusted_proxies = {*ParseCidr("127.0.0.2")};
    apache = std::make_unique<auth::Gate>(g);
    g.proxy_kind = auth::ProxyKind::kOauth2Proxy;
    g.headers = auth::HeadersOf(auth::ProxyKind::kOauth2Proxy, "cern_roles");
    oauth2 = std::make_unique<auth::Gate>(g);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> field;
  while (field.size() < 6) {
    size_t sep = in.find("\n--\n");
    if (sep == std::string_view::npos) break;
    field.push_back(in.substr(0, sep));
    in.remove_prefix(sep + 4);
  }
  field.push_back(in);
  field.resize(7);

  (void)world->sessions->Open(field[0], 1700000000);

  http::Request callback;
  callback.method = "GET";
  callback.target = "/_auth/callback?" + std::string(field[1]);
  callback.raw_path = std::string_view(callback.target).substr(0, 15);
  callback.raw_query = std::string_view(callback.target).substr(16);
  callback.peer_address = "192.0.2.7";
  callback.headers = {{"cookie", std::string(field[2])}};
  (void)world->rp->Handle(callback);
  (void)auth::CookieValue(callback, auth::kSessionCookie);
  (void)auth::SafeReturnPath(field[1]);

  if (auto jwt = auth::DecodeJwt(field[3])) {
    if (auto keys = auth::JwkSet::Parse(field[4])) (void)keys->Verify(*jwt);
    (void)auth::ValidateIdTokenClaims(jwt->claims, "http://127.0.0.1:9", "alice-build-logs",
                                      "nonce", 1700000000, 60);
  }
  (void)auth::RolesAtClaimPath(field[4], field[5]);

  http::Request proxied;
  proxied.method = "GET";
  proxied.target = "/";
  proxied.raw_path = proxied.target;
  proxied.peer_address = "127.0.0.2";
  for (std::string_view line : Split(field[6], '\n')) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    proxied.headers.push_back(
        {AsciiLower(line.substr(0, colon)), std::string(TrimWhitespace(line.substr(colon + 1)))});
  }
  (void)world->apache->Check(proxied);
  (void)world->oauth2->Check(proxied);
  return 0;
}
