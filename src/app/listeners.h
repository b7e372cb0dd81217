// What `serve` sets up for every listener: their options from [http], the metrics page (and
// the data directory's and remote store's figures in it), the URL a listener answers at, and
// the wait for SIGTERM that drains them.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "common/live.h"
#include "common/net.h"
#include "config/config.h"
#include "http/metrics.h"
#include "http/server/server.h"
#include "store/remote/remote_store.h"

namespace logbucket::app {

std::string EndpointUrl(const std::string& listen, uint16_t port, bool tls = false);

// GET /_metrics on either listener: the process's Prometheus exposition, for the addresses in
// http.metrics_allow. The scraper's own connection decides: X-Forwarded-For is not believed
// here, so a proxy in front of the viewer cannot make the metrics public.
class MetricsPage {
 public:
  explicit MetricsPage(const config::Config& cfg) { SetAllow(cfg.http.metrics_allow); }
  http::Metrics& metrics() { return metrics_; }

  // http.metrics_allow (at start, and on a configuration reload).
  void SetAllow(const std::vector<std::string>& cidrs) {
    std::vector<Cidr> allow;
    for (const std::string& text : cidrs) {
      if (auto cidr = ParseCidr(text)) allow.push_back(*cidr);  // validated with the config
    }
    allow_.Set(std::move(allow));
  }

  http::Response Serve(const http::Request& request) const {
    http::Response r;
    r.operation = "Metrics";
    r.SetHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    r.SetHeader("Cache-Control", "no-store");
    auto peer = ParseIp(request.peer_address);
    auto allow = allow_.Get();
    bool allowed = peer && std::any_of(allow->begin(), allow->end(),
                                       [&](const Cidr& c) { return CidrContains(c, *peer); });
    // A TLS proxy on the same host connects from loopback: what it forwards comes from anyone.
    bool proxied = FindHeader(request.headers, "x-forwarded-for") ||
                   FindHeader(request.headers, "forwarded") ||
                   FindHeader(request.headers, "x-real-ip");
    if (!allowed || proxied) {
      r.status = 403;
      r.body = proxied ? "metrics are not served through a proxy: scrape this listener directly\n"
                       : "metrics are served to the addresses in http.metrics_allow only\n";
    } else {
      r.body = metrics_.Render();
    }
    r.omit_body = request.method == "HEAD";
    return r;
  }

 private:
  http::Metrics metrics_;
  Live<std::vector<Cidr>> allow_;
};

// The data directory's file system in the metrics: a full disk refuses every upload (and the
// embedded store's metadata cannot grow), so it is the first thing to alert on.
void AppendDataDirMetrics(const std::string& data_dir, std::string& out);

// Listener settings every listener shares ([http]).
http::ServerOptions ListenerOptions(const config::Config& cfg, http::Metrics& metrics);

// The remote store's cache in the metrics exposition.
void AppendRemoteStoreMetrics(const store::RemoteStoreCounters& c, std::string& out);

}  // namespace logbucket::app
