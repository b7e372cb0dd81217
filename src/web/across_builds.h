// The views across builds (issue 18), over the build index: a repository's PR board, recurring
// failures of a bucket or a repository, and for one log "this error also failed N other PRs".
// Each is a page and JSON (`&format=json`, `?recurring`), documented in docs/VIEWER.md, so a
// CI bot can say "known infrastructure failure" on a PR.
#pragma once

#include <cstdint>

#include "builds/index.h"
#include "http/handler.h"
#include "web/pages.h"
#include "web/route.h"

namespace logbucket::web {

struct AcrossBuilds {
  builds::BuildIndex& index;
  int64_t window_days = 7;  // recurring failures, unless the request says `days=`
  int64_t now_ms = 0;
};

// /<bucket>/<org>/<repo>/?board[&failing=1][&check=][&host=][&before=<ms>][&format=json]
http::Response BoardView(const http::Request& request, const ViewerRoute& route,
                         const Chrome& chrome, const AcrossBuilds& across);
// /<bucket>/[<org>/<repo>/]?failures[&days=N][&signature=S][&format=json]
http::Response FailuresView(const http::Request& request, const ViewerRoute& route,
                            const Chrome& chrome, const AcrossBuilds& across);
// /<bucket>/<log>?recurring: the log's decisive error on other PRs within the window (JSON).
http::Response RecurringView(const ViewerRoute& route, const AcrossBuilds& across);

}  // namespace logbucket::web
