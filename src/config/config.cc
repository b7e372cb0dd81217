#include "config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <sstream>

#include "common/encoding.h"
#include "common/net.h"

namespace logbucket::config {
namespace {

Status Apply(const toml::table& root, Config& c) {
  auto str = [](const toml::node_view<const toml::node>& n, std::string& out) {
    if (auto v = n.value<std::string>()) out = *v;
  };
  auto list = [](const toml::node_view<const toml::node>& n, std::vector<std::string>& out) {
    if (const toml::array* a = n.as_array()) {
      out.clear();
      for (const auto& e : *a) {
        if (auto v = e.value<std::string>()) out.push_back(*v);
      }
    }
  };
  auto integer = [](const toml::node_view<const toml::node>& n, auto& out) {
    if (auto v = n.value<int64_t>()) out = static_cast<std::decay_t<decltype(out)>>(*v);
  };
  static const char* const kKnownTop[] = {"data_dir", "s3",    "http",   "lifecycle", "web",
                                          "auth",     "store", "builds", "log"};
  for (const auto& [key, value] : root) {
    bool known = false;
    for (const char* k : kKnownTop) known = known || key.str() == k;
    if (!known) {
      return Error(ErrorCode::kInvalidArgument,
                   "unknown configuration key '" + std::string(key.str()) + "'");
    }
  }
  toml::node_view<const toml::node> r(root);
  str(r["data_dir"], c.data_dir);
  str(r["s3"]["listen"], c.s3.listen);
  str(r["s3"]["region"], c.s3.region);
  list(r["s3"]["domains"], c.s3.domains);
  list(r["s3"]["trusted_proxies"], c.s3.trusted_proxies);
  integer(r["s3"]["max_object_bytes"], c.s3.max_object_bytes);
  integer(r["s3"]["max_xml_bytes"], c.s3.max_xml_bytes);
  integer(r["s3"]["min_free_bytes"], c.s3.min_free_bytes);
  integer(r["s3"]["reserve_bytes"], c.s3.reserve_bytes);
  integer(r["http"]["max_connections"], c.http.max_connections);
  integer(r["http"]["idle_timeout_seconds"], c.http.idle_timeout_seconds);
  integer(r["http"]["io_timeout_seconds"], c.http.io_timeout_seconds);
  integer(r["http"]["header_timeout_seconds"], c.http.header_timeout_seconds);
  integer(r["http"]["min_body_rate"], c.http.min_body_rate);
  integer(r["http"]["max_connections_per_client"], c.http.max_connections_per_client);
  integer(r["http"]["drain_seconds"], c.http.drain_seconds);
  integer(r["http"]["max_header_bytes"], c.http.max_header_bytes);
  if (auto v = r["http"]["access_log"].value<bool>()) c.http.access_log = *v;
  list(r["http"]["metrics_allow"], c.http.metrics_allow);
  str(r["web"]["listen"], c.web.listen);
  if (auto v = r["web"]["insecure_no_auth"].value<bool>()) c.web.insecure_no_auth = *v;
  str(r["web"]["site_name"], c.web.site_name);
  integer(r["web"]["cache_entries"], c.web.cache_entries);
  integer(r["web"]["gunzip_cache_bytes"], c.web.gunzip_cache_bytes);
  str(r["web"]["public_url"], c.web.public_url);
  str(r["web"]["tls_cert_file"], c.web.tls_cert_file);
  str(r["web"]["tls_key_file"], c.web.tls_key_file);
  str(r["store"]["url"], c.store.url);
  str(r["store"]["endpoint"], c.store.endpoint);
  str(r["store"]["region"], c.store.region);
  if (auto v = r["store"]["anonymous"].value<bool>()) c.store.anonymous = *v;
  str(r["store"]["profile"], c.store.profile);
  if (auto v = r["store"]["virtual_host"].value<bool>()) c.store.virtual_host = *v;
  integer(r["store"]["cache_max_bytes"], c.store.cache_max_bytes);
  str(r["store"]["ca_bundle"], c.store.ca_bundle);
  integer(r["store"]["metadata_ttl_ms"], c.store.metadata_ttl_ms);
  str(r["auth"]["session_secret"], c.auth.session_secret);
  str(r["auth"]["session_secret_file"], c.auth.session_secret_file);
  integer(r["auth"]["session_seconds"], c.auth.session_seconds);
  str(r["auth"]["oidc"]["issuer"], c.auth.oidc_issuer);
  str(r["auth"]["oidc"]["client_id"], c.auth.oidc_client_id);
  str(r["auth"]["oidc"]["client_secret"], c.auth.oidc_client_secret);
  str(r["auth"]["oidc"]["client_secret_file"], c.auth.oidc_client_secret_file);
  str(r["auth"]["oidc"]["token_auth_method"], c.auth.oidc_token_auth_method);
  list(r["auth"]["oidc"]["scopes"], c.auth.oidc_scopes);
  integer(r["auth"]["oidc"]["clock_skew_seconds"], c.auth.oidc_clock_skew_seconds);
  integer(r["auth"]["oidc"]["jwks_refetches_per_minute"], c.auth.oidc_jwks_refetches_per_minute);
  str(r["auth"]["oidc"]["ca_file"], c.auth.oidc_ca_file);
  str(r["auth"]["mode"], c.auth.mode);
  list(r["auth"]["require_role"], c.auth.require_roles);
  if (auto one = r["auth"]["require_role"].value<std::string>()) c.auth.require_roles = {*one};
  str(r["auth"]["roles_claim"], c.auth.roles_claim);
  list(r["auth"]["trusted_proxies"], c.auth.trusted_proxies);
  for (const char* old : {"user_headers", "name_headers", "email_headers", "roles_headers"}) {
    if (r["auth"]["proxy"][old]) {
      return Error(ErrorCode::kInvalidArgument,
                   std::string("auth.proxy.") + old +
                       " is gone: set auth.proxy.kind (\"mod_auth_openidc\", \"oauth2-proxy\" or "
                       "\"custom\" with auth.proxy.user_header/roles_header). Lists of headers let "
                       "a header the proxy did not set stand in for one it did.");
    }
  }
  str(r["auth"]["proxy"]["kind"], c.auth.proxy_kind);
  str(r["auth"]["proxy"]["user_header"], c.auth.proxy_user_header);
  str(r["auth"]["proxy"]["name_header"], c.auth.proxy_name_header);
  str(r["auth"]["proxy"]["email_header"], c.auth.proxy_email_header);
  str(r["auth"]["proxy"]["roles_header"], c.auth.proxy_roles_header);
  str(r["auth"]["proxy"]["sign_out_url"], c.auth.proxy_sign_out_url);
  if (auto v = r["builds"]["enabled"].value<bool>()) c.builds.enabled = *v;
  integer(r["builds"]["crawl_interval_seconds"], c.builds.crawl_interval_seconds);
  integer(r["builds"]["requests_per_second"], c.builds.requests_per_second);
  list(r["builds"]["buckets"], c.builds.buckets);
  integer(r["builds"]["window_days"], c.builds.window_days);
  integer(r["lifecycle"]["day_seconds"], c.lifecycle_day_seconds);
  integer(r["lifecycle"]["interval_seconds"], c.lifecycle_interval_seconds);
  integer(r["lifecycle"]["clock_offset_seconds"], c.lifecycle_clock_offset_seconds);
  str(r["log"]["level"], c.log_level);
  return Status::Ok();
}

}  // namespace

Status LoadTomlString(const std::string& text, Config& config) {
  try {
    toml::table root = toml::parse(text);
    return Apply(root, config);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "line " << e.source().begin.line << ": " << e.description();
    return Error(ErrorCode::kInvalidArgument, msg.str());
  }
}

Status LoadTomlFile(const std::string& path, Config& config) {
  try {
    toml::table root = toml::parse_file(path);
    Status s = Apply(root, config);
    if (!s.ok()) return Error(s.code(), path + ": " + s.message());
    return s;
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path << ":" << e.source().begin.line << ": " << e.description();
    return Error(ErrorCode::kInvalidArgument, msg.str());
  }
}

Result<HostPort> ParseHostPort(const std::string& text) {
  std::string host;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error(ErrorCode::kInvalidArgument, "'" + text + "' is not [IPv6]:PORT");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      return Error(ErrorCode::kInvalidArgument, "'" + text + "' is not HOST:PORT");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  auto port = ParseDecimal(port_text);
  if (host.empty() || !port || *port > 65535) {
    return Error(ErrorCode::kInvalidArgument, "'" + text + "' is not HOST:PORT");
  }
  return HostPort{host, static_cast<uint16_t>(*port)};
}

Status Validate(const Config& c) {
  auto bad = [](const std::string& what) { return Error(ErrorCode::kInvalidArgument, what); };
  if (c.data_dir.empty()) return bad("data_dir must not be empty");
  if (auto hp = ParseHostPort(c.s3.listen); !hp) return bad("s3.listen: " + hp.error().message());
  if (c.s3.region.empty()) return bad("s3.region must not be empty");
  if (!c.web.listen.empty()) {
    auto web = ParseHostPort(c.web.listen);
    if (!web) return bad("web.listen: " + web.error().message());
    bool loopback = web->host == "127.0.0.1" || web->host == "::1" || web->host == "localhost" ||
                    web->host.starts_with("127.");
    if (!loopback && c.auth.mode == "none" && !c.web.insecure_no_auth) {
      return bad("web.listen " + c.web.listen +
                 " is not a loopback address and auth.mode is \"none\": anyone who can reach "
                 "it could read every log. Sign users in (auth.mode = \"proxy\" behind "
                 "mod_auth_openidc or oauth2-proxy), listen on 127.0.0.1, or force it with "
                 "--insecure-no-auth (web.insecure_no_auth = true)");
    }
  }
  if (c.auth.mode != "none" && c.auth.mode != "proxy" && c.auth.mode != "oidc") {
    return bad("auth.mode must be \"none\", \"proxy\" or \"oidc\", not \"" + c.auth.mode + "\"");
  }
  if (c.auth.mode == "oidc") {
    if (c.auth.oidc_issuer.empty() || c.auth.oidc_client_id.empty()) {
      return bad("auth.mode = \"oidc\" needs auth.oidc.issuer and auth.oidc.client_id");
    }
    if (!c.auth.oidc_issuer.starts_with("https://") && !c.auth.oidc_issuer.starts_with("http://")) {
      return bad("auth.oidc.issuer must be an https:// (or, on loopback, http://) URL");
    }
    if (!c.web.public_url.starts_with("https://") && !c.web.public_url.starts_with("http://")) {
      return bad(
          "auth.mode = \"oidc\" needs web.public_url, the address browsers use for the viewer "
          "(the provider sends them back to web.public_url/_auth/callback)");
    }
    if (c.auth.oidc_token_auth_method != "client_secret_basic" &&
        c.auth.oidc_token_auth_method != "client_secret_post") {
      return bad(
          "auth.oidc.token_auth_method must be \"client_secret_basic\" or "
          "\"client_secret_post\"");
    }
    if (std::find(c.auth.oidc_scopes.begin(), c.auth.oidc_scopes.end(), "openid") ==
        c.auth.oidc_scopes.end()) {
      return bad("auth.oidc.scopes must include \"openid\"");
    }
    if (c.auth.oidc_clock_skew_seconds < 0 || c.auth.oidc_clock_skew_seconds > 600) {
      return bad("auth.oidc.clock_skew_seconds must be between 0 and 600");
    }
    if (c.auth.oidc_jwks_refetches_per_minute < 1 || c.auth.oidc_jwks_refetches_per_minute > 60) {
      return bad("auth.oidc.jwks_refetches_per_minute must be between 1 and 60");
    }
  }
  if (c.web.tls_cert_file.empty() != c.web.tls_key_file.empty()) {
    return bad("web.tls_cert_file and web.tls_key_file go together (TLS needs both)");
  }
  if (!c.store.url.empty()) {
    if (!c.store.url.starts_with("s3://") || c.store.url.size() <= 5) {
      return bad("store.url must be s3://BUCKET, not '" + c.store.url + "'");
    }
    if (!c.store.endpoint.starts_with("http://") && !c.store.endpoint.starts_with("https://")) {
      return bad("store.url needs store.endpoint, the S3 endpoint URL (e.g. https://s3.cern.ch)");
    }
    if (c.store.cache_max_bytes < (1 << 20)) return bad("store.cache_max_bytes must be >= 1 MiB");
    if (c.store.metadata_ttl_ms < 0 || c.store.metadata_ttl_ms > 60000) {
      return bad("store.metadata_ttl_ms must be between 0 and 60000");
    }
  }
  if (c.auth.session_seconds < 60 || c.auth.session_seconds > 30 * 86400) {
    return bad("auth.session_seconds must be between 60 and 2592000 (30 days)");
  }
  if (!c.auth.session_secret.empty() && c.auth.session_secret.size() < 32) {
    return bad("auth.session_secret must be at least 32 characters (e.g. openssl rand -hex 32)");
  }
  if (c.auth.proxy_kind != "mod_auth_openidc" && c.auth.proxy_kind != "oauth2-proxy" &&
      c.auth.proxy_kind != "custom") {
    return bad(
        "auth.proxy.kind must be \"mod_auth_openidc\", \"oauth2-proxy\" or \"custom\", not '" +
        c.auth.proxy_kind + "'");
  }
  if (c.auth.proxy_kind == "custom" &&
      (c.auth.proxy_user_header.empty() || c.auth.proxy_roles_header.empty())) {
    return bad(
        "auth.proxy.kind = \"custom\" needs auth.proxy.user_header and auth.proxy.roles_header "
        "(headers your proxy sets and strips from what clients send)");
  }
  if (c.auth.mode == "proxy" && c.auth.trusted_proxies.empty()) {
    return bad(
        "auth.mode = \"proxy\" needs auth.trusted_proxies (the proxy's addresses): "
        "identity headers from anyone else are ignored");
  }
  if (const std::string& u = c.auth.proxy_sign_out_url;
      !u.empty() && !(u.starts_with("/") && !u.starts_with("//") && !u.starts_with("/\\")) &&
      !u.starts_with("https://") && !u.starts_with("http://")) {
    return bad("auth.proxy.sign_out_url must be a path on this site (/…) or an http(s) URL, not '" +
               u + "'");
  }
  for (const std::string& p : c.auth.trusted_proxies) {
    if (auto cidr = ParseCidr(p); !cidr) {
      return bad("auth.trusted_proxies: " + cidr.error().message());
    }
  }
  if (c.auth.roles_claim.empty()) return bad("auth.roles_claim must not be empty");
  if (c.web.gunzip_cache_bytes < (1ULL << 20)) {
    return bad("web.gunzip_cache_bytes must be at least 1 MiB");
  }
  if (c.web.cache_entries < 1 || c.web.cache_entries > 1024) {
    return bad("web.cache_entries must be between 1 and 1024");
  }
  if (c.s3.max_object_bytes < 1 || c.s3.max_object_bytes > (5ULL << 40)) {
    return bad("s3.max_object_bytes must be between 1 and 5 TiB");
  }
  if (c.http.max_connections < 1 || c.http.max_connections > 100000) {
    return bad("http.max_connections must be between 1 and 100000");
  }
  if (c.http.idle_timeout_seconds < 1 || c.http.io_timeout_seconds < 1) {
    return bad("http timeouts must be at least 1 second");
  }
  if (c.http.max_header_bytes < 1024 || c.http.max_header_bytes > (1u << 20)) {
    return bad("http.max_header_bytes must be between 1 KiB and 1 MiB");
  }
  if (c.http.header_timeout_seconds < 0 || c.http.header_timeout_seconds > 3600) {
    return bad("http.header_timeout_seconds must be between 0 (off) and 3600");
  }
  if (c.http.max_connections_per_client < 0) {
    return bad("http.max_connections_per_client must be 0 (no cap) or more");
  }
  // Unsigned settings: a negative value in the file arrives here as a huge one.
  if (c.http.min_body_rate > 100'000'000) {
    return bad("http.min_body_rate must be between 0 (no minimum) and 100000000 bytes/s");
  }
  if (c.s3.min_free_bytes > (1ULL << 50)) {
    return bad("s3.min_free_bytes must be between 0 and 1 PiB");
  }
  if (c.s3.reserve_bytes > (16ULL << 30)) {
    return bad("s3.reserve_bytes must be between 0 and 16 GiB");
  }
  if (c.web.gunzip_cache_bytes > (1ULL << 40)) {
    return bad("web.gunzip_cache_bytes must be at most 1 TiB");
  }
  if (c.lifecycle_day_seconds < 1) return bad("lifecycle.day_seconds must be at least 1");
  static const char* const kLevels[] = {"trace", "debug",    "info", "warn",
                                        "error", "critical", "off"};
  if (std::none_of(std::begin(kLevels), std::end(kLevels),
                   [&](const char* l) { return c.log_level == l; })) {
    return bad("log.level \"" + c.log_level +
               "\": one of trace, debug, info, warn, error, critical, off");
  }
  if (c.builds.crawl_interval_seconds < 0 || c.builds.crawl_interval_seconds > 7 * 86400) {
    return bad("builds.crawl_interval_seconds must be between 0 (at start only) and 604800");
  }
  if (c.builds.requests_per_second < -1) {
    return bad("builds.requests_per_second must be -1 (automatic), 0 (unlimited) or more");
  }
  if (c.builds.window_days < 1 || c.builds.window_days > 366) {
    return bad("builds.window_days must be between 1 and 366");
  }
  if (c.lifecycle_interval_seconds < 0) {
    return bad("lifecycle.interval_seconds must be 0 (automatic) or more");
  }
  for (const std::string& p : c.http.metrics_allow) {
    if (auto cidr = ParseCidr(p); !cidr)
      return bad("http.metrics_allow: " + cidr.error().message());
  }
  for (const std::string& p : c.s3.trusted_proxies) {
    if (auto cidr = ParseCidr(p); !cidr)
      return bad("s3.trusted_proxies: " + cidr.error().message());
  }
  for (const std::string& d : c.s3.domains) {
    if (d.empty() || d.find('/') != std::string::npos)
      return bad("s3.domains: bad domain '" + d + "'");
  }
  return Status::Ok();
}

}  // namespace logbucket::config
