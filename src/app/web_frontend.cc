#include "app/web_frontend.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "app/connection.h"
#include "auth/gate.h"
#include "auth/oidc.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/net.h"
#include "config/config.h"
#include "http/metrics.h"
#include "http/server/server.h"
#include "platform/file_util.h"
#include "s3/janitor.h"
#include "s3/service.h"
#include "s3client/client.h"
#include "store/local/local_store.h"
#include "store/remote/remote_store.h"
#include "web/responses.h"
#include "web/viewer.h"

namespace logbucket::app {

Result<std::string> SessionSecret(const config::Config& cfg) {
  if (!cfg.auth.session_secret.empty()) return cfg.auth.session_secret;
  std::string path = cfg.auth.session_secret_file;
  bool generated_path = path.empty();
  if (generated_path) path = cfg.data_dir + "/web-session.key";
  auto existing = platform::ReadFile(path, 4096);
  if (existing) {
    std::string secret(TrimWhitespace(*existing));
    if (secret.size() < 32) {
      return Error(ErrorCode::kInvalidArgument,
                   path + ": a session secret needs at least 32 characters");
    }
    return secret;
  }
  if (!generated_path) {
    return Error(ErrorCode::kInvalidArgument,
                 "auth.session_secret_file " + path + ": " + existing.error().message());
  }
  std::string secret = HexEncode(RandomBytes(32));
  LB_RETURN_IF_ERROR(platform::WriteFileAtomic(path, secret + "\n", 0600));
  Log().info("created the web session secret {} (share it between frontends of one site)", path);
  return secret;
}

Result<std::string> OidcClientSecret(const config::Config& cfg) {
  if (!cfg.auth.oidc_client_secret.empty()) return cfg.auth.oidc_client_secret;
  if (!cfg.auth.oidc_client_secret_file.empty()) {
    auto text = platform::ReadFile(cfg.auth.oidc_client_secret_file, 4096);
    if (!text) {
      return Error(ErrorCode::kInvalidArgument, "auth.oidc.client_secret_file " +
                                                    cfg.auth.oidc_client_secret_file + ": " +
                                                    text.error().message());
    }
    return std::string(TrimWhitespace(*text));
  }
  if (const char* env = std::getenv("LOGBUCKET_OIDC_CLIENT_SECRET")) return std::string(env);
  return std::string();  // a public client: PKCE alone
}

http::Response RenderAuthReply(const auth::AuthReply& reply, http::Request& request,
                               web::Viewer& viewer) {
  http::Response response;
  if (reply.status == 302) {
    response.status = 302;
    response.SetHeader("Location", reply.location);
    response.SetHeader("Cache-Control", "no-store");
  } else {
    response = viewer.Refuse(request, reply.status, reply.message, request.signed_in_as,
                             reply.link_href, reply.link_label, reply.keep_hash);
  }
  for (const auto& cookie : reply.set_cookies) response.SetHeader("Set-Cookie", cookie);
  return response;
}

auth::GateOptions GateOptionsFrom(const config::Config& cfg) {
  auth::GateOptions o;
  o.mode = cfg.auth.mode == "proxy"  ? auth::Mode::kProxy
           : cfg.auth.mode == "oidc" ? auth::Mode::kOidc
                                     : auth::Mode::kNone;
  o.require_roles = cfg.auth.require_roles;
  for (const auto& p : cfg.auth.trusted_proxies) o.trusted_proxies.push_back(*ParseCidr(p));
  o.proxy_kind = cfg.auth.proxy_kind == "oauth2-proxy" ? auth::ProxyKind::kOauth2Proxy
                 : cfg.auth.proxy_kind == "custom"     ? auth::ProxyKind::kCustom
                                                       : auth::ProxyKind::kModAuthOpenidc;
  if (o.proxy_kind == auth::ProxyKind::kCustom) {
    o.headers = {AsciiLower(cfg.auth.proxy_user_header), AsciiLower(cfg.auth.proxy_name_header),
                 AsciiLower(cfg.auth.proxy_email_header), AsciiLower(cfg.auth.proxy_roles_header)};
  } else {
    o.headers = auth::HeadersOf(o.proxy_kind, cfg.auth.roles_claim);
  }
  return o;
}

http::Response GatedViewer(WebFrontend& w, http::Request& r,
                           const Result<web::ViewerRoute>& route) {
  if (route && route->Public()) return w.viewer->Handle(r, route);
  auth::Verdict verdict = w.gate->Check(r);
  if (!verdict.allowed) {
    // Pages without a session go to the provider and come back; scripts get 401.
    if (verdict.sign_in && w.relying_party && (r.method == "GET" || r.method == "HEAD") &&
        !web::IsApiRequest(r)) {
      return RenderAuthReply(w.relying_party->SignInRedirect(r), r, *w.viewer);
    }
    return w.viewer->Refuse(r, verdict.status, verdict.message, verdict.identity.DisplayName());
  }
  r.signed_in_as = verdict.identity.DisplayName();
  return w.viewer->Handle(r, route);
}

void AddViewerMetrics(http::Metrics& metrics, const WebFrontend& web) {
  if (web.indexer) {
    const builds::Indexer* indexer = web.indexer.get();
    metrics.AddSource([indexer](std::string& out) {
      builds::IndexerStats s = indexer->stats();
      auto counter = [&](const char* name, const char* help, uint64_t value, const char* type) {
        http::AppendFamilyHeader(out, name, type, help);
        http::AppendSample(out, name, "", static_cast<double>(value));
      };
      counter("logbucket_build_index_indexed_total", "Build logs (re)indexed.", s.indexed,
              "counter");
      counter("logbucket_build_index_from_json_total",
              "Of those, read from the summary.json beside the log.", s.from_summary_json,
              "counter");
      counter("logbucket_build_index_removed_total", "Index rows removed (their log is gone).",
              s.removed, "counter");
      counter("logbucket_build_index_requests_total", "Store requests the indexer made.",
              s.requests, "counter");
      counter("logbucket_build_index_errors_total", "Logs the indexer could not read.", s.errors,
              "counter");
      counter("logbucket_build_index_crawls_total", "Full passes over the bucket(s).", s.crawls,
              "counter");
      counter("logbucket_build_index_queued", "Changed keys waiting to be indexed.", s.queued,
              "gauge");
    });
  }
  if (!web.viewer) return;
  const web::Viewer* viewer = web.viewer.get();
  metrics.AddSource([viewer](std::string& out) {
    web::LogCache::Stats s = viewer->cache_stats();
    http::AppendFamilyHeader(out, "logbucket_viewer_cached_logs", "gauge",
                             "Logs the viewer keeps indexed (web.cache_entries at most).");
    http::AppendSample(out, "logbucket_viewer_cached_logs", "", static_cast<double>(s.entries));
    http::AppendFamilyHeader(out, "logbucket_viewer_gunzip_bytes", "gauge",
                             "Disk held by decompressed copies of .gz logs (unlinked files; at "
                             "most web.gunzip_cache_bytes).");
    http::AppendSample(out, "logbucket_viewer_gunzip_bytes", "",
                       static_cast<double>(s.decompressed_bytes));
    http::AppendFamilyHeader(out, "logbucket_viewer_gunzip_evictions_total", "counter",
                             "Decompressed copies dropped to make room for another.");
    http::AppendSample(out, "logbucket_viewer_gunzip_evictions_total", "",
                       static_cast<double>(s.decompressed_evictions));
    http::AppendFamilyHeader(out, "logbucket_viewer_gunzip_refused_total", "counter",
                             "Views of .gz logs refused (503) because their copy did not fit.");
    http::AppendSample(out, "logbucket_viewer_gunzip_refused_total", "",
                       static_cast<double>(s.decompressed_refused));
  });
}

int ListenWeb(const config::Config& cfg, store::Store& store,
              const http::ServerOptions& server_options, const MetricsPage& metrics_page,
              WebFrontend& w) {
  auth::GateOptions gate_options = GateOptionsFrom(cfg);
  if (cfg.auth.mode == "oidc" && !cfg.web.listen.empty()) {
    auto secret = SessionSecret(cfg);
    auto client_secret = OidcClientSecret(cfg);
    for (const Status& s : {secret ? Status::Ok() : secret.error(),
                            client_secret ? Status::Ok() : client_secret.error()}) {
      if (!s.ok()) {
        std::fprintf(stderr, "logbucket serve: %s\n", s.message().c_str());
        return 2;
      }
    }
    gate_options.sessions = std::make_shared<const auth::SessionCodec>(*secret);
    auth::OidcOptions o;
    o.issuer = cfg.auth.oidc_issuer;
    o.client_id = cfg.auth.oidc_client_id;
    o.client_secret = *client_secret;
    o.token_auth_method = cfg.auth.oidc_token_auth_method;
    o.public_url = cfg.web.public_url;
    o.scopes = cfg.auth.oidc_scopes;
    o.roles_claim = cfg.auth.roles_claim;
    o.session_seconds = cfg.auth.session_seconds;
    o.clock_skew_seconds = cfg.auth.oidc_clock_skew_seconds;
    o.jwks_refetches_per_minute = static_cast<int>(cfg.auth.oidc_jwks_refetches_per_minute);
    o.tls = !cfg.web.tls_cert_file.empty();
    if (!cfg.auth.oidc_ca_file.empty()) {
      auto ca = ResolveCaBundle(cfg.auth.oidc_ca_file, "auth.oidc.ca_file");
      if (!ca) {
        std::fprintf(stderr, "logbucket serve: %s\n", ca.error().message().c_str());
        return 2;
      }
      o.ca_file = *ca;
    }
    w.relying_party = std::make_unique<auth::OidcRelyingParty>(o, gate_options.sessions);
  }
  w.gate = std::make_unique<auth::Gate>(gate_options);
  if (!cfg.web.listen.empty()) {
    web::ViewerOptions viewer_options;
    viewer_options.site_name = cfg.web.site_name;
    viewer_options.no_sign_in = cfg.auth.mode == "none";
    if (w.relying_party) viewer_options.sign_out_href = "/_auth/logout";
    if (cfg.auth.mode == "proxy") viewer_options.sign_out_href = cfg.auth.proxy_sign_out_url;
    viewer_options.cache.cache_dir = cfg.data_dir + "/tmp";
    viewer_options.cache.max_entries = static_cast<size_t>(cfg.web.cache_entries);
    viewer_options.cache.max_decompressed_total_bytes = cfg.web.gunzip_cache_bytes;
    if (cfg.builds.enabled) {
      // A cache beside the data: if it cannot be opened, the viewer works without its views.
      std::string path = cfg.data_dir + "/builds.sqlite";
      auto index = builds::BuildIndex::Open(path);
      if (!index) {
        Log().warn("build index {}: {} (the board and recurring failures are off)", path,
                   index.error().ToString());
      } else {
        w.builds = std::move(*index);
        builds::IndexerOptions io;
        io.buckets = cfg.builds.buckets;
        io.crawl_interval_seconds = static_cast<int>(cfg.builds.crawl_interval_seconds);
        io.requests_per_second = cfg.builds.requests_per_second >= 0
                                     ? static_cast<double>(cfg.builds.requests_per_second)
                                 : cfg.store.url.empty() ? 0.0
                                                         : 50.0;
        w.indexer = std::make_unique<builds::Indexer>(store, *w.builds, io);
        w.indexer->Start();
        viewer_options.builds = w.builds.get();
        viewer_options.builds_window_days = cfg.builds.window_days;
      }
    }
    w.viewer = std::make_unique<web::Viewer>(store, viewer_options);
    auto web_hp = config::ParseHostPort(cfg.web.listen);
    http::ServerOptions web_options = server_options;
    web_options.host = web_hp->host == "localhost" ? "127.0.0.1" : web_hp->host;
    web_options.port = web_hp->port;
    web_options.max_body_bytes = 1 << 20;
    web_options.name = "web";
    web_options.tls_cert_file = cfg.web.tls_cert_file;
    web_options.tls_key_file = cfg.web.tls_key_file;
    // The sign-in proxy carries every reader's requests: its connections are not capped.
    for (const auto& p : cfg.auth.trusted_proxies)
      web_options.uncapped_peers.push_back(*ParseCidr(p));
    // Pages may wait: on the remote store (a first view downloads the log), on a scan of a large
    // log (index, error summary, search), on the OIDC provider. Each runs on a worker thread so
    // an event loop, and every viewer connection on it, never waits behind one. Only what is
    // answered from memory stays inline.
    web_options.get_on_worker = [](std::string_view target) {
      auto route = web::RouteViewerTarget("GET", target);
      return route && route->MayWait();
    };
    w.server = std::make_unique<http::Server>(web_options, [&w, &metrics_page](http::Request& r) {
      auto route = web::RouteViewerRequest(r.method, r.raw_path, r.raw_query);
      if (route && route->operation == web::ViewerOperation::kMetrics) return metrics_page.Serve(r);
      if (route && route->operation == web::ViewerOperation::kSignIn && w.relying_party) {
        http::Response reply = RenderAuthReply(w.relying_party->Handle(r), r, *w.viewer);
        reply.operation = "sign_in";
        return reply;
      }
      http::Response reply = GatedViewer(w, r, route);
      reply.operation = route ? route->OperationName() : "invalid";
      return reply;
    });
    if (Status s = w.server->Listen(); !s.ok()) {
      std::fprintf(stderr, "logbucket serve: --web-listen %s: %s\n", cfg.web.listen.c_str(),
                   s.message().c_str());
      return 1;
    }
    w.url = EndpointUrl(cfg.web.listen, w.server->port(), w.server->tls());
    if (cfg.web.insecure_no_auth && cfg.auth.mode == "none") {
      Log().warn("the log viewer at {} has no sign-in (--insecure-no-auth)", w.url);
    }
  }

  return 0;
}

}  // namespace logbucket::app
