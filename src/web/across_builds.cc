#include "web/across_builds.h"

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "web/responses.h"

namespace logbucket::web {
namespace {

constexpr int64_t kDayMs = 86400 * 1000LL;

std::string QueryValue(const ViewerRoute& route, std::string_view name) {
  const QueryParam* p = FindQuery(route.query, name);
  return p == nullptr ? std::string() : p->value;
}

bool QueryFlag(const ViewerRoute& route, std::string_view name) {
  const QueryParam* p = FindQuery(route.query, name);
  return p != nullptr && p->value != "0" && p->value != "false";
}

bool WantsJson(const ViewerRoute& route) { return QueryValue(route, "format") == "json"; }

// "org/repo/" → "org/repo"; "" when the folder is not a repository's.
std::string RepoOf(std::string_view prefix) {
  if (prefix.empty() || prefix.back() != '/') return {};
  auto parts = Split(prefix.substr(0, prefix.size() - 1), '/');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) return {};
  return std::string(prefix.substr(0, prefix.size() - 1));
}

// The log, positioned on its decisive error.
std::string LogHref(const builds::BuildRow& r) {
  return PathHref(r.bucket, r.key) + (r.error_line > 0 ? "#L" + std::to_string(r.error_line) : "");
}

std::string PrLabel(const builds::BuildRow& r) { return r.pr.empty() ? r.branch : "#" + r.pr; }

nlohmann::json RowJson(const builds::BuildRow& r) {
  nlohmann::json j = {{"key", r.key},           {"href", LogHref(r)},
                      {"repo", r.repo},         {"pr", r.pr},
                      {"branch", r.branch},     {"commit", r.commit},
                      {"check", r.check},       {"host", r.host},
                      {"finished", r.finished}, {"uploaded_ms", r.uploaded_ms},
                      {"size", r.size},         {"verdict", r.verdict},
                      {"source", r.source},     {"error", nullptr}};
  if (!r.signature.empty()) {
    j["error"] = {{"kind", r.error_kind},
                  {"text", r.error_text},
                  {"line", r.error_line},
                  {"signature", r.signature}};
  }
  return j;
}

std::string GroupHref(const std::string& bucket, const std::string& repo,
                      const std::string& signature, int64_t days) {
  return PathHref(bucket, repo.empty() ? "" : repo + "/") +
         "?failures&days=" + std::to_string(days) + "&signature=" + signature;
}

nlohmann::json GroupJson(const builds::FailureGroup& g, const std::string& bucket,
                         const std::string& repo, int64_t days) {
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& h : g.hosts) hosts.push_back({{"host", h.host}, {"builds", h.builds}});
  nlohmann::json examples = nlohmann::json::array();
  for (const auto& r : g.examples) examples.push_back(RowJson(r));
  return {{"signature", g.signature},
          {"kind", g.kind},
          {"text", g.text},
          {"builds", g.builds},
          {"prs", g.prs},
          {"checks", g.checks},
          {"repos", g.repos},
          {"hosts", hosts},
          {"first_ms", g.first_ms},
          {"last_ms", g.last_ms},
          {"infrastructure", g.infrastructure},
          {"reason", g.reason},
          {"examples", examples},
          {"href", GroupHref(bucket, repo, g.signature, days)}};
}

http::Response Refused(const ViewerRoute& route, const Chrome& chrome, int status,
                       const std::string& message) {
  if (WantsJson(route)) return JsonError(status, message);
  return Html(status, ErrorPage(chrome, status, message));
}

std::string Badge(const builds::BuildRow& r) {
  const char* cls = r.verdict == "failed"           ? "failed"
                    : r.verdict == "broken-builder" ? "broken"
                                                    : "ok";
  const char* mark = r.verdict == "failed" ? "✗" : r.verdict == "broken-builder" ? "⚠" : "✓";
  std::string title = r.check + ": " + (r.signature.empty() ? r.verdict : r.error_text);
  return "<a class=\"tag " + std::string(cls) + "\" href=\"" + Esc(LogHref(r)) + "\" title=\"" +
         Esc(title) + "\">" + mark + " " + Esc(r.check) + "</a>";
}

}  // namespace

http::Response BoardView(const http::Request& request, const ViewerRoute& route,
                         const Chrome& chrome, const AcrossBuilds& across) {
  std::string repo = RepoOf(route.key);
  if (repo.empty()) {
    return Refused(route, chrome, 400,
                   "The board is a repository's: /<bucket>/<org>/<repo>/?board");
  }
  builds::BoardOptions options;
  options.repo = repo;
  options.failing_only = QueryFlag(route, "failing");
  options.check = QueryValue(route, "check");
  options.host = QueryValue(route, "host");
  if (auto before = ParseDecimal(QueryValue(route, "before")); before && *before > 0) {
    options.before_ms = *before;
  }
  if (auto limit = ParseDecimal(QueryValue(route, "limit")); limit && *limit > 0) {
    options.limit = static_cast<size_t>(std::min<int64_t>(*limit, 200));
  }
  auto board = across.index.Board(route.bucket, options);
  if (!board)
    return Refused(route, chrome, 500, "The build index failed: " + board.error().message());
  int64_t next = board->size() == options.limit ? board->back().last_ms : 0;

  if (WantsJson(route)) {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& e : *board) {
      nlohmann::json checks = nlohmann::json::array();
      for (const auto& c : e.checks) checks.push_back(RowJson(c));
      entries.push_back({{"pr", e.pr},
                         {"branch", e.branch},
                         {"commit", e.commit},
                         {"last_ms", e.last_ms},
                         {"failing", e.failing},
                         {"checks", checks}});
    }
    nlohmann::json j = {{"bucket", route.bucket}, {"repo", repo}, {"entries", entries}};
    j["next_before"] = next > 0 ? nlohmann::json(next) : nlohmann::json(nullptr);
    http::Response r = Json(200, j);
    MaybeCompress(request, r);
    return r;
  }

  std::string here = PathHref(route.bucket, route.key);
  std::string m = "<main class=\"listing across\">";
  m += "<nav class=\"views\"><a href=\"" + Esc(here) +
       "\">Files</a> · <strong>PR board</strong> · "
       "<a href=\"" +
       Esc(here + "?failures") + "\">Recurring failures</a></nav>";
  m += "<form class=\"filter\" method=\"get\"><input type=\"hidden\" name=\"board\" value=\"\">"
       "<label><input type=\"checkbox\" name=\"failing\" value=\"1\"" +
       std::string(options.failing_only ? " checked" : "") +
       "> failing only</label> <input name=\"check\" placeholder=\"check\" aria-label=\"Check\" "
       "value=\"" +
       Esc(options.check) +
       "\"> <input name=\"host\" placeholder=\"host\" "
       "aria-label=\"Host\" value=\"" +
       Esc(options.host) + "\"> <button>Filter</button></form>";
  if (board->empty()) {
    m += "<p class=\"empty\">No builds indexed" +
         std::string(options.failing_only || !options.check.empty() || !options.host.empty()
                         ? " match the filter."
                         : " for this repository yet.") +
         "</p>";
  } else {
    m += "<table class=\"entries board\"><thead><tr><th>PR</th><th>Checks</th><th>Decisive "
         "error</th><th>Host</th><th>Last build</th></tr></thead><tbody>";
    for (const auto& e : *board) {
      const builds::BuildRow* failed = nullptr;
      for (const auto& c : e.checks) {
        if (failed == nullptr && c.verdict == "failed") failed = &c;
      }
      const builds::BuildRow& shown = failed != nullptr ? *failed : e.checks.front();
      std::string pr_folder = route.key + (e.pr.empty() ? e.branch : e.pr) + "/";
      m += "<tr class=\"" + std::string(e.failing ? "failing" : "passing") +
           "\"><td class=\"name\">";
      m += "<a class=\"folder\" href=\"" + Esc(PathHref(route.bucket, pr_folder)) + "\">" +
           Esc(PrLabel(shown)) + "</a> <span class=\"commit\" title=\"" + Esc(e.commit) + "\">" +
           Esc(e.commit.substr(0, 12)) + "</span></td><td class=\"checks\">";
      for (const auto& c : e.checks) m += Badge(c) + " ";
      m += "</td><td class=\"error\">";
      if (failed != nullptr) {
        m += "<a href=\"" + Esc(LogHref(*failed)) + "\">" + Esc(failed->error_text) + "</a>";
      }
      m += "</td><td class=\"host\">" + Esc(shown.host) + "</td><td class=\"when\">" +
           TimeHtml(e.last_ms, across.now_ms) + "</td></tr>";
    }
    m += "</tbody></table>";
  }
  if (next > 0) {
    std::string older = here + "?board&before=" + std::to_string(next);
    if (options.failing_only) older += "&failing=1";
    if (!options.check.empty()) older += "&check=" + UriEncode(options.check, true);
    if (!options.host.empty()) older += "&host=" + UriEncode(options.host, true);
    m += "<nav class=\"pager\"><a href=\"" + Esc(older) + "\" rel=\"next\">Older →</a></nav>";
  }
  m += "</main>";
  http::Response r = Html(200, PageShell(chrome, repo + " · PR board",
                                         FolderCrumbs(route.bucket, route.key, false), m));
  MaybeCompress(request, r);
  return r;
}

http::Response FailuresView(const http::Request& request, const ViewerRoute& route,
                            const Chrome& chrome, const AcrossBuilds& across) {
  std::string repo = RepoOf(route.key);
  if (!route.key.empty() && repo.empty()) {
    return Refused(route, chrome, 400,
                   "Recurring failures are a bucket's or a repository's: /<bucket>/?failures or "
                   "/<bucket>/<org>/<repo>/?failures");
  }
  int64_t days = across.window_days;
  if (auto d = ParseDecimal(QueryValue(route, "days")); d && *d >= 1 && *d <= 366) days = *d;
  builds::GroupOptions options;
  options.repo = repo;
  options.since_ms = across.now_ms - days * kDayMs;
  options.signature = QueryValue(route, "signature");
  options.examples = options.signature.empty() ? 5 : 50;
  auto groups = across.index.Groups(route.bucket, options);
  if (!groups) {
    return Refused(route, chrome, 500, "The build index failed: " + groups.error().message());
  }

  if (WantsJson(route)) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& g : *groups) list.push_back(GroupJson(g, route.bucket, repo, days));
    http::Response r = Json(200, {{"bucket", route.bucket},
                                  {"repo", repo},
                                  {"days", days},
                                  {"since_ms", options.since_ms},
                                  {"groups", list}});
    MaybeCompress(request, r);
    return r;
  }

  std::string here = PathHref(route.bucket, route.key);
  std::string m = "<main class=\"listing across\">";
  m += "<nav class=\"views\"><a href=\"" + Esc(here) + "\">Files</a>";
  if (!repo.empty()) m += " · <a href=\"" + Esc(here + "?board") + "\">PR board</a>";
  m += " · <strong>Recurring failures</strong></nav>";
  m +=
      "<form class=\"filter\" method=\"get\"><input type=\"hidden\" name=\"failures\" "
      "value=\"\"><label>Last <input type=\"number\" name=\"days\" min=\"1\" max=\"366\" value=\"" +
      std::to_string(days) + "\" aria-label=\"Days\"> days</label> <button>Show</button></form>";
  if (groups->empty()) {
    m += "<p class=\"empty\">No failed build with a recognised error in the last " +
         Plural(days, "day") + ".</p>";
  }
  m += "<ol class=\"groups\">";
  for (const auto& g : *groups) {
    m += "<li class=\"group" + std::string(g.infrastructure ? " infra" : "") + "\" id=\"s-" +
         Esc(g.signature) + "\">";
    if (g.infrastructure) {
      m += "<p class=\"flag\"><span class=\"tag broken\">likely infrastructure</span> <span "
           "class=\"reason\">" +
           Esc(g.reason) + "</span></p>";
    }
    m += "<p class=\"text\"><span class=\"kind k-" + Esc(g.kind) + "\">" + Esc(g.kind) +
         "</span> " + Esc(g.text) + "</p><p class=\"facts\">";
    m += "<span class=\"prs\">" + Plural(static_cast<int64_t>(g.prs), "PR") + "</span> · " +
         Plural(static_cast<int64_t>(g.builds), "build") + " · " +
         (g.checks.size() == 1 ? "check " : "checks ");
    for (size_t i = 0; i < g.checks.size() && i < 8; ++i) m += (i ? ", " : "") + Esc(g.checks[i]);
    m += " · <span class=\"hosts\">";
    for (size_t i = 0; i < g.hosts.size() && i < 8; ++i) {
      m += (i ? ", " : "") + Esc(g.hosts[i].host.empty() ? "unknown host" : g.hosts[i].host) +
           " ×" + std::to_string(g.hosts[i].builds);
    }
    m += "</span> · first " + TimeHtml(g.first_ms, across.now_ms) + ", last " +
         TimeHtml(g.last_ms, across.now_ms) + "</p><ul class=\"examples\">";
    for (const auto& r : g.examples) {
      m += "<li><a href=\"" + Esc(LogHref(r)) + "\">" + Esc(r.repo) + " " + Esc(PrLabel(r)) + " " +
           Esc(r.check) + "</a> on " + Esc(r.host.empty() ? "unknown host" : r.host) + ", " +
           TimeHtml(r.uploaded_ms, across.now_ms) + "</li>";
    }
    m += "</ul>";
    if (options.signature.empty() && g.builds > g.examples.size()) {
      m += "<a class=\"all\" href=\"" + Esc(GroupHref(route.bucket, repo, g.signature, days)) +
           "\">all " + std::to_string(g.builds) + " builds</a>";
    }
    m += "</li>";
  }
  m += "</ol></main>";
  std::string title = (repo.empty() ? route.bucket : repo) + " · recurring failures";
  http::Response r =
      Html(200, PageShell(chrome, title, FolderCrumbs(route.bucket, route.key, false), m));
  MaybeCompress(request, r);
  return r;
}

http::Response RecurringView(const ViewerRoute& route, const AcrossBuilds& across) {
  auto row = across.index.Get(route.bucket, route.key);
  if (!row) return JsonError(500, "The build index failed: " + row.error().message());
  if (!*row) return Json(200, {{"indexed", false}});
  const builds::BuildRow& self = **row;
  nlohmann::json j = {{"indexed", true}, {"build", RowJson(self)}, {"others", nullptr}};
  if (self.signature.empty()) return Json(200, j);
  builds::GroupOptions options;
  options.since_ms = across.now_ms - across.window_days * kDayMs;
  options.signature = self.signature;
  options.exclude_repo = self.repo;
  options.exclude_pr = self.pr;
  options.exclude_branch = self.branch;
  auto groups = across.index.Groups(route.bucket, options);
  if (!groups) return JsonError(500, "The build index failed: " + groups.error().message());
  if (!groups->empty()) {
    j["others"] = GroupJson(groups->front(), route.bucket, "", across.window_days);
  }
  j["days"] = across.window_days;
  // What "Compare with the last green build" would pick, and the other choices.
  auto greens = across.index.GreenBuilds(route.bucket, self.repo, self.check, across.now_ms + 1, 8);
  if (!greens) return JsonError(500, "The build index failed: " + greens.error().message());
  j["greens"] = nlohmann::json::array();
  for (const auto& g : *greens) j["greens"].push_back(RowJson(g));
  return Json(200, j);
}

std::shared_ptr<const logs::LineDiff> DiffCache::Find(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& [key, diff] : entries_) {
    if (key == id) return diff;
  }
  return nullptr;
}

bool DiffCache::TryStart() {
  std::lock_guard lock(mu_);
  if (running_ >= kMaxRunning) return false;
  ++running_;
  return true;
}

void DiffCache::Done() {
  std::lock_guard lock(mu_);
  --running_;
}

void DiffCache::Insert(const std::string& id, std::shared_ptr<const logs::LineDiff> diff) {
  std::lock_guard lock(mu_);
  entries_.emplace_front(id, std::move(diff));
  if (entries_.size() > 8) entries_.pop_back();
}

http::Response DiffView(const ViewerRoute& route, const AcrossBuilds* across, DiffCache& cache,
                        const OpenLog& open) {
  std::string base_key = QueryValue(route, "diff");
  if (base_key.empty()) {
    builds::KeyFacts facts = builds::ParseCiKey(route.key);
    if (!builds::IsBuildLog(facts)) {
      return JsonError(400, "Not a CI build log: name the log to compare with: ?diff=<key>");
    }
    if (across == nullptr) {
      return JsonError(404, "No build index on this server: name the log: ?diff=<key>");
    }
    auto green = across->index.LastGreen(route.bucket, facts.repo, facts.check, across->now_ms + 1);
    if (!green) return JsonError(500, "The build index failed: " + green.error().message());
    if (!*green) {
      return JsonError(404, "No green build of " + facts.check + " in " + facts.repo +
                                " is indexed: name the log to compare with: ?diff=<key>");
    }
    base_key = (*green)->key;
  }
  if (base_key == route.key) return JsonError(400, "A log compared with itself has no new lines.");
  auto log = open(route.key);
  if (!log)
    return JsonError(log.error().code() == ErrorCode::kNoSuchKey ? 404 : 500,
                     log.error().message());
  auto base = open(base_key);
  if (!base) {
    return JsonError(base.error().code() == ErrorCode::kNoSuchKey ? 404 : 500,
                     base_key + ": " + base.error().message());
  }
  std::string id = route.bucket + '\n' + route.key + '\n' + log->info.etag + '\n' + base_key +
                   '\n' + base->info.etag;
  std::shared_ptr<const logs::LineDiff> diff = cache.Find(id);
  if (!diff) {
    if (!cache.TryStart()) {
      http::Response busy = JsonError(503, "Other comparisons are being made; try again shortly.");
      busy.SetHeader("Retry-After", "5");
      return busy;
    }
    auto made = logs::DiffAgainst(*log->bytes, *base->bytes);
    cache.Done();
    if (!made) return JsonError(500, "The diff failed: " + made.error().message());
    diff = std::make_shared<const logs::LineDiff>(std::move(*made));
    cache.Insert(id, diff);
  }
  builds::KeyFacts facts = builds::ParseCiKey(base_key);
  nlohmann::json shown = nlohmann::json::array();
  uint64_t shown_lines = 0;
  for (const auto& [from, to] : diff->shown) {
    shown.push_back({from, to});
    shown_lines += to - from + 1;
  }
  return Json(200, {{"base",
                     {{"key", base_key},
                      {"href", PathHref(route.bucket, base_key)},
                      {"pr", facts.pr},
                      {"branch", facts.branch},
                      {"commit", facts.commit},
                      {"check", facts.check},
                      {"uploaded_ms", base->info.last_modified_ms}}},
                    {"lines", diff->lines},
                    {"base_lines", diff->base_lines},
                    {"base_truncated", diff->base_truncated},
                    {"new_lines", diff->new_lines},
                    {"shown_lines", shown_lines},
                    {"shown", shown}});
}

}  // namespace logbucket::web
