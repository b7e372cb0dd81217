#include "push/report.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <unordered_set>

#include "common/encoding.h"
#include "common/json_fields.h"
#include "logs/ansi.h"
#include "platform/file_util.h"

namespace logbucket::push {
namespace {

// Everything from logs and flags goes into pretty.html escaped (the viewer also serves it
// sandboxed).
std::string Esc(std::string_view text) { return XmlEscape(text); }

}  // namespace

std::string LineLink(const std::string& log_url, uint64_t line) {
  return log_url + "?L=" + std::to_string(line);
}

std::string HumanBytes(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < (1ULL << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  }
  return buf;
}

bool ShowsContext(const logs::Finding& f) {
  return f.kind == "python-traceback" || f.kind == "cmake" || f.kind == "test-failure";
}

std::vector<uint64_t> ContextLineNumbers(const logs::Finding& f) {
  std::vector<uint64_t> numbers;
  uint64_t from = std::min(f.context_from, f.line), to = std::max(f.context_to, f.line);
  for (uint64_t n = from; n <= to; ++n) {
    if (to - from + 1 <= kContextLines || n < from + 5 || n + (kContextLines - 5) > to) {
      numbers.push_back(n);
    }
  }
  return numbers;
}

std::map<uint64_t, std::string> ReadVisibleLines(const std::string& path,
                                                 const std::set<uint64_t>& wanted) {
  std::map<uint64_t, std::string> lines;
  if (wanted.empty()) return lines;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return lines;
  std::string line;
  uint64_t n = 1;
  int c;
  while (n <= *wanted.rbegin() && (c = std::fgetc(f)) != EOF) {
    if (c != '\n') {
      if (line.size() < 4096) line.push_back(static_cast<char>(c));
      continue;
    }
    if (wanted.count(n)) lines[n] = logs::PlainText(line);
    line.clear();
    ++n;
  }
  if (!line.empty() && wanted.count(n)) lines[n] = logs::PlainText(line);
  std::fclose(f);
  return lines;
}

std::string PrettyHtml(const logs::Summary& s, const PullRequest& pr, const std::string& check,
                       const std::string& link_base, const Artifacts& artifacts,
                       const std::map<uint64_t, std::string>& lines) {
  const std::string log_url = link_base + "fullLog.txt";
  std::string status = s.verdict == "failed"           ? "Build failed"
                       : s.verdict == "broken-builder" ? "Builder broken"
                                                       : "No errors found";
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + Esc(check) +
      " · " + Esc(status) +
      "</title>\n<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:70em}"
      "pre{background:#f6f8fa;padding:.5em;white-space:pre-wrap;overflow-wrap:anywhere}"
      "pre b{color:#b00}h2{margin-top:1.5em}"
      ".failed{color:#b00}.ok{color:#080}td{padding:0 1em 0 0}</style></head><body>\n";
  h += "<h1 class=\"" + std::string(s.verdict == "no-errors-found" ? "ok" : "failed") + "\">" +
       Esc(status) + ": " + Esc(check) + "</h1>\n<table>";
  h += "<tr><td>Host</td><td>" + Esc(s.header.host) + "</td></tr>";
  h += "<tr><td>Finished</td><td>" + Esc(s.header.finished) + "</td></tr>";
  h += "<tr><td>" + std::string(pr.is_pr ? "Pull request" : "Branch") + "</td><td><a href=\"" +
       Esc(pr.Url()) + "\">" + Esc(pr.org + "/" + pr.repo + (pr.is_pr ? "#" : "@") + pr.number) +
       "</a></td></tr>";
  h += "<tr><td>Commit</td><td>" + Esc(pr.sha) + "</td></tr>";
  h += "<tr><td>Full log</td><td><a href=\"" + Esc(log_url) + "\">fullLog.txt</a></td></tr>";
  h += "</table>\n";
  struct Group {
    const char* title;
    std::vector<const logs::Finding*> items;
  };
  Group killed{"Compiler killed (out of memory?)", {}}, cmake{"CMake errors", {}},
      checkcode{"o2checkcode", {}}, tests{"Failed tests", {}}, errors{"Errors", {}},
      warnings{"Warnings", {}};
  for (const auto& f : s.errors) {
    if (f.kind == "compiler-killed")
      killed.items.push_back(&f);
    else if (f.kind == "cmake")
      cmake.items.push_back(&f);
    else if (f.kind == "code-check")
      checkcode.items.push_back(&f);
    else if (f.kind == "test-failure" || f.kind == "tests-failed")
      tests.items.push_back(&f);
    else
      errors.items.push_back(&f);
  }
  for (const auto& f : s.warnings) warnings.items.push_back(&f);
  for (Group* g : {&killed, &cmake, &checkcode, &tests, &errors, &warnings}) {
    if (g->items.empty()) continue;
    h += "<h2>" + std::string(g->title) + " (" + std::to_string(g->items.size()) + ")</h2>\n";
    size_t shown = 0;
    for (const logs::Finding* f : g->items) {
      if (++shown > 100) {
        h += "<p>… and " + std::to_string(g->items.size() - 100) + " more in the full log.</p>\n";
        break;
      }
      h += "<p><a href=\"" + Esc(LineLink(log_url, f->line)) + "\">line " +
           std::to_string(f->line) + "</a>" + (f->section.empty() ? "" : " in " + Esc(f->section)) +
           (f->count > 1 ? " (" + std::to_string(f->count) + "×)" : "") + "</p><pre>";
      if (ShowsContext(*f)) {
        uint64_t previous = 0;
        for (uint64_t n : ContextLineNumbers(*f)) {
          auto line = lines.find(n);
          if (line == lines.end()) continue;
          if (previous != 0 && n != previous + 1) h += "…\n";
          previous = n;
          h += n == f->line ? "<b>" + Esc(line->second) + "</b>\n" : Esc(line->second) + "\n";
        }
        if (previous == 0) h += Esc(f->text);
      } else {
        h += Esc(f->text);
      }
      h += "</pre>\n";
    }
  }
  if (s.errors.empty() && s.warnings.empty()) h += "<p>Nothing to report.</p>\n";
  if (!artifacts.files.empty() || !artifacts.skipped.empty()) {
    h += "<h2>Artifacts (" + std::to_string(artifacts.files.size()) + ")</h2>\n<ul>\n";
    for (const Artifact& a : artifacts.files) {
      h += "<li><a href=\"" + Esc(link_base + "artifacts/" + UriEncode(a.name, true)) + "\">" +
           Esc(a.name) + "</a> (" + HumanBytes(a.size) + ")</li>\n";
    }
    h += "</ul>\n";
    for (const SkippedArtifact& skipped : artifacts.skipped) {
      h += "<p>Not uploaded: " + Esc(skipped.file) + " (" + Esc(skipped.reason) + ")</p>\n";
    }
  }
  h += "</body></html>\n";
  return h;
}

std::string CodeSpan(std::string_view text, size_t max_bytes) {
  std::string out;
  bool cut = text.size() > max_bytes;
  if (cut) {
    size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
    text = text.substr(0, end);
  }
  out.reserve(text.size() + 8);
  out += '`';
  for (char c : text) out += c == '`' ? '\'' : (c == '\n' || c == '\r') ? ' ' : c;
  out += cut ? "…`" : "`";
  return out;
}

std::string RecurringLine(std::string_view recurring_json, const std::string& origin) {
  nlohmann::json j = nlohmann::json::parse(recurring_json, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* others = JsonField(j, "others");
  if (others == nullptr || !others->is_object()) return "";
  const nlohmann::json& o = *others;
  uint64_t prs = JsonUnsigned(o, "prs");
  uint64_t builds = JsonUnsigned(o, "builds");
  if (prs == 0) return "";
  std::string line = JsonBool(o, "infrastructure") ? "⚠ **Likely not this change**: this" : "This";
  line += " error also failed " + std::to_string(prs) + (prs == 1 ? " other PR" : " other PRs") +
          " in the last " + std::to_string(JsonUnsigned(j, "days", 7)) + " days";
  const nlohmann::json* hosts = JsonField(o, "hosts");
  if (hosts != nullptr && hosts->is_array() && !hosts->empty()) {
    std::string host = JsonString((*hosts)[0], "host");
    uint64_t on_host = JsonUnsigned((*hosts)[0], "builds");
    // A host name comes from a log's header: quoted as code, never Markdown.
    if (!host.empty() && on_host * 2 >= builds) {
      line += ", " + std::to_string(std::min(on_host, prs)) + " of them on " + CodeSpan(host, 100);
    }
  }
  std::string href = JsonString(o, "href");
  if (href.starts_with("/") && !href.starts_with("//"))
    line += " ([see them](" + origin + href + "))";
  return line + "\n";
}

std::string Markdown(const logs::Summary& s, const std::string& check, const std::string& base,
                     size_t artifacts, size_t max_errors) {
  const std::string log_url = base + "fullLog.txt";
  std::string md = "**" + check + "**: " +
                   (s.verdict == "failed"           ? "failed"
                    : s.verdict == "broken-builder" ? "builder broken"
                                                    : "no errors found") +
                   " · [full log](" + log_url + ") · [summary](" + base + "pretty.html)";
  if (artifacts > 0) {
    md += " · [" + std::to_string(artifacts) + (artifacts == 1 ? " artifact" : " artifacts") +
          "](" + base + "artifacts/)";
  }
  md += "\n";
  size_t shown = 0;
  for (const auto& f : s.errors) {
    if (shown++ == max_errors) break;
    md += "- [line " + std::to_string(f.line) + "](" + LineLink(log_url, f.line) + ")" +
          (f.section.empty() ? "" : " (" + CodeSpan(f.section, 100) + ")") + ": " +
          CodeSpan(f.text, kMaxQuotedBytes) + "\n";
  }
  if (s.errors.size() > max_errors) {
    md += "- … " + std::to_string(s.errors.size() - max_errors) + " more\n";
  }
  return md;
}

}  // namespace logbucket::push
