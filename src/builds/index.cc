#include "builds/index.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "store/local/sqlite.h"

namespace logbucket::builds {
namespace {

constexpr int kSchemaVersion = 2;  // 2: builds_by_pr
constexpr size_t kMaxGroupedBuilds = 50000;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS builds (
  bucket TEXT NOT NULL, key TEXT NOT NULL,
  repo TEXT NOT NULL, pr TEXT NOT NULL, branch TEXT NOT NULL, commit_id TEXT NOT NULL,
  check_name TEXT NOT NULL, host TEXT NOT NULL, finished TEXT NOT NULL,
  uploaded_ms INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  verdict TEXT NOT NULL, error_kind TEXT NOT NULL, error_text TEXT NOT NULL,
  error_line INTEGER NOT NULL, signature TEXT NOT NULL, source TEXT NOT NULL,
  summary_etag TEXT NOT NULL,
  PRIMARY KEY (bucket, key));
CREATE INDEX IF NOT EXISTS builds_by_repo ON builds(bucket, repo, uploaded_ms);
CREATE INDEX IF NOT EXISTS builds_by_signature ON builds(bucket, signature, uploaded_ms);
CREATE INDEX IF NOT EXISTS builds_by_time ON builds(bucket, uploaded_ms);
CREATE INDEX IF NOT EXISTS builds_by_pr ON builds(bucket, repo, pr, branch, uploaded_ms);
)";

constexpr const char* kColumns =
    "bucket, key, repo, pr, branch, commit_id, check_name, host, finished, uploaded_ms, size, "
    "etag, verdict, error_kind, error_text, error_line, signature, source, summary_etag";

BuildRow ReadRow(const store::Stmt& s) {
  BuildRow r;
  r.bucket = s.ColText(0);
  r.key = s.ColText(1);
  r.repo = s.ColText(2);
  r.pr = s.ColText(3);
  r.branch = s.ColText(4);
  r.commit = s.ColText(5);
  r.check = s.ColText(6);
  r.host = s.ColText(7);
  r.finished = s.ColText(8);
  r.uploaded_ms = s.ColInt(9);
  r.size = static_cast<uint64_t>(s.ColInt(10));
  r.etag = s.ColText(11);
  r.verdict = s.ColText(12);
  r.error_kind = s.ColText(13);
  r.error_text = s.ColText(14);
  r.error_line = static_cast<uint64_t>(s.ColInt(15));
  r.signature = s.ColText(16);
  r.source = s.ColText(17);
  r.summary_etag = s.ColText(18);
  return r;
}

std::string Select(const std::string& where) {
  return std::string("SELECT ") + kColumns + " FROM builds WHERE " + where;
}

// A build as the board and the groups count it: the same check of the same commit of the same
// PR once, whether it was uploaded under its sha and under "latest" or not.
std::string BuildIdentity(const BuildRow& r) {
  return r.repo + '\n' + r.pr + '\n' + r.branch + '\n' + r.commit + '\n' + r.check;
}

std::string PrIdentity(const BuildRow& r) {
  return r.repo + '\n' + (r.pr.empty() ? "branch:" + r.branch : r.pr);
}

}  // namespace

struct BuildIndex::Impl {
  std::mutex mu;
  std::unique_ptr<store::Db> db;
  // Statements built at run time (filters vary) are prepared per call, not cached: binds
  // `texts` to ?1…?N and `ints` at their positions, and calls on_row for each row. The
  // statement is finalised after the Stmt (which resets it) is gone, on every path.
  template <typename OnRow>
  Status ForEachRow(const std::string& sql, const std::vector<std::string>& texts,
                    const std::vector<std::pair<int, int64_t>>& ints, OnRow&& on_row) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db->raw(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      sqlite3_finalize(raw);
      return store::SqlError(db->raw(), "prepare");
    }
    Status status = Status::Ok();
    {
      store::Stmt stmt(db->raw(), raw);
      for (size_t i = 0; i < texts.size(); ++i) stmt.Text(static_cast<int>(i) + 1, texts[i]);
      for (const auto& [at, value] : ints) stmt.Int(at, value);
      while (true) {
        auto more = stmt.Step();
        if (!more) {
          status = more.error();
          break;
        }
        if (!*more) break;
        on_row(stmt);
      }
    }
    sqlite3_finalize(raw);
    return status;
  }

  Result<std::vector<BuildRow>> Query(const std::string& sql, const std::vector<std::string>& texts,
                                      const std::vector<std::pair<int, int64_t>>& ints) {
    std::vector<BuildRow> rows;
    LB_RETURN_IF_ERROR(
        ForEachRow(sql, texts, ints, [&](const store::Stmt& s) { rows.push_back(ReadRow(s)); }));
    return rows;
  }
};

BuildIndex::BuildIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BuildIndex::~BuildIndex() = default;

Result<std::unique_ptr<BuildIndex>> BuildIndex::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  LB_ASSIGN_OR_RETURN(impl->db, store::Db::Open(path));
  // A cache: losing the last commits to a power cut costs a re-read, never data.
  LB_RETURN_IF_ERROR(impl->db->Exec("PRAGMA synchronous=NORMAL;"));
  int64_t version = 0;
  {
    store::Stmt s = impl->db->Prepare("PRAGMA user_version");
    auto row = s.Step();
    if (!row) return row.error();
    if (*row) version = s.ColInt(0);
  }
  if (version != kSchemaVersion) {
    LB_RETURN_IF_ERROR(impl->db->Exec("DROP TABLE IF EXISTS builds;"));
    LB_RETURN_IF_ERROR(impl->db->Exec(kSchema));
    LB_RETURN_IF_ERROR(
        impl->db->Exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str()));
  }
  return std::unique_ptr<BuildIndex>(new BuildIndex(std::move(impl)));
}

Status BuildIndex::Put(const BuildRow& r) {
  std::lock_guard lock(impl_->mu);
  store::Stmt s = impl_->db->Prepare(
      "INSERT OR REPLACE INTO builds (bucket, key, repo, pr, branch, commit_id, check_name, host, "
      "finished, uploaded_ms, size, etag, verdict, error_kind, error_text, error_line, "
      "signature, source, summary_etag) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
      "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)");
  s.Text(1, r.bucket).Text(2, r.key).Text(3, r.repo).Text(4, r.pr).Text(5, r.branch);
  s.Text(6, r.commit).Text(7, r.check).Text(8, r.host).Text(9, r.finished);
  s.Int(10, r.uploaded_ms).Int(11, static_cast<int64_t>(r.size)).Text(12, r.etag);
  s.Text(13, r.verdict).Text(14, r.error_kind).Text(15, r.error_text);
  s.Int(16, static_cast<int64_t>(r.error_line)).Text(17, r.signature).Text(18, r.source);
  s.Text(19, r.summary_etag);
  return s.Run();
}

Status BuildIndex::Remove(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(impl_->mu);
  store::Stmt s = impl_->db->Prepare("DELETE FROM builds WHERE bucket = ?1 AND key = ?2");
  s.Text(1, bucket).Text(2, key);
  return s.Run();
}

Result<std::optional<BuildRow>> BuildIndex::Get(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(impl_->mu);
  LB_ASSIGN_OR_RETURN(auto rows,
                      impl_->Query(Select("bucket = ?1 AND key = ?2"), {bucket, key}, {}));
  if (rows.empty()) return std::optional<BuildRow>();
  return std::optional<BuildRow>(std::move(rows.front()));
}

Result<std::vector<BuildIndex::Known>> BuildIndex::Keys(const std::string& bucket) {
  std::lock_guard lock(impl_->mu);
  store::Stmt s =
      impl_->db->Prepare("SELECT key, etag, summary_etag FROM builds WHERE bucket = ?1");
  s.Text(1, bucket);
  std::vector<Known> out;
  while (true) {
    LB_ASSIGN_OR_RETURN(bool more, s.Step());
    if (!more) break;
    out.push_back({s.ColText(0), s.ColText(1), s.ColText(2)});
  }
  return out;
}

Result<uint64_t> BuildIndex::Count(const std::string& bucket) {
  std::lock_guard lock(impl_->mu);
  store::Stmt s = impl_->db->Prepare("SELECT COUNT(*) FROM builds WHERE bucket = ?1");
  s.Text(1, bucket);
  LB_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<uint64_t>(s.ColInt(0)) : 0;
}

Result<std::vector<BoardEntry>> BuildIndex::Board(const std::string& bucket,
                                                  const BoardOptions& options) {
  std::lock_guard lock(impl_->mu);
  // The entries (PR or branch) by their last build, a page at a time; a page may shrink when
  // only failing ones are wanted, so pages are read until enough entries or no more rows.
  std::string filter = "bucket = ?1 AND repo = ?2";
  std::vector<std::string> texts = {bucket, options.repo};
  if (!options.check.empty()) {
    texts.push_back(options.check);
    filter += " AND check_name = ?" + std::to_string(texts.size());
  }
  if (!options.host.empty()) {
    texts.push_back(options.host);
    filter += " AND host = ?" + std::to_string(texts.size());
  }
  int64_t before = options.before_ms > 0 ? options.before_ms : INT64_MAX;
  std::vector<BoardEntry> out;
  const size_t page = std::max<size_t>(options.limit, 1) * 2;
  while (out.size() < options.limit) {
    int at = static_cast<int>(texts.size()) + 1;
    std::string sql = "SELECT pr, branch, MAX(uploaded_ms) AS last FROM builds WHERE " + filter +
                      " GROUP BY pr, branch HAVING last < ?" + std::to_string(at) +
                      " ORDER BY last DESC LIMIT " + std::to_string(page);
    struct Head {
      std::string pr, branch;
      int64_t last;
    };
    std::vector<Head> heads;
    LB_RETURN_IF_ERROR(impl_->ForEachRow(sql, texts, {{at, before}}, [&](const store::Stmt& s) {
      heads.push_back({s.ColText(0), s.ColText(1), s.ColInt(2)});
    }));
    for (const Head& head : heads) {
      before = head.last;
      std::vector<std::string> entry_texts = texts;
      entry_texts.push_back(head.pr);
      entry_texts.push_back(head.branch);
      std::string where = filter + " AND pr = ?" + std::to_string(entry_texts.size() - 1) +
                          " AND branch = ?" + std::to_string(entry_texts.size()) +
                          " ORDER BY uploaded_ms DESC LIMIT 1000";
      LB_ASSIGN_OR_RETURN(auto rows, impl_->Query(Select(where), entry_texts, {}));
      if (rows.empty()) continue;
      BoardEntry entry;
      entry.pr = head.pr;
      entry.branch = head.branch;
      entry.commit = rows.front().commit;
      entry.last_ms = head.last;
      std::set<std::string> seen;
      for (BuildRow& row : rows) {
        if (row.commit != entry.commit || !seen.insert(row.check).second) continue;
        entry.failing = entry.failing || row.verdict == "failed";
        entry.checks.push_back(std::move(row));
      }
      std::sort(entry.checks.begin(), entry.checks.end(),
                [](const BuildRow& a, const BuildRow& b) { return a.check < b.check; });
      if (options.failing_only && !entry.failing) continue;
      out.push_back(std::move(entry));
      if (out.size() >= options.limit) break;
    }
    if (heads.size() < page) break;
  }
  return out;
}

Result<std::vector<FailureGroup>> BuildIndex::Groups(const std::string& bucket,
                                                     const GroupOptions& options) {
  std::lock_guard lock(impl_->mu);
  std::string where =
      "bucket = ?1 AND verdict = 'failed' AND signature <> '' AND uploaded_ms >= ?2";
  std::vector<std::string> texts = {bucket};
  std::vector<std::pair<int, int64_t>> ints = {{2, options.since_ms}};
  // ?2 is the time; texts continue at ?3.
  texts.push_back("");  // placeholder for ?2 (bound as an integer below)
  if (!options.repo.empty()) {
    texts.push_back(options.repo);
    where += " AND repo = ?" + std::to_string(texts.size());
  }
  if (!options.signature.empty()) {
    texts.push_back(options.signature);
    where += " AND signature = ?" + std::to_string(texts.size());
  }
  // The newest failed builds of the window, at most kMaxGroupedBuilds: one request never holds
  // more than ~50 MB of rows, whatever window it asks for.
  where += " ORDER BY uploaded_ms DESC LIMIT " + std::to_string(kMaxGroupedBuilds);
  LB_ASSIGN_OR_RETURN(auto rows, impl_->Query(Select(where), texts, ints));

  struct Acc {
    FailureGroup group;
    std::set<std::string> builds, prs, checks, repos;
    std::map<std::string, uint64_t> hosts;
    std::map<std::string, int64_t> pr_first;  // each PR's first failure with this error
  };
  std::unordered_map<std::string, Acc> groups;
  std::vector<std::string> order;
  for (BuildRow& row : rows) {  // newest first
    if (!options.exclude_repo.empty() && row.repo == options.exclude_repo &&
        row.pr == options.exclude_pr && row.branch == options.exclude_branch) {
      continue;
    }
    auto [it, fresh] = groups.try_emplace(row.signature);
    Acc& acc = it->second;
    if (fresh) {
      order.push_back(row.signature);
      acc.group.signature = row.signature;
      acc.group.kind = row.error_kind;
      acc.group.text = row.error_text;
      acc.group.last_ms = row.uploaded_ms;
    }
    if (!acc.builds.insert(BuildIdentity(row)).second) continue;
    acc.group.first_ms = row.uploaded_ms;
    acc.prs.insert(PrIdentity(row));
    acc.checks.insert(row.check);
    acc.repos.insert(row.repo);
    ++acc.hosts[row.host];
    acc.pr_first[PrIdentity(row)] = row.uploaded_ms;
    if (acc.group.examples.size() < options.examples) acc.group.examples.push_back(row);
  }

  std::vector<FailureGroup> out;
  for (const std::string& signature : order) {
    Acc& acc = groups[signature];
    FailureGroup& g = acc.group;
    g.builds = acc.builds.size();
    g.prs = acc.prs.size();
    g.checks.assign(acc.checks.begin(), acc.checks.end());
    g.repos.assign(acc.repos.begin(), acc.repos.end());
    for (const auto& [host, n] : acc.hosts) g.hosts.push_back({host, n});
    std::sort(g.hosts.begin(), g.hosts.end(), [](const HostCount& a, const HostCount& b) {
      return a.builds != b.builds ? a.builds > b.builds : a.host < b.host;
    });
    // 1. Many PRs in a short time: the most distinct PRs whose first failure with this error
    // falls within one burst window.
    std::vector<int64_t> firsts;
    for (const auto& [pr, t] : acc.pr_first) firsts.push_back(t);
    std::sort(firsts.begin(), firsts.end());
    size_t burst = 0;
    for (size_t a = 0, b = 0; b < firsts.size(); ++b) {
      while (firsts[b] - firsts[a] > options.burst_ms) ++a;
      burst = std::max(burst, b - a + 1);
    }
    // 2. Confined to one host while other hosts pass the same checks.
    const HostCount* top = g.hosts.empty() ? nullptr : &g.hosts.front();
    bool one_host =
        top != nullptr && !top->host.empty() && g.builds >= 3 && top->builds * 10 >= g.builds * 8;
    uint64_t passed_elsewhere = 0;
    if (one_host) {
      for (const std::string& check : g.checks) {
        store::Stmt s = impl_->db->Prepare(
            "SELECT COUNT(*) FROM builds WHERE bucket = ?1 AND check_name = ?2 AND verdict = "
            "'no-errors-found' AND host <> '' AND host <> ?3 AND uploaded_ms >= ?4");
        s.Text(1, bucket).Text(2, check).Text(3, top->host).Int(4, options.since_ms);
        LB_ASSIGN_OR_RETURN(bool row, s.Step());
        if (row) passed_elsewhere += static_cast<uint64_t>(s.ColInt(0));
      }
    }
    std::vector<std::string> reasons;
    if (burst >= options.burst_prs) {
      reasons.push_back(std::to_string(burst) + " PRs within " +
                        std::to_string(options.burst_ms / 3600000) + " h");
    }
    if (one_host && passed_elsewhere > 0) {
      reasons.push_back(std::to_string(top->builds) + " of " + std::to_string(g.builds) + " on " +
                        top->host + ", while other hosts passed the same " +
                        (g.checks.size() == 1 ? "check" : "checks") + " " +
                        std::to_string(passed_elsewhere) + " times");
    }
    g.infrastructure = !reasons.empty();
    for (size_t i = 0; i < reasons.size(); ++i) g.reason += (i ? "; " : "") + reasons[i];
    out.push_back(std::move(g));
  }
  std::stable_sort(out.begin(), out.end(), [](const FailureGroup& a, const FailureGroup& b) {
    if (a.infrastructure != b.infrastructure) return a.infrastructure;
    if (a.prs != b.prs) return a.prs > b.prs;
    return a.last_ms > b.last_ms;
  });
  if (out.size() > options.limit) out.resize(options.limit);
  return out;
}

Result<std::optional<BuildRow>> BuildIndex::LastGreen(const std::string& bucket,
                                                      const std::string& repo,
                                                      const std::string& check, int64_t before_ms) {
  LB_ASSIGN_OR_RETURN(auto rows, GreenBuilds(bucket, repo, check, before_ms, 1));
  if (rows.empty()) return std::optional<BuildRow>();
  return std::optional<BuildRow>(std::move(rows.front()));
}

Result<std::vector<BuildRow>> BuildIndex::GreenBuilds(const std::string& bucket,
                                                      const std::string& repo,
                                                      const std::string& check, int64_t before_ms,
                                                      size_t limit) {
  std::lock_guard lock(impl_->mu);
  return impl_->Query(Select("bucket = ?1 AND repo = ?2 AND check_name = ?3 AND verdict = "
                             "'no-errors-found' AND uploaded_ms < ?4 ORDER BY (branch = '') ASC, "
                             "uploaded_ms DESC, key DESC LIMIT " +
                             std::to_string(std::max<size_t>(limit, 1))),
                      {bucket, repo, check}, {{4, before_ms}});
}

}  // namespace logbucket::builds
