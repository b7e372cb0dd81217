// `serve`'s life after its listeners start: readiness and the watchdog for the service manager
// (platform/service_manager.h), SIGHUP to re-read the configuration, SIGTERM/SIGINT to drain.
#pragma once

#include <signal.h>

#include <functional>
#include <vector>

#include "http/server/server.h"

namespace logbucket::app {

// Blocks until SIGTERM or SIGINT (in `signals`, blocked in every thread), then drains `servers`
// (null entries skipped) within drain_seconds. Before that: READY=1 once every listener answers
// on its own address (GET /_health; a TLS listener: the TCP handshake), WATCHDOG=1 every half
// watchdog period while the first listener still answers (a wedged event loop stops the pings
// and systemd restarts the service), and on SIGHUP (if in `signals`) RELOADING=1, `reload`,
// READY=1. STOPPING=1 before the drain.
void WaitAndDrain(sigset_t& signals, int drain_seconds, const std::vector<http::Server*>& servers,
                  const std::function<void()>& reload = {});

// True when `server` answers on the address it listens on within timeout_ms.
bool ListenerAnswers(const http::Server& server, int timeout_ms);

}  // namespace logbucket::app
