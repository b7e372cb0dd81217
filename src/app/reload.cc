#include "app/reload.h"

#include <fmt/ranges.h>

#include <functional>

#include "common/log.h"
#include "common/net.h"

namespace logbucket::app {
namespace {

std::string Join(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ","));
}

std::vector<Cidr> Cidrs(const std::vector<std::string>& texts) {
  std::vector<Cidr> out;
  for (const std::string& t : texts) {
    if (auto c = ParseCidr(t)) out.push_back(*c);  // validated with the configuration
  }
  return out;
}

using Field = std::function<std::string(const config::Config&)>;

// The settings a reload does not apply, by their name in the configuration file.
const std::vector<std::pair<const char*, Field>>& RestartFields() {
  static const auto* fields = new std::vector<std::pair<const char*, Field>>{
      {"data_dir", [](const config::Config& c) { return c.data_dir; }},
      {"s3.listen", [](const config::Config& c) { return c.s3.listen; }},
      {"s3.region", [](const config::Config& c) { return c.s3.region; }},
      {"s3.domains", [](const config::Config& c) { return Join(c.s3.domains); }},
      {"s3.max_object_bytes",
       [](const config::Config& c) { return std::to_string(c.s3.max_object_bytes); }},
      {"s3.max_xml_bytes",
       [](const config::Config& c) { return std::to_string(c.s3.max_xml_bytes); }},
      {"s3.min_free_bytes",
       [](const config::Config& c) { return std::to_string(c.s3.min_free_bytes); }},
      {"s3.reserve_bytes",
       [](const config::Config& c) { return std::to_string(c.s3.reserve_bytes); }},
      {"http.max_connections",
       [](const config::Config& c) { return std::to_string(c.http.max_connections); }},
      {"http.idle_timeout_seconds",
       [](const config::Config& c) { return std::to_string(c.http.idle_timeout_seconds); }},
      {"http.io_timeout_seconds",
       [](const config::Config& c) { return std::to_string(c.http.io_timeout_seconds); }},
      {"http.header_timeout_seconds",
       [](const config::Config& c) { return std::to_string(c.http.header_timeout_seconds); }},
      {"http.min_body_rate",
       [](const config::Config& c) { return std::to_string(c.http.min_body_rate); }},
      {"http.max_connections_per_client",
       [](const config::Config& c) { return std::to_string(c.http.max_connections_per_client); }},
      {"http.drain_seconds",
       [](const config::Config& c) { return std::to_string(c.http.drain_seconds); }},
      {"http.max_header_bytes",
       [](const config::Config& c) { return std::to_string(c.http.max_header_bytes); }},
      {"http.access_log",
       [](const config::Config& c) { return std::to_string(c.http.access_log); }},
      {"web.listen", [](const config::Config& c) { return c.web.listen; }},
      {"web.insecure_no_auth",
       [](const config::Config& c) { return std::to_string(c.web.insecure_no_auth); }},
      {"web.site_name", [](const config::Config& c) { return c.web.site_name; }},
      {"web.cache_entries",
       [](const config::Config& c) { return std::to_string(c.web.cache_entries); }},
      {"web.gunzip_cache_bytes",
       [](const config::Config& c) { return std::to_string(c.web.gunzip_cache_bytes); }},
      {"web.public_url", [](const config::Config& c) { return c.web.public_url; }},
      {"web.tls (on or off)",
       [](const config::Config& c) { return std::to_string(c.web.tls_cert_file.empty()); }},
      {"auth.mode", [](const config::Config& c) { return c.auth.mode; }},
      {"auth.require_roles", [](const config::Config& c) { return Join(c.auth.require_roles); }},
      {"auth.roles_claim", [](const config::Config& c) { return c.auth.roles_claim; }},
      {"auth.proxy",
       [](const config::Config& c) {
         return Join({c.auth.proxy_kind, c.auth.proxy_user_header, c.auth.proxy_name_header,
                      c.auth.proxy_email_header, c.auth.proxy_roles_header,
                      c.auth.proxy_sign_out_url});
       }},
      {"auth.session_secret",
       [](const config::Config& c) {
         return c.auth.session_secret + "\n" + c.auth.session_secret_file;
       }},
      {"auth.oidc",
       [](const config::Config& c) {
         return Join({c.auth.oidc_issuer, c.auth.oidc_client_id, c.auth.oidc_client_secret,
                      c.auth.oidc_client_secret_file, c.auth.oidc_token_auth_method,
                      Join(c.auth.oidc_scopes), std::to_string(c.auth.oidc_clock_skew_seconds),
                      std::to_string(c.auth.oidc_jwks_refetches_per_minute), c.auth.oidc_ca_file});
       }},
      {"store",
       [](const config::Config& c) {
         return Join(
             {c.store.url, c.store.endpoint, c.store.region, std::to_string(c.store.anonymous),
              c.store.profile, std::to_string(c.store.virtual_host), c.store.ca_bundle,
              std::to_string(c.store.cache_max_bytes), std::to_string(c.store.metadata_ttl_ms)});
       }},
      {"builds",
       [](const config::Config& c) {
         return Join({std::to_string(c.builds.enabled),
                      std::to_string(c.builds.crawl_interval_seconds),
                      std::to_string(c.builds.requests_per_second), Join(c.builds.buckets),
                      std::to_string(c.builds.window_days)});
       }},
      {"lifecycle",
       [](const config::Config& c) {
         return Join({std::to_string(c.lifecycle_day_seconds),
                      std::to_string(c.lifecycle_interval_seconds),
                      std::to_string(c.lifecycle_clock_offset_seconds)});
       }},
  };
  return *fields;
}

}  // namespace

ReloadOutcome ApplyReload(config::Config& running, const config::Config& next,
                          const LiveParts& parts) {
  ReloadOutcome out;
  for (const auto& [name, value] : RestartFields()) {
    if (value(running) != value(next)) out.needs_restart.emplace_back(name);
  }
  http::Server* web_server = parts.web != nullptr ? parts.web->server.get() : nullptr;
  // TLS: re-read whenever TLS stays on (the usual change is a renewed file at the same path).
  if (web_server != nullptr && web_server->tls() && !next.web.tls_cert_file.empty()) {
    Status s = web_server->ReloadTls(next.web.tls_cert_file, next.web.tls_key_file);
    if (s.ok()) {
      out.applied.emplace_back("web.tls_cert_file/web.tls_key_file (re-read)");
      running.web.tls_cert_file = next.web.tls_cert_file;
      running.web.tls_key_file = next.web.tls_key_file;
    } else {
      out.failed.push_back("web.tls_cert_file: " + s.message() +
                           " (the running certificate stays)");
    }
  }
  if (running.http.metrics_allow != next.http.metrics_allow && parts.metrics_page != nullptr) {
    parts.metrics_page->SetAllow(next.http.metrics_allow);
    running.http.metrics_allow = next.http.metrics_allow;
    out.applied.emplace_back("http.metrics_allow");
  }
  if (running.log_level != next.log_level) {
    Log().set_level(spdlog::level::from_str(next.log_level));
    running.log_level = next.log_level;
    out.applied.emplace_back("log.level");
  }
  if (running.s3.trusted_proxies != next.s3.trusted_proxies) {
    if (parts.service != nullptr) parts.service->SetTrustedProxies(Cidrs(next.s3.trusted_proxies));
    if (parts.s3_server != nullptr) {
      parts.s3_server->SetUncappedPeers(Cidrs(next.s3.trusted_proxies));
    }
    running.s3.trusted_proxies = next.s3.trusted_proxies;
    out.applied.emplace_back("s3.trusted_proxies");
  }
  if (running.auth.trusted_proxies != next.auth.trusted_proxies) {
    if (parts.web != nullptr && parts.web->gate) {
      parts.web->gate->SetTrustedProxies(Cidrs(next.auth.trusted_proxies));
    }
    if (web_server != nullptr) web_server->SetUncappedPeers(Cidrs(next.auth.trusted_proxies));
    running.auth.trusted_proxies = next.auth.trusted_proxies;
    out.applied.emplace_back("auth.trusted_proxies");
  }
  if (running.auth.session_seconds != next.auth.session_seconds) {
    if (parts.web != nullptr && parts.web->relying_party) {
      parts.web->relying_party->SetSessionSeconds(next.auth.session_seconds);
    }
    running.auth.session_seconds = next.auth.session_seconds;
    out.applied.emplace_back("auth.session_seconds");
  }
  return out;
}

std::string DescribeReload(const ReloadOutcome& outcome) {
  std::string out;
  auto add = [&](const char* label, const std::vector<std::string>& items) {
    if (items.empty()) return;
    if (!out.empty()) out += "; ";
    out += label;
    for (size_t i = 0; i < items.size(); ++i) out += (i == 0 ? " " : ", ") + items[i];
  };
  add("applied", outcome.applied);
  add("needs a restart (running value kept):", outcome.needs_restart);
  add("failed:", outcome.failed);
  return out.empty() ? "nothing changed" : out;
}

}  // namespace logbucket::app
