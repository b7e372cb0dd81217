// The build index: one row per build log in a bucket (the CI layout's fullLog.txt), with what
// the error summary said about it, so that questions across builds ("is this failure mine or
// the CI's?") are answered without reading logs: the PR board, recurring failures grouped by
// error signature, "this error also failed N other PRs", the last green build of a check.
//
// Derived data: a SQLite file that can be deleted at any time (the indexer rebuilds it from the
// bucket). Memory is SQLite's page cache (bounded) plus one query's rows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace logbucket::builds {

struct BuildRow {
  std::string bucket;
  std::string key;
  std::string repo;    // org/repo
  std::string pr;      // a pull request's number, or "" for a branch build
  std::string branch;  // a branch build's branch
  std::string commit;  // the sha: from the key, or from the log's header for "latest"
  std::string check;
  std::string host;      // the build host, from the log's header ("" when unknown)
  std::string finished;  // as the header writes it ("" when unknown)
  int64_t uploaded_ms = 0;
  uint64_t size = 0;
  std::string etag;     // the log's, when indexed
  std::string verdict;  // "failed", "no-errors-found", "broken-builder"
  std::string error_kind;
  std::string error_text;
  uint64_t error_line = 0;
  std::string signature;  // logs::ErrorSignature of the decisive error; "" when none
  std::string source;     // "summary.json" (beside the log, written by push) or "log"
  std::string summary_etag;
};

// The board: PRs and branch builds by their last build, newest first.
struct BoardOptions {
  std::string repo;
  bool failing_only = false;
  std::string check;      // only builds of this check
  std::string host;       // only builds on this host
  int64_t before_ms = 0;  // paging: entries whose last build is older than this (0: newest)
  size_t limit = 50;
};

struct BoardEntry {
  std::string pr;  // or
  std::string branch;
  std::string commit;  // the latest commit built
  int64_t last_ms = 0;
  std::vector<BuildRow> checks;  // that commit's checks (newest build of each), by name
  bool failing = false;          // any of them failed
};

// Recurring failures: failed builds grouped by signature over a window.
struct GroupOptions {
  std::string repo;  // "" for the whole bucket
  int64_t since_ms = 0;
  std::string signature;  // only this group
  // Leave out one PR's (or branch's) builds: "this error also failed N *other* PRs".
  std::string exclude_repo;
  std::string exclude_pr;
  std::string exclude_branch;
  size_t limit = 100;
  size_t examples = 5;
  // An error on at least this many distinct PRs within `burst_ms` looks like the CI's.
  size_t burst_prs = 5;
  int64_t burst_ms = 24LL * 3600 * 1000;
};

struct HostCount {
  std::string host;
  uint64_t builds = 0;
};

struct FailureGroup {
  std::string signature;
  std::string kind;
  std::string text;  // the most recent build's error text
  uint64_t builds = 0;
  uint64_t prs = 0;  // distinct PRs (branch builds count by branch)
  std::vector<std::string> checks;
  std::vector<std::string> repos;
  std::vector<HostCount> hosts;  // most builds first
  int64_t first_ms = 0;
  int64_t last_ms = 0;
  // Likely the CI's, not the change's: why, in words ("" when not flagged).
  bool infrastructure = false;
  std::string reason;
  std::vector<BuildRow> examples;  // newest first
};

class BuildIndex {
 public:
  // Opens (creating) the index file. A file of another schema version is rebuilt: it is a cache.
  static Result<std::unique_ptr<BuildIndex>> Open(const std::string& path);
  ~BuildIndex();
  BuildIndex(const BuildIndex&) = delete;
  BuildIndex& operator=(const BuildIndex&) = delete;

  Status Put(const BuildRow& row);
  Status Remove(const std::string& bucket, const std::string& key);
  Result<std::optional<BuildRow>> Get(const std::string& bucket, const std::string& key);
  // Every indexed key of a bucket with its etag and its summary's etag (the crawler's memory).
  struct Known {
    std::string key;
    std::string etag;
    std::string summary_etag;
  };
  Result<std::vector<Known>> Keys(const std::string& bucket);
  Result<uint64_t> Count(const std::string& bucket);

  Result<std::vector<BoardEntry>> Board(const std::string& bucket, const BoardOptions& options);
  Result<std::vector<FailureGroup>> Groups(const std::string& bucket, const GroupOptions& options);
  // The newest green build (no errors found) of `check` in `repo` uploaded before `before_ms`:
  // a branch build first, else any PR's.
  Result<std::optional<BuildRow>> LastGreen(const std::string& bucket, const std::string& repo,
                                            const std::string& check, int64_t before_ms);
  // The newest green builds of `check` in `repo`: branch builds first, then PRs', each newest
  // first (the choices a reader may compare with instead).
  Result<std::vector<BuildRow>> GreenBuilds(const std::string& bucket, const std::string& repo,
                                            const std::string& check, int64_t before_ms,
                                            size_t limit);

 private:
  struct Impl;
  explicit BuildIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace logbucket::builds
