// fullLog.txt as the CI's report script assembles it: the standard header (host, time, commit,
// the list of package logs) and one `## Begin <log> <time>` / `## End <log> <time> (<n>s)` section
// per package log, oldest first; written and analysed in the same pass.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "logs/summary.h"

namespace logbucket::push {

struct PullRequest {
  std::string org, repo, number, sha;
  bool is_pr = true;  // a number; otherwise a branch name
  std::string Url() const {
    return is_pr ? "https://github.com/" + org + "/" + repo + "/pull/" + number
                 : "https://github.com/" + org + "/" + repo + "/commit/" + sha;
  }
};

Result<PullRequest> ParsePr(const std::string& text);

// The check's name as a key segment: [^a-zA-Z0-9_-] → _ (what the CI script does).
std::string SafeCheckName(const std::string& check);

struct LogFile {
  std::string path;
  uint64_t size = 0;
  time_t started = 0;       // birth time when the filesystem knows it, else the change time
  time_t finished = 0;      // last write
  int64_t finished_ns = 0;  // the same, to the nanosecond: packages built in parallel often end
                            // within one second, and their order is the build order
};

Result<std::vector<LogFile>> CollectLogs(const std::vector<std::string>& patterns);

// Writes fullLog.txt and feeds the same bytes to the analyzer: one pass over the logs.
Result<logs::Summary> WriteFullLog(const std::vector<LogFile>& logs, const PullRequest& pr,
                                   const std::string& path);

}  // namespace logbucket::push
