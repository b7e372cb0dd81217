#include "web/pages.h"

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

}  // namespace

std::string PageShell(const Chrome& chrome, std::string_view title,
                      const std::vector<Crumb>& crumbs, std::string_view main_html,
                      std::string_view body_class) {
  std::string h;
  h.reserve(main_html.size() + 2048);
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  h += "<title>" + Esc(title) + " · " + Esc(chrome.site) + "</title>";
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
    m += "<table class=\"entries\"><thead><tr><th>Name</th><th>Created</th></tr></thead><tbody>";
    for (const auto& b : buckets) {
      m += "<tr><td class=\"name\"><a class=\"folder\" href=\"" + Esc(PathHref(b.name, "")) +
           "\">" + Esc(b.name) + "/</a></td><td class=\"when\">" + Esc(When(b.created_ms)) +
           "</td></tr>";
    }
    m += "</tbody></table>";
  }
  m += "</main>";
  return PageShell(chrome, "Buckets", {}, m);
}

namespace {

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

}  // namespace

std::string FolderListingPage(const Chrome& chrome, const FolderPage& page) {
  std::string m = "<main class=\"listing\">";
  m += "<form class=\"filter\" method=\"get\"><input type=\"search\" name=\"filter\" "
       "placeholder=\"Filter: names starting with…\" value=\"" +
       Esc(page.filter) + "\" aria-label=\"Filter by name\"></form>";
  if (page.entries.empty()) {
    m += "<p class=\"empty\">" +
         std::string(page.filter.empty() ? "This folder is empty." : "Nothing matches.") + "</p>";
  } else {
    m += "<table class=\"entries\"><thead><tr><th>Name</th><th class=\"num\">Size</th>"
         "<th>Modified</th></tr></thead><tbody>";
    for (const auto& e : page.entries) {
      m += "<tr><td class=\"name\"><a class=\"";
      m += e.folder ? "folder" : "file";
      m += "\" href=\"" + Esc(e.href) + "\">" + Esc(e.name) + "</a></td><td class=\"num\">" +
           (e.folder ? std::string() : Esc(HumanSize(e.size))) + "</td><td class=\"when\">" +
           Esc(When(e.modified_ms)) + "</td></tr>";
    }
    m += "</tbody></table>";
  }
  if (!page.next_href.empty()) {
    m += "<p class=\"more\"><a href=\"" + Esc(page.next_href) + "\">Next page →</a></p>";
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
  auto fact = [&](const char* label, const std::string& value, const std::string& href = "") {
    if (value.empty()) return;
    m += "<div><dt>" + std::string(label) + "</dt><dd>";
    if (!href.empty()) {
      m += "<a href=\"" + Esc(href) + "\" rel=\"noopener noreferrer\">" + Esc(value) + "</a>";
    } else {
      m += Esc(value);
    }
    m += "</dd></div>";
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
  fact("Commit", page.facts.commit);
  m += "<div class=\"js-only\" id=\"fact-host\" hidden><dt>Build host</dt><dd></dd></div>";
  m += "<div class=\"js-only\" id=\"fact-finished\" hidden><dt>Finished</dt><dd></dd></div>";
  fact("Uploaded", When(page.info.last_modified_ms));
  fact("Size", HumanSize(page.info.size));
  fact("Expires", page.expires);
  m += "</dl><p class=\"links\"><a href=\"" + Esc(self) + "?raw=1\">Raw</a> · <a href=\"" +
       Esc(self) + "?download=1\">Download</a></p></section>";
  // Toolbar (JavaScript), then the log.
  m += "<section class=\"toolbar js-only\" hidden>"
       "<form id=\"search\" role=\"search\"><input id=\"q\" type=\"search\" "
       "placeholder=\"Search ( / )\" aria-label=\"Search the log\">"
       "<label><input id=\"regex\" type=\"checkbox\"> regex</label>"
       "<label><input id=\"icase\" type=\"checkbox\" checked> ignore case</label>"
       "<button type=\"submit\">Find</button><span id=\"count\" aria-live=\"polite\"></span>"
       "</form><span class=\"tools\">"
       "<button id=\"goto\" title=\"Go to line (g)\">Go to line</button>"
       "<button id=\"wrap\" title=\"Wrap long lines\">Wrap</button>"
       "<button id=\"copylink\" title=\"Copy a link to the selected lines\">Copy link</button>"
       "</span><span id=\"status\"></span></section>";
  m += "<div class=\"body\"><aside id=\"panel\" class=\"js-only\" hidden>"
       "<h2>Errors <span id=\"verdict\"></span></h2><ol id=\"errors\"></ol>"
       "<details id=\"warnings-box\"><summary>Warnings <span id=\"wcount\"></span></summary>"
       "<ol id=\"warnings\"></ol></details>"
       "<h2>Sections</h2><ol id=\"sections\"></ol></aside>";
  m += "<div id=\"log\" class=\"log\" tabindex=\"0\"><div id=\"first\" class=\"lines\">";
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
  m += "</div></div></main>";
  std::vector<Crumb> crumbs;
  size_t slash = page.key.rfind('/');
  crumbs = FolderCrumbs(page.bucket,
                        slash == std::string::npos ? "" : page.key.substr(0, slash + 1), false);
  crumbs.push_back({slash == std::string::npos ? page.key : page.key.substr(slash + 1), ""});
  return PageShell(chrome, page.key, crumbs, m, "viewing");
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
