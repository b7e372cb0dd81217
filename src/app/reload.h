// What a running `serve` takes again from its configuration on SIGHUP (`systemctl reload`):
// the viewer's TLS certificate and key (re-read even when their paths are the same: a renewal
// replaces the files), http.metrics_allow, log.level, s3.trusted_proxies,
// auth.trusted_proxies and auth.session_seconds. Every other difference is named in the log as
// needing a restart and keeps its running value. docs/OPERATIONS.md "Reload".
#pragma once

#include <string>
#include <vector>

#include "app/listeners.h"
#include "app/web_frontend.h"
#include "config/config.h"
#include "http/server/server.h"
#include "s3/service.h"

namespace logbucket::app {

struct LiveParts {
  MetricsPage* metrics_page = nullptr;
  s3::Service* service = nullptr;     // null behind --store
  http::Server* s3_server = nullptr;  // null behind --store
  WebFrontend* web = nullptr;         // its server is null with --no-web
};

struct ReloadOutcome {
  std::vector<std::string> applied;        // settings now in effect
  std::vector<std::string> needs_restart;  // changed in the file, running value kept
  std::vector<std::string> failed;         // e.g. a certificate that does not load: "what: why"
};

// Applies the reloadable settings of `next` to the running parts and records them in `running`.
ReloadOutcome ApplyReload(config::Config& running, const config::Config& next,
                          const LiveParts& parts);

// One log line's worth: "applied …; needs a restart …" (or "nothing changed").
std::string DescribeReload(const ReloadOutcome& outcome);

}  // namespace logbucket::app
