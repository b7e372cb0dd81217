// The viewer's side of `serve`: the viewer behind the sign-in gate (OpenID Connect or a
// sign-in proxy), on its own listener, with its metrics.
#pragma once

#include <memory>
#include <string>

#include "app/listeners.h"
#include "auth/gate.h"
#include "auth/oidc.h"
#include "builds/index.h"
#include "builds/indexer.h"
#include "config/config.h"
#include "http/server/server.h"
#include "store/store.h"
#include "web/viewer.h"

namespace logbucket::app {

// The session secret: auth.session_secret, else auth.session_secret_file, else the data dir's
// web-session.key (created on first start). Frontends of one site share it to share sessions.
Result<std::string> SessionSecret(const config::Config& cfg);

Result<std::string> OidcClientSecret(const config::Config& cfg);

http::Response RenderAuthReply(const auth::AuthReply& reply, http::Request& request,
                               web::Viewer& viewer);

// The sign-in gate from [auth]; the configuration was validated before.
auth::GateOptions GateOptionsFrom(const config::Config& cfg);

// The log viewer: its own listener, every request through the sign-in gate (DESIGN §5).
struct WebFrontend {
  // The build index and its indexer ([builds]; null when off or the viewer is): declared before
  // the viewer, which reads the index, so that they outlive it.
  std::unique_ptr<builds::BuildIndex> builds;
  std::unique_ptr<builds::Indexer> indexer;
  std::unique_ptr<web::Viewer> viewer;
  std::unique_ptr<auth::OidcRelyingParty> relying_party;
  std::unique_ptr<auth::Gate> gate;
  std::unique_ptr<http::Server> server;  // null with --no-web
  std::string url;
};

// The viewer behind the sign-in gate. Assets and the health check are public: the refusal pages
// use the stylesheet too.
http::Response GatedViewer(WebFrontend& w, http::Request& r, const Result<web::ViewerRoute>& route);

// The viewer's log cache in /_metrics: what its decompressed .gz copies hold on disk (unlinked
// files, which `du` does not show).
void AddViewerMetrics(http::Metrics& metrics, const WebFrontend& web);

// Sets up and binds the viewer over `store`; 0, or the exit code after printing why not.
int ListenWeb(const config::Config& cfg, store::Store& store,
              const http::ServerOptions& server_options, const MetricsPage& metrics_page,
              WebFrontend& w);

}  // namespace logbucket::app
