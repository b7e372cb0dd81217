// The views across builds (issue 18), over the build index: a repository's PR board, recurring
// failures of a bucket or a repository, and for one log "this error also failed N other PRs".
// Each is a page and JSON (`&format=json`, `?recurring`), documented in docs/VIEWER.md, so a
// CI bot can say "known infrastructure failure" on a PR.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "builds/index.h"
#include "http/handler.h"
#include "logs/diff.h"
#include "web/log_cache.h"
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
// /<bucket>/<log>?recurring: the log's decisive error on other PRs within the window, and the
// green builds of its check it can be compared with (JSON).
http::Response RecurringView(const ViewerRoute& route, const AcrossBuilds& across);

// The last few diffs, by the two logs' ETags: a reader pages through one diff many times.
class DiffCache {
 public:
  std::shared_ptr<const logs::LineDiff> Find(const std::string& id);
  void Insert(const std::string& id, std::shared_ptr<const logs::LineDiff> diff);
  // At most kMaxRunning diffs are made at once (each holds up to 128 MiB of hashes and a core
  // for seconds on 500 MB logs); past that, a request is answered 503 at once.
  static constexpr int kMaxRunning = 2;
  bool TryStart();
  void Done();

 private:
  int running_ = 0;
  std::mutex mu_;
  std::deque<std::pair<std::string, std::shared_ptr<const logs::LineDiff>>> entries_;
};

// /<bucket>/<log>?diff[=<green log's key>]: the lines of this log that the green one does not
// have, with context (JSON). Without a key, the last green build of the log's check (the build
// index must be on). `open` opens a log of the bucket through the viewer's cache.
using OpenLog = std::function<Result<OpenedLog>(const std::string& key)>;
http::Response DiffView(const ViewerRoute& route, const AcrossBuilds* across, DiffCache& cache,
                        const OpenLog& open);

}  // namespace logbucket::web
