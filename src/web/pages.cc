#include "web/pages.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/encoding.h"

namespace logbucket::web {

std::string Esc(std::string_view text) { return XmlEscape(text); }

std::string PathHref(std::string_view bucket, std::string_view key) {
  std::string out = "/" + UriEncode(bucket, false) + "/";
  out += UriEncode(key, /*keep_slash=*/true);
  return out;
}

std::string HumanSize(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

namespace {

std::string When(int64_t ms) {
  if (ms <= 0) return "";
  std::string iso = FormatIso8601(ms);  // 2026-11-18T13:24:03.000Z
  return iso.substr(0, 10) + " " + iso.substr(11, 8) + " UTC";
}

// "just now", "5 min ago", "3 h ago", "2 days ago", "in 41 days"; past a year, the date.
std::string Relative(int64_t ms, int64_t now_ms) {
  int64_t delta = now_ms - ms;
  bool future = delta < 0;
  int64_t s = (future ? -delta : delta) / 1000;
  std::string amount;
  if (s < 45) return future ? "in a moment" : "just now";
  if (s < 3600) {
    amount = std::to_string(std::max<int64_t>(1, (s + 30) / 60)) + " min";
  } else if (s < 36 * 3600) {
    amount = std::to_string((s + 1800) / 3600) + " h";
  } else if (s < 365 * 86400) {
    amount = Plural((s + 43200) / 86400, "day");
  } else {
    return FormatIso8601(ms).substr(0, 10);
  }
  return future ? "in " + amount : amount + " ago";
}

}  // namespace

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Plural(int64_t n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

std::string TimeHtml(int64_t ms, int64_t now_ms) {
  if (ms <= 0) return "";
  // To the second, as S3 listings over HTTP say it (an embedded store knows milliseconds).
  return "<time datetime=\"" + FormatIso8601(ms).substr(0, 19) + "Z\" title=\"" + When(ms) + "\">" +
         Esc(Relative(ms, now_ms)) + "</time>";
}

std::string PageShell(const Chrome& chrome, std::string_view title,
                      const std::vector<Crumb>& crumbs, std::string_view main_html,
                      std::string_view body_class) {
  std::string h;
  h.reserve(main_html.size() + 2048);
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  h += "<title>" + Esc(title) + " · " + Esc(chrome.site) + "</title>";
  h += "<link rel=\"icon\" href=\"/_static/favicon.svg\" type=\"image/svg+xml\">";
  h += "<link rel=\"stylesheet\" href=\"/_static/viewer.css\">";
  h += "<script src=\"/_static/viewer.js\" defer></script></head>";
  h += "<body class=\"" + Esc(body_class) + "\"><header class=\"top\"><nav class=\"crumbs\">";
  h += "<a href=\"/\" class=\"site\">" + Esc(chrome.site) + "</a>";
  for (const Crumb& c : crumbs) {
    h += "<span class=\"sep\">/</span>";
    if (c.href.empty()) {
      h += "<span class=\"here\">" + Esc(c.label) + "</span>";
    } else {
      h += "<a href=\"" + Esc(c.href) + "\">" + Esc(c.label) + "</a>";
    }
  }
  h += "</nav><span class=\"who\">";
  if (chrome.no_sign_in) {
    h += "<span class=\"nosignin\" title=\"auth.mode = none: anyone who reaches this address reads "
         "everything\">no sign-in (local use only)</span>";
  } else if (!chrome.user.empty()) {
    h += "signed in as <b>" + Esc(chrome.user) + "</b>";
    if (!chrome.sign_out_href.empty()) {
      h += " · <a href=\"" + Esc(chrome.sign_out_href) + "\">sign out</a>";
    }
  }
  h += "</span></header>\n";
  h += main_html;
  h += "\n</body></html>\n";
  return h;
}

std::string BucketListPage(const Chrome& chrome, const std::vector<store::Bucket>& buckets) {
  std::string m = "<main class=\"listing\"><h1>Buckets</h1>";
  if (buckets.empty()) {
    m += "<p class=\"empty\">No buckets yet. Create one with <code>logbucket bucket create "
         "-b NAME</code>.</p>";
  } else {
    int64_t now = WallNowMs();
    m += "<table class=\"entries\"><thead><tr><th>Name</th><th>Created</th></tr></thead><tbody>";
    for (const auto& b : buckets) {
      m += "<tr><td class=\"name\"><a class=\"folder\" href=\"" + Esc(PathHref(b.name, "")) +
           "\">" + Esc(b.name) + "/</a></td><td class=\"when\">" + TimeHtml(b.created_ms, now) +
           "</td></tr>";
    }
    m += "</tbody></table>";
  }
  m += "</main>";
  return PageShell(chrome, "Buckets", {}, m);
}

std::vector<Crumb> FolderCrumbs(std::string_view bucket, std::string_view prefix,
                                bool last_is_current) {
  std::vector<Crumb> crumbs;
  crumbs.push_back({std::string(bucket), PathHref(bucket, "")});
  size_t start = 0;
  while (start < prefix.size()) {
    size_t slash = prefix.find('/', start);
    size_t end = slash == std::string_view::npos ? prefix.size() : slash + 1;
    crumbs.push_back(
        {std::string(prefix.substr(start, end - start - (slash == prefix.npos ? 0 : 1))),
         PathHref(bucket, prefix.substr(0, end))});
    start = end;
  }
  if (last_is_current) crumbs.back().href.clear();
  return crumbs;
}

std::string FolderListingPage(const Chrome& chrome, const FolderPage& page) {
  std::string m = "<main class=\"listing\">";
  // A repository's folder (org/repo/) offers its board; the bucket's root its failures.
  size_t depth = static_cast<size_t>(std::count(page.prefix.begin(), page.prefix.end(), '/'));
  if (page.across_builds && page.filter.empty() && (depth == 0 || depth == 2)) {
    std::string here = PathHref(page.bucket, page.prefix);
    m += "<nav class=\"views\"><strong>Files</strong>";
    if (depth == 2) m += " · <a href=\"" + Esc(here + "?board") + "\">PR board</a>";
    m += " · <a href=\"" + Esc(here + "?failures") + "\">Recurring failures</a></nav>";
  }
  m += "<form class=\"filter\" method=\"get\"><input type=\"search\" name=\"filter\" "
       "placeholder=\"Filter: names starting with…\" value=\"" +
       Esc(page.filter) + "\" aria-label=\"Filter by name\"></form>";
  // Where this page is among all, with the way to the others.
  auto pager = [&] {
    std::string p = "<nav class=\"pager\">";
    if (!page.prev_href.empty()) {
      p += "<a href=\"" + Esc(page.prev_href) + "\" rel=\"prev\">← Previous</a>";
    }
    p += "<span class=\"count\">";
    if (page.entries.empty()) {
      p += Plural(static_cast<int64_t>(page.total), "entry");
    } else if (page.entries.size() == page.total) {
      p += page.total == 1 ? std::string("1 entry") : std::to_string(page.total) + " entries";
    } else {
      p += "entries " + std::to_string(page.first + 1) + "–" +
           std::to_string(page.first + page.entries.size()) + " of " + std::to_string(page.total);
    }
    if (!page.complete) p += " (the folder has more; filter by name to find them)";
    p += "</span>";
    if (!page.next_href.empty()) {
      p += "<a href=\"" + Esc(page.next_href) + "\" rel=\"next\">Next →</a>";
    }
    return p + "</nav>";
  };
  bool any_verdict = std::any_of(page.entries.begin(), page.entries.end(),
                                 [](const FolderEntry& e) { return !e.verdict.empty(); });
  if (page.entries.empty()) {
    m += "<p class=\"empty\">" +
         std::string(page.total > 0        ? "No entries on this page."
                     : page.filter.empty() ? "This folder is empty."
                                           : "Nothing matches.") +
         "</p>";
    if (page.total > 0) m += pager();
  } else {
    int64_t now = WallNowMs();
    m += pager();
    m += "<table class=\"entries\"><thead><tr><th>Name</th>";
    if (any_verdict) m += "<th>Result</th>";
    m += "<th class=\"num\">Size</th><th>Last upload</th></tr></thead><tbody>";
    for (const auto& e : page.entries) {
      m += "<tr><td class=\"name\"><a class=\"";
      m += e.folder ? "folder" : "file";
      m += "\" href=\"" + Esc(e.href) + "\">" + Esc(e.name) + "</a>";
      if (e.newest) m += " <span class=\"tag newest\">newest build</span>";
      m += "</td>";
      if (any_verdict) {
        m += "<td class=\"verdict\">";
        if (e.verdict == "failed") {
          m += "<span class=\"tag failed\">✗ failed</span>";
        } else if (e.verdict == "no-errors-found") {
          m += "<span class=\"tag ok\">✓ no errors</span>";
        } else if (e.verdict == "broken-builder") {
          m += "<span class=\"tag broken\">⚠ broken builder</span>";
        }
        m += "</td>";
      }
      m += "<td class=\"num\">" + (e.folder ? std::string() : Esc(HumanSize(e.size))) +
           "</td><td class=\"when\">" + TimeHtml(e.modified_ms, now) + "</td></tr>";
    }
    m += "</tbody></table>";
    if (!page.prev_href.empty() || !page.next_href.empty()) m += pager();
  }
  m += "</main>";
  std::string title = page.bucket + "/" + page.prefix;
  return PageShell(chrome, title, FolderCrumbs(page.bucket, page.prefix, true), m);
}

std::string LogViewerPage(const Chrome& chrome, const ViewerPage& page) {
  const std::string self = PathHref(page.bucket, page.key);
  std::string m;
  m += "<main id=\"viewer\" data-src=\"" + Esc(self) + "\" data-size=\"" +
       std::to_string(page.info.size) + "\">";
  // The header card: what this log is.
  m += "<section class=\"card\"><h1>" +
       Esc(page.facts.check.empty() ? page.key : page.facts.check) + "</h1><dl>";
  const int64_t now = WallNowMs();
  auto fact_html = [&](const char* label, const std::string& html, const char* attrs = "") {
    if (html.empty()) return;
    m += "<div" + std::string(attrs) + "><dt>" + std::string(label) + "</dt><dd>" + html +
         "</dd></div>";
  };
  auto link = [](const std::string& text, const std::string& href, const std::string& title = "") {
    return "<a href=\"" + Esc(href) + "\" rel=\"noopener noreferrer\"" +
           (title.empty() ? std::string() : " title=\"" + Esc(title) + "\"") + ">" + Esc(text) +
           "</a>";
  };
  auto fact = [&](const char* label, const std::string& value, const std::string& href = "") {
    if (value.empty()) return;
    fact_html(label, href.empty() ? Esc(value) : link(value, href));
  };
  fact("Repository", page.facts.repo);
  if (!page.facts.pr.empty() && !page.facts.repo.empty()) {
    fact("Pull request", "#" + page.facts.pr,
         "https://github.com/" + page.facts.repo + "/pull/" + page.facts.pr);
  }
  if (!page.facts.branch.empty() && !page.facts.repo.empty()) {
    fact("Branch", page.facts.branch,
         "https://github.com/" + page.facts.repo + "/tree/" + UriEncode(page.facts.branch, true));
  }
  if (page.facts.commit == "latest") {
    // The log's header names the commit; the script shows it once the index has read it.
    fact_html("Commit", "latest build of this PR", " id=\"fact-commit\" data-latest=\"1\"");
  } else if (!page.facts.commit.empty()) {
    std::string short_sha = page.facts.commit.substr(0, 12);
    fact_html("Commit",
              page.facts.repo.empty()
                  ? Esc(short_sha)
                  : link(short_sha,
                         "https://github.com/" + page.facts.repo + "/commit/" + page.facts.commit,
                         page.facts.commit),
              " id=\"fact-commit\"");
  }
  // Filled (and shown) by the script once the index has read the log's header.
  m += "<div id=\"fact-host\" hidden><dt>Build host</dt><dd></dd></div>";
  m += "<div id=\"fact-finished\" hidden><dt>Finished</dt><dd></dd></div>";
  fact_html("Uploaded", TimeHtml(page.info.last_modified_ms, now));
  fact("Size", HumanSize(page.info.size));
  fact_html("Expires", TimeHtml(page.expires_ms, now));
  m += "</dl><p class=\"links\"><a href=\"" + Esc(self) + "?raw=1\">Raw</a> · <a href=\"" +
       Esc(self) + "?download=1\">Download</a>";
  size_t slash = page.key.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : page.key.substr(0, slash + 1);
  m += " · <a href=\"" + Esc(PathHref(page.bucket, folder)) + "\">This check's files</a>";
  if (!page.facts.check.empty()) {
    // <repo>/<pr>/<commit>/<check>/<file>: up two levels, the PR's builds (and their checks).
    std::string_view pr_folder = std::string_view(folder).substr(0, folder.size() - 1);
    for (int up = 0; up < 2 && !pr_folder.empty(); ++up) {
      size_t cut = pr_folder.rfind('/');
      pr_folder = cut == std::string_view::npos ? std::string_view() : pr_folder.substr(0, cut);
    }
    if (!pr_folder.empty()) {
      m += " · <a href=\"" + Esc(PathHref(page.bucket, std::string(pr_folder) + "/")) +
           "\">Other builds of this " + (page.facts.pr.empty() ? "branch" : "PR") + "</a>";
    }
  }
  m += "</p></section>";
  // The verdict, once the summary is in (JavaScript).
  m += "<div id=\"banner\" class=\"banner pending js-only\" role=\"status\" hidden>"
       "<span class=\"msg\">Analysing the log…</span></div>";
  // Toolbar (JavaScript), then the log.
  m += "<section class=\"toolbar js-only\" hidden>"
       "<form id=\"search\" role=\"search\"><input id=\"q\" type=\"search\" "
       "placeholder=\"Search ( / )\" aria-label=\"Search the log\">"
       "<label><input id=\"regex\" type=\"checkbox\"> regex</label>"
       "<label><input id=\"icase\" type=\"checkbox\" checked> ignore case</label>"
       "<button type=\"submit\">Find</button><span id=\"count\" aria-live=\"polite\"></span>"
       "</form><span class=\"tools\">"
       "<button id=\"goto\" title=\"Go to line (g)\">Go to line</button>"
       "<form id=\"gotoform\" hidden><input id=\"gotoline\" type=\"number\" min=\"1\" "
       "aria-label=\"Line number\"></form>"
       "<button id=\"wrap\" title=\"Wrap long lines\">Wrap</button>"
       "<button id=\"timestamps\" title=\"Show the CI's timestamps (t)\" hidden>Timestamps"
       "</button>"
       "<button id=\"copylink\" title=\"Copy a link to the selected lines\">Copy link</button>"
       "</span><span id=\"status\"></span>"
       "<span class=\"hint\"><kbd>/</kbd> search · <kbd>n</kbd> <kbd>N</kbd> next/previous · "
       "<kbd>e</kbd> <kbd>E</kbd> errors · <kbd>g</kbd> go to line · <kbd>?</kbd> keys</span>"
       "</section>";
  m += "<div id=\"help\" hidden role=\"dialog\" aria-label=\"Keys\"><div "
       "class=\"box\"><h2>Keys</h2><table>"
       "<tr><td><kbd>/</kbd></td><td>search (Enter: next match, Shift+Enter: previous)</td></tr>"
       "<tr><td><kbd>n</kbd> <kbd>N</kbd></td><td>next / previous match</td></tr>"
       "<tr><td><kbd>e</kbd> <kbd>E</kbd></td><td>next / previous error</td></tr>"
       "<tr><td><kbd>g</kbd></td><td>go to line</td></tr>"
       "<tr><td><kbd>t</kbd></td><td>show or hide the CI's timestamps (when the log has "
       "them)</td></tr>"
       "<tr><td>click, Shift+click</td><td>select lines (the address links to them)</td></tr>"
       "<tr><td><kbd>?</kbd> <kbd>Esc</kbd></td><td>this help / close it</td></tr>"
       "</table><p><button id=\"help-close\">Close</button></p></div></div>";
  m += "<div class=\"body\"><aside id=\"panel\" class=\"js-only\" hidden>"
       "<h2>Errors <span id=\"verdict\"></span></h2><ol id=\"errors\">"
       "<li class=\"pending\">Analysing…</li></ol>"
       "<details id=\"warnings-box\"><summary>Warnings <span id=\"wcount\"></span></summary>"
       "<ol id=\"warnings\"></ol></details>"
       "<h2>Sections <span class=\"fold-all\"><button id=\"expand-all\">expand all</button>"
       "<button id=\"collapse-all\">collapse all</button></span></h2><ol id=\"sections\">"
       "</ol></aside>";
  m += "<div class=\"logwrap\"><div id=\"where\" hidden></div>"
       "<div id=\"log\" class=\"log\" tabindex=\"0\"><div id=\"first\" class=\"lines\">";
  uint64_t n = 0;
  for (const auto& line : page.first_lines) {
    ++n;
    m += "<div class=\"l\" id=\"L" + std::to_string(n) + "\"><a class=\"n\" href=\"#L" +
         std::to_string(n) + "\">" + std::to_string(n) + "</a><span class=\"t\">" + line.html;
    if (line.truncated) m += "<span class=\"cut\"> … line cut, see Raw</span>";
    m += "</span></div>";
  }
  m += "</div>";
  if (page.more) {
    m += "<p class=\"nojs-more\">Showing the first " + std::to_string(n) +
         " lines. The viewer loads the rest with JavaScript; the <a href=\"" + Esc(self) +
         "?raw=1\">raw log</a> has everything.</p>";
  }
  m += "</div></div></div></main>";
  std::vector<Crumb> crumbs = FolderCrumbs(page.bucket, folder, false);
  crumbs.push_back({slash == std::string::npos ? page.key : page.key.substr(slash + 1), ""});
  // The tab says which check (the script puts the verdict in front): "#14520 build/O2/o2".
  std::string title = page.facts.check.empty() ? page.key
                      : page.facts.pr.empty()  ? page.facts.check
                                               : "#" + page.facts.pr + " " + page.facts.check;
  return PageShell(chrome, title, crumbs, m, "viewing");
}

std::string ErrorPage(const Chrome& chrome, int status, std::string_view message,
                      std::string_view link_href, std::string_view link_label, bool keep_hash) {
  std::string heading = status < 400 ? std::string(chrome.site) : std::to_string(status);
  std::string m =
      "<main class=\"listing\"><h1>" + Esc(heading) + "</h1><p>" + Esc(message) + "</p>";
  if (!link_href.empty()) {
    m += "<p><a class=\"next\" href=\"" + Esc(link_href) + "\"" +
         (keep_hash ? " data-keep-hash=\"1\"" : "") + ">" + Esc(link_label) + "</a></p>";
  }
  m += "</main>";
  return PageShell(chrome, heading, {}, m);
}

}  // namespace logbucket::web
