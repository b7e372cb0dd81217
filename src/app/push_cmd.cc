// `logbucket push`: what the CI's report script does with a check's logs, as one command.
// Collects the package logs into fullLog.txt (the standard header and `## Begin/End` sections),
// runs the log engine over it in the same pass, writes summary.json and pretty.html, uploads the
// three under <org>/<repo>/<pr>/<sha>/<check>/ with the check's artifacts under artifacts/
// (and server-side copies under latest/ with --latest), and prints the viewer URL and a
// Markdown snippet for the PR comment.
//
// Exit codes: 0 uploaded (whatever the build's own result), 2 bad arguments or unreadable logs,
// 3 the upload failed (nothing is reported as uploaded that was not).
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <pugixml.hpp>
#include <regex>
#include <set>
#include <thread>
#include <unordered_set>
#include <vector>

#include "app/commands.h"
#include "app/connection.h"
#include "common/encoding.h"
#include "logs/ansi.h"
#include "logs/summary.h"
#include "platform/file_util.h"
#include "store/remote/remote_store.h"

namespace logbucket::app {
namespace {

constexpr int kExitUploaded = 0;
constexpr int kExitUsage = 2;
constexpr int kExitUploadFailed = 3;

struct PushFlags {
  Connection connection;
  std::string pr;
  std::string check;
  std::vector<std::string> logs;
  std::vector<std::string> artifacts;  // files or directories
  uint64_t artifact_max_bytes = 100ULL << 20;
  size_t artifact_max_count = 10000;
  std::string dest;
  std::string url_base;
  bool latest = false;
  bool dry_run = false;
  std::string out_dir;
  uint64_t multipart_threshold = 64ULL << 20;
  uint64_t part_size = 16ULL << 20;
  int jobs = 4;
  bool quiet = false;
  bool progress = false;
  size_t comment_errors = 5;
};

struct PullRequest {
  std::string org, repo, number, sha;
  bool is_pr = true;  // a number; otherwise a branch name
  std::string Url() const {
    return is_pr ? "https://github.com/" + org + "/" + repo + "/pull/" + number
                 : "https://github.com/" + org + "/" + repo + "/commit/" + sha;
  }
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "logbucket push: %s\n", message.c_str());
  return kExitUsage;
}

Result<PullRequest> ParsePr(const std::string& text) {
  static const std::regex re(
      R"(^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)#([A-Za-z0-9_./-]+)@([0-9a-f]{7,40})$)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    return Error(ErrorCode::kInvalidArgument,
                 "--pr '" + text +
                     "': expected ORG/REPO#N@SHA (N a pull request number or a "
                     "branch name, SHA the commit's hex id)");
  }
  PullRequest pr{m[1], m[2], m[3], m[4]};
  pr.is_pr = std::all_of(pr.number.begin(), pr.number.end(), ::isdigit);
  return pr;
}

// The check's name as a key segment: [^a-zA-Z0-9_-] → _ (what the CI script does).
std::string SafeCheckName(const std::string& check) {
  std::string out = check;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  return out;
}

std::string CTime(time_t t) {  // "Sat Nov 14 09:49:19 2026", as alibuild writes it
  char buf[64];
  struct tm tm {};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

struct LogFile {
  std::string path;
  uint64_t size = 0;
  time_t started = 0;       // birth time when the filesystem knows it, else the change time
  time_t finished = 0;      // last write
  int64_t finished_ns = 0;  // the same, to the nanosecond: packages built in parallel often end
                            // within one second, and their order is the build order
};

Result<std::vector<LogFile>> CollectLogs(const std::vector<std::string>& patterns) {
  std::vector<LogFile> found;
  std::unordered_set<std::string> seen;
  for (const auto& pattern : patterns) {
    glob_t g{};
    int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
    if (rc == GLOB_NOMATCH || g.gl_pathc == 0) {
      globfree(&g);
      return Error(ErrorCode::kInvalidArgument, "--logs '" + pattern + "': no file matches");
    }
    if (rc != 0) {
      globfree(&g);
      return Error(ErrorCode::kInvalidArgument, "--logs '" + pattern + "': cannot read");
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string path = g.gl_pathv[i];
      if (!seen.insert(path).second) continue;  // matched by an earlier pattern too
      struct statx sx {};
      if (::statx(AT_FDCWD, path.c_str(), 0, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0) {
        globfree(&g);
        return Error(ErrorCode::kInvalidArgument, path + ": " + std::strerror(errno));
      }
      if (!S_ISREG(sx.stx_mode)) continue;
      LogFile f;
      f.path = path;
      f.size = sx.stx_size;
      f.finished = sx.stx_mtime.tv_sec;
      f.finished_ns = sx.stx_mtime.tv_sec * 1000000000LL + sx.stx_mtime.tv_nsec;
      f.started = (sx.stx_mask & STATX_BTIME) ? sx.stx_btime.tv_sec : sx.stx_ctime.tv_sec;
      f.started = std::min(f.started, f.finished);
      found.push_back(std::move(f));
    }
    globfree(&g);
  }
  // Oldest first, as the header says: the build order.
  std::stable_sort(found.begin(), found.end(), [](const LogFile& a, const LogFile& b) {
    return a.finished_ns != b.finished_ns ? a.finished_ns < b.finished_ns : a.path < b.path;
  });
  return found;
}

// Writes fullLog.txt and feeds the same bytes to the analyzer: one pass over the logs.
Result<logs::Summary> WriteFullLog(const std::vector<LogFile>& logs, const PullRequest& pr,
                                   const std::string& path) {
  platform::ScopedFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out.valid()) return platform::PosixError("create", path, errno);
  logs::Analyzer analyzer;
  uint64_t written = 0;
  auto emit = [&](std::string_view data) -> Status {
    analyzer.Feed(data);
    written += data.size();
    return platform::WriteAll(out.get(), data, path);
  };
  char host[256] = "unknown";
  ::gethostname(host, sizeof host - 1);
  char when[32];
  time_t now = ::time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d-%H:%M:%S", &tm);
  std::string header = "Finished building on " + std::string(host) + " at " + when + "\n" +
                       "Built commit " + pr.sha + " from " + pr.Url() + "\n" +
                       "The following files (oldest first) are present in the log:\n";
  for (const auto& log : logs) header += "- " + log.path + "\n";
  LB_RETURN_IF_ERROR(emit(header));
  std::vector<char> buffer(1 << 20);
  for (const auto& log : logs) {
    LB_RETURN_IF_ERROR(emit("## Begin " + log.path + " " + CTime(log.started) + "\n"));
    platform::ScopedFd in(::open(log.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) return platform::PosixError("open", log.path, errno);
    char last = '\n';
    while (true) {
      ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
      if (n < 0) return platform::PosixError("read", log.path, errno);
      if (n == 0) break;
      last = buffer[n - 1];
      LB_RETURN_IF_ERROR(emit(std::string_view(buffer.data(), n)));
    }
    if (last != '\n') LB_RETURN_IF_ERROR(emit("\n"));
    LB_RETURN_IF_ERROR(emit("## End " + log.path + " " + CTime(log.finished) + " (" +
                            std::to_string(log.finished - log.started) + "s)\n"));
  }
  return analyzer.Finish(written);
}

// An artifact of the check (ROOT files, plots, JSON reports …), uploaded as
// <check>/artifacts/<name>.
struct Artifact {
  std::string file;  // local path
  std::string name;  // its path under artifacts/, '/'-separated
  uint64_t size = 0;
};

struct SkippedArtifact {
  std::string file;  // for people: a name that is not UTF-8 has its non-ASCII bytes as '?'
  std::string reason;
};

std::string DisplayPath(std::string path) {
  if (!IsValidUtf8(path)) {
    for (char& c : path) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return path;
}

struct Artifacts {
  std::vector<Artifact> files;
  std::vector<SkippedArtifact> skipped;
};

// Whether a file's first 4 KiB are UTF-8 text without NUL (a character cut by the sample's end
// does not count against it).
bool LooksLikeText(const std::string& path) {
  platform::ScopedFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return false;
  char buffer[4096];
  ssize_t n = ::pread(in.get(), buffer, sizeof buffer, 0);
  if (n < 0) return false;
  std::string_view head(buffer, static_cast<size_t>(n));
  if (head.find('\0') != std::string_view::npos) return false;
  if (head.size() == sizeof buffer) {
    for (size_t back = 1; back <= 3 && back <= head.size(); ++back) {
      auto c = static_cast<unsigned char>(head[head.size() - back]);
      if ((c & 0xc0) == 0x80) continue;         // a continuation byte: look further back
      if (c >= 0xc0) head.remove_suffix(back);  // the lead byte of a possibly cut character
      break;
    }
  }
  return IsValidUtf8(head);
}

// The content type an artifact is stored with, so browsers show it inline: by extension, else
// text/plain when the first 4 KiB look like UTF-8 text, else application/octet-stream.
std::string ArtifactContentType(const std::string& path) {
  static const std::pair<const char*, const char*> kByExtension[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".svg", "image/svg+xml"},
      {".webp", "image/webp"},
      {".pdf", "application/pdf"},
      {".json", "application/json"},
      {".xml", "application/xml"},
      {".csv", "text/csv; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".log", "text/plain; charset=utf-8"},
      {".gz", "application/gzip"},
      {".tgz", "application/gzip"},
      {".zip", "application/zip"},
      {".tar", "application/x-tar"},
      {".root", "application/octet-stream"},
  };
  std::string name = path.substr(path.rfind('/') + 1);
  std::string lower = AsciiLower(name);
  for (const auto& [extension, type] : kByExtension) {
    if (lower.ends_with(extension)) return type;
  }
  return LooksLikeText(path) ? "text/plain; charset=utf-8" : "application/octet-stream";
}

// The files named by --artifacts: a file stands for itself (its base name), a directory for
// every file below it (paths relative to it). Symbolic links to files are followed, links to
// directories are not (no loops). Files over the size cap are skipped with a reason, so one
// oversized plot never keeps the log from being uploaded. So are names no S3 key can hold (not
// UTF-8, or longer than `max_name_bytes`, what the 1024-byte key limit leaves after the prefix).
Result<Artifacts> CollectArtifacts(const PushFlags& flags, size_t max_name_bytes) {
  namespace fs = std::filesystem;
  Artifacts out;
  auto add = [&](const fs::path& file, std::string name) -> Status {
    if (!IsValidUtf8(name) || name.size() > max_name_bytes) {
      out.skipped.push_back(
          {DisplayPath(file.string()), name.size() > max_name_bytes
                                           ? "its name is longer than an S3 key allows"
                                           : "its name is not UTF-8, which S3 keys must be"});
      return Status::Ok();
    }
    std::error_code ec;
    uint64_t size = fs::file_size(file, ec);
    if (ec) return Error(ErrorCode::kInvalidArgument, file.string() + ": " + ec.message());
    if (size > flags.artifact_max_bytes) {
      out.skipped.push_back(
          {DisplayPath(file.string()), std::to_string(size) + " bytes, over the " +
                                           std::to_string(flags.artifact_max_bytes) +
                                           "-byte limit (--artifact-max-bytes)"});
      return Status::Ok();
    }
    if (out.files.size() == flags.artifact_max_count) {
      return Error(ErrorCode::kInvalidArgument, "--artifacts: more than " +
                                                    std::to_string(flags.artifact_max_count) +
                                                    " files (--artifact-max-count)");
    }
    for (const Artifact& a : out.files) {
      if (a.name == name) {
        return Error(ErrorCode::kInvalidArgument, "--artifacts: " + a.file + " and " +
                                                      file.string() + " would both be artifacts/" +
                                                      name);
      }
    }
    out.files.push_back({file.string(), std::move(name), size});
    return Status::Ok();
  };
  for (const std::string& root : flags.artifacts) {
    std::error_code ec;
    fs::file_status status = fs::status(root, ec);
    if (ec || !fs::exists(status)) {
      return Error(ErrorCode::kInvalidArgument, "--artifacts '" + root + "': no such file");
    }
    if (fs::is_regular_file(status)) {
      LB_RETURN_IF_ERROR(add(root, fs::path(root).filename().string()));
      continue;
    }
    if (!fs::is_directory(status)) {
      return Error(ErrorCode::kInvalidArgument,
                   "--artifacts '" + root + "': neither a file nor a directory");
    }
    std::vector<fs::path> files;
    fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      fs::file_status entry = it->status(ec);  // follows a link to see what it points at
      if (ec) break;
      if (fs::is_regular_file(entry)) {
        files.push_back(it->path());
      } else if (it->is_symlink() || !fs::is_directory(entry)) {
        out.skipped.push_back({DisplayPath(it->path().string()),
                               it->is_symlink() && fs::is_directory(entry) ? "a link to a directory"
                                                                           : "not a regular file"});
      }
    }
    if (ec)
      return Error(ErrorCode::kInvalidArgument, "--artifacts '" + root + "': " + ec.message());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      LB_RETURN_IF_ERROR(add(file, file.lexically_relative(root).generic_string()));
    }
  }
  return out;
}

// Everything from logs and flags goes into pretty.html escaped (the viewer also serves it
// sandboxed).
std::string Esc(std::string_view text) { return XmlEscape(text); }

// A link to one line of the log in the viewer. ?L= rather than #L: a PR comment's link is often
// someone's first visit, and a sign-in proxy (mod_auth_openidc) loses the fragment on the way
// through the provider; the viewer turns ?L= into #L on arrival.
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

// Findings whose few lines before them are the story (a traceback's frames from
// "Traceback (most recent call last):", a CMake error's explanation, a failed test's output):
// pretty.html shows those lines, not only the one that matched.
bool ShowsContext(const logs::Finding& f) {
  return f.kind == "python-traceback" || f.kind == "cmake" || f.kind == "test-failure";
}

// A finding's context as pretty.html shows it: its first lines and its last, at most
// kContextLines in all.
constexpr uint64_t kContextLines = 40;
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

// The visible text of the log's lines `wanted` (one pass over the file), for pretty.html.
std::map<uint64_t, std::string> ReadLines(const std::string& path,
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

// pretty.html as the CI's report script writes it: status, where and what was built, then the
// findings by kind, each linked to its line in the viewer, then the artifacts. `link_base` is
// the viewer URL of the check's folder (ending in '/'), or "" for links relative to the page.
// `lines` holds the visible text of the context lines ShowsContext() findings need.
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

// Log text quoted in a PR comment, as inline code: the build output of a pull request is its
// author's to choose, so nothing of it may become Markdown (links, @mentions, HTML) or break the
// list. Backticks and line breaks go, long lines are cut (on a UTF-8 boundary) and marked.
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

constexpr size_t kMaxQuotedBytes = 300;

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

// Progress on a terminal: one line rewritten at most ten times a second.
class Progress {
 public:
  Progress(bool enabled, uint64_t total) : enabled_(enabled), total_(total) {}
  void Add(uint64_t bytes, const std::string& what) {
    uint64_t done = done_ += bytes;
    if (!enabled_) return;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    int width = 30;
    int filled = total_ ? static_cast<int>(width * std::min(done, total_) / total_) : width;
    std::fprintf(stderr, "\r[%s%s] %3d%% %6.1f/%.1f MB %6.1f MB/s %-20s",
                 std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
                 total_ ? static_cast<int>(100 * std::min(done, total_) / total_) : 100, done / 1e6,
                 total_ / 1e6, seconds > 0 ? done / 1e6 / seconds : 0.0,
                 what.substr(0, 20).c_str());
    if (done >= total_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

struct Upload {
  std::string file;  // local path
  std::string key;
  std::string content_type;
  std::string check;  // the check's name as given (the key has it with '/' as '_')
};

Status CheckResponse(const Result<s3client::S3Response>& r, const std::string& what) {
  if (!r) return Error(r.error().code(), what + ": " + r.error().message());
  if (!r->ok()) return Error(ErrorCode::kServiceUnavailable, what + ": " + r->Summary());
  return Status::Ok();
}

Headers ObjectHeaders(const Upload& u) {
  Headers headers = {{"content-type", u.content_type}, {"content-disposition", "inline"}};
  // The viewer titles the page with it ("build/O2/o2", not the folder's "build_O2_o2").
  // S3 metadata is ASCII: a name with anything else is left to the key.
  bool printable = !u.check.empty() && std::all_of(u.check.begin(), u.check.end(),
                                                   [](char c) { return c >= 0x20 && c < 0x7f; });
  if (printable) headers.push_back({"x-amz-meta-check", u.check});
  return headers;
}

// One object: a single PUT below the threshold, else a multipart upload with `jobs` parts in
// flight, aborted if any part fails for good (the client retries each first).
Status UploadFile(const s3client::ClientOptions& options, const std::string& bucket,
                  const Upload& u, const PushFlags& flags, Progress& progress) {
  platform::ScopedFd in(::open(u.file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return platform::PosixError("open", u.file, errno);
  auto length = platform::FileSize(in.get());
  if (!length) return length.error();
  s3client::Client client(options);
  if (*length < flags.multipart_threshold) {  // small: one PUT
    auto body = platform::ReadFile(u.file, flags.multipart_threshold);
    if (!body) return body.error();
    auto r = client.Request("PUT", bucket, u.key, "", *body, ObjectHeaders(u));
    LB_RETURN_IF_ERROR(CheckResponse(r, "PUT " + u.key));
    progress.Add(body->size(), u.key.substr(u.key.rfind('/') + 1));
    return Status::Ok();
  }
  auto created = client.Request("POST", bucket, u.key, "uploads", {}, ObjectHeaders(u));
  LB_RETURN_IF_ERROR(CheckResponse(created, "CreateMultipartUpload " + u.key));
  pugi::xml_document doc;
  doc.load_buffer(created->body.data(), created->body.size());
  std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty()) {
    return Error(ErrorCode::kServiceUnavailable,
                 "CreateMultipartUpload " + u.key + ": no UploadId");
  }
  uint64_t part_size = std::max<uint64_t>(flags.part_size, 5ULL << 20);
  int parts = static_cast<int>((*length + part_size - 1) / part_size);
  if (parts > 10000) {
    part_size = (*length + 9999) / 10000;
    parts = static_cast<int>((*length + part_size - 1) / part_size);
  }
  std::vector<std::string> etags(parts);
  std::atomic<int> next{0};
  std::mutex failure_mu;
  Status failure;
  auto worker = [&] {
    s3client::Client c(options);
    std::string buffer;
    while (true) {
      int i = next++;
      if (i >= parts) return;
      {
        std::lock_guard lock(failure_mu);
        if (!failure.ok()) return;
      }
      uint64_t offset = i * part_size;
      buffer.resize(std::min(part_size, *length - offset));
      ssize_t n = ::pread(in.get(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
      Status st;
      if (n != static_cast<ssize_t>(buffer.size())) {
        st = platform::PosixError("read", u.file, n < 0 ? errno : EIO);
      } else {
        auto r = c.Request(
            "PUT", bucket, u.key,
            "partNumber=" + std::to_string(i + 1) + "&uploadId=" + UriEncode(upload_id, false),
            buffer);
        st = CheckResponse(r, "UploadPart " + std::to_string(i + 1) + " of " + u.key);
        if (st.ok()) {
          std::string etag(FindHeader(r->headers, "etag").value_or(""));
          etags[i] = etag;
          progress.Add(buffer.size(), u.key.substr(u.key.rfind('/') + 1));
        }
      }
      if (!st.ok()) {
        std::lock_guard lock(failure_mu);
        if (failure.ok()) failure = st;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::clamp(flags.jobs, 1, 32); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::string query = "uploadId=" + UriEncode(upload_id, false);
  if (!failure.ok()) {
    (void)client.Request("DELETE", bucket, u.key, query);  // nothing half-written stays
    return failure;
  }
  std::string xml = "<CompleteMultipartUpload>";
  for (int i = 0; i < parts; ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] +
           "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  auto done =
      client.Request("POST", bucket, u.key, query, xml, {{"content-type", "application/xml"}});
  Status st = CheckResponse(done, "CompleteMultipartUpload " + u.key);
  // A 200 can still carry an error body (S3 sends it once the response has started).
  if (st.ok() && done->body.find("<Error>") != std::string::npos) {
    st = Error(ErrorCode::kServiceUnavailable,
               "CompleteMultipartUpload " + u.key + ": " + done->body);
  }
  if (!st.ok()) (void)client.Request("DELETE", bucket, u.key, query);
  return st;
}

// Server-side copy (CopyObject keeps the type and disposition): the latest/ copies cost no
// second upload. Objects over CopyObject's 5 GiB limit are uploaded again instead.
Status CopyOrUpload(const s3client::ClientOptions& options, const std::string& bucket,
                    const Upload& u, const std::string& source_key, const PushFlags& flags,
                    Progress& progress) {
  struct stat st {};
  if (::stat(u.file.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > (5ULL << 30)) {
    return UploadFile(options, bucket, u, flags, progress);
  }
  s3client::Client client(options);
  auto r =
      client.Request("PUT", bucket, u.key, "", {},
                     {{"x-amz-copy-source", "/" + bucket + "/" + UriEncode(source_key, true)}});
  LB_RETURN_IF_ERROR(CheckResponse(r, "CopyObject " + source_key + " to " + u.key));
  // Like CompleteMultipartUpload, a copy can fail after its 200 has started.
  if (r->body.find("<Error>") != std::string::npos) {
    return Error(ErrorCode::kServiceUnavailable, "CopyObject to " + u.key + ": " + r->body);
  }
  return Status::Ok();
}

// Uploads every file, stopping at the first that fails for good (after its retries). Files
// below the multipart threshold go `jobs` at a time (a check may have hundreds of small plots);
// larger ones one after another, each in `jobs` parallel parts.
Status UploadAll(const s3client::ClientOptions& options, const std::string& bucket,
                 const std::vector<Upload>& uploads, const PushFlags& flags, Progress& progress) {
  std::vector<const Upload*> small;
  for (const Upload& u : uploads) {
    struct stat st {};
    if (::stat(u.file.c_str(), &st) == 0 &&
        static_cast<uint64_t>(st.st_size) >= flags.multipart_threshold) {
      LB_RETURN_IF_ERROR(UploadFile(options, bucket, u, flags, progress));
    } else {
      small.push_back(&u);
    }
  }
  std::atomic<size_t> next{0};
  std::mutex failure_mu;
  Status failure;
  auto worker = [&] {
    while (true) {
      size_t i = next++;
      if (i >= small.size()) return;
      {
        std::lock_guard lock(failure_mu);
        if (!failure.ok()) return;
      }
      Status st = UploadFile(options, bucket, *small[i], flags, progress);
      if (!st.ok()) {
        std::lock_guard lock(failure_mu);
        if (failure.ok()) failure = st;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  size_t workers = std::min<size_t>(small.size(), std::clamp(flags.jobs, 1, 32));
  for (size_t t = 0; t < workers; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return failure;
}

int RunPush(const PushFlags& flags) {
  auto pr = ParsePr(flags.pr);
  if (!pr) return Usage(pr.error().message());
  if (flags.check.empty()) return Usage("--check: the check's name is required");
  auto bucket = store::ParseS3Url(flags.dest);
  if (!bucket) return Usage("--dest: " + bucket.error().message());
  if (!flags.url_base.empty() && !flags.url_base.starts_with("http://") &&
      !flags.url_base.starts_with("https://")) {
    return Usage("--url-base '" + flags.url_base + "': must be an http(s):// URL");
  }
  auto logs = CollectLogs(flags.logs);
  if (!logs) return Usage(logs.error().message());
  s3client::ClientOptions options;
  if (!flags.dry_run) {
    auto o = ClientOptionsFor(flags.connection);
    if (!o) return Usage(o.error().message());
    options = *o;
  }

  std::string dir = flags.out_dir;
  bool own_dir = dir.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/logbucket-push-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) return Usage("cannot create a temporary directory");
    dir = templ;
  } else if (Status s = platform::MakeDirs(dir, 0755); !s.ok()) {
    return Usage("--out " + dir + ": " + s.message());
  }
  auto cleanup = [&] {
    if (own_dir && !flags.dry_run) platform::RemoveTree(dir);
  };

  std::string prefix = pr->org + "/" + pr->repo + "/" + pr->number + "/" + pr->sha + "/" +
                       SafeCheckName(flags.check) + "/";
  const size_t artifact_key_bytes = prefix.size() + std::string_view("artifacts/").size();
  auto artifacts = CollectArtifacts(
      flags, store::kMaxKeyBytes - std::min(store::kMaxKeyBytes, artifact_key_bytes));
  if (!artifacts) {
    cleanup();
    return Usage(artifacts.error().message());
  }
  for (const SkippedArtifact& skipped : artifacts->skipped) {
    std::fprintf(stderr, "logbucket push: not uploading %s: %s\n", skipped.file.c_str(),
                 skipped.reason.c_str());
  }
  // Where the check's folder opens: the viewer when --url-base says where it is, else the
  // bucket itself (pretty.html then links relative to its own place).
  std::string base = flags.url_base;
  if (!base.empty() && base.back() != '/') base += '/';
  std::string check_url = base.empty() ? "s3://" + *bucket + "/" + prefix : base + prefix;
  std::string log_url = check_url + "fullLog.txt";

  auto summary = WriteFullLog(*logs, *pr, dir + "/fullLog.txt");
  if (!summary) {
    cleanup();
    return Usage(summary.error().message());
  }
  Status written =
      platform::WriteFileAtomic(dir + "/summary.json", logs::SummaryToJson(*summary) + "\n");
  if (written.ok()) {
    std::set<uint64_t> wanted;
    for (const logs::Finding& f : summary->errors) {
      if (ShowsContext(f)) {
        for (uint64_t n : ContextLineNumbers(f)) wanted.insert(n);
      }
    }
    written = platform::WriteFileAtomic(
        dir + "/pretty.html", PrettyHtml(*summary, *pr, flags.check, base.empty() ? "" : check_url,
                                         *artifacts, ReadLines(dir + "/fullLog.txt", wanted)));
  }
  if (!written.ok()) {
    cleanup();
    return Usage(written.message());
  }

  std::vector<Upload> uploads = {
      {dir + "/fullLog.txt", prefix + "fullLog.txt", "text/plain; charset=utf-8", flags.check},
      {dir + "/summary.json", prefix + "summary.json", "application/json", flags.check},
      {dir + "/pretty.html", prefix + "pretty.html", "text/html; charset=utf-8", flags.check}};
  for (const Artifact& a : artifacts->files) {
    uploads.push_back(
        {a.file, prefix + "artifacts/" + a.name, ArtifactContentType(a.file), flags.check});
  }
  // With --latest, every file again under latest/ (copied on the server once uploaded).
  std::vector<Upload> latest_copies;
  if (flags.latest) {
    std::string latest =
        pr->org + "/" + pr->repo + "/" + pr->number + "/latest/" + SafeCheckName(flags.check) + "/";
    for (const Upload& u : uploads) {
      latest_copies.push_back(
          {u.file, latest + u.key.substr(prefix.size()), u.content_type, u.check});
    }
  }
  uint64_t total = 0;
  for (const auto& u : uploads) {
    struct stat st {};
    if (::stat(u.file.c_str(), &st) == 0) total += st.st_size;
  }

  if (flags.dry_run) {
    std::fprintf(stderr, "logbucket push: dry run, nothing uploaded; files in %s\n", dir.c_str());
    for (const auto& u : uploads) {
      struct stat st {};
      ::stat(u.file.c_str(), &st);
      std::fprintf(stderr, "  would upload s3://%s/%s (%lld bytes, %s)\n", bucket->c_str(),
                   u.key.c_str(), static_cast<long long>(st.st_size), u.content_type.c_str());
    }
    for (const auto& u : latest_copies) {
      std::fprintf(stderr, "  would copy to s3://%s/%s\n", bucket->c_str(), u.key.c_str());
    }
  } else {
    Progress progress(flags.progress || (!flags.quiet && ::isatty(2)), total);
    Status st = UploadAll(options, *bucket, uploads, flags, progress);
    for (size_t i = 0; st.ok() && i < latest_copies.size(); ++i) {
      st = CopyOrUpload(options, *bucket, latest_copies[i], uploads[i].key, flags, progress);
    }
    if (!st.ok()) {
      std::fprintf(stderr, "\nlogbucket push: upload failed: %s\n", st.message().c_str());
      cleanup();
      return kExitUploadFailed;
    }
  }
  if (!flags.quiet) {
    std::printf(
        "%s\n\n%s", log_url.c_str(),
        Markdown(*summary, flags.check, check_url, artifacts->files.size(), flags.comment_errors)
            .c_str());
  } else {
    std::printf("%s\n", log_url.c_str());
  }
  std::fflush(stdout);
  cleanup();
  return kExitUploaded;
}

}  // namespace

void RegisterPush(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<PushFlags>();
  CLI::App* cmd = app.add_subcommand(
      "push", "Collect a check's logs into fullLog.txt, summarise them, upload, print the URL");
  cmd->add_option("--pr", flags->pr, "ORG/REPO#N@SHA (N: pull request number or branch)")
      ->required();
  cmd->add_option("--check", flags->check, "the check's name, e.g. build/O2/o2")->required();
  cmd->add_option("--logs", flags->logs, "glob of package logs, e.g. 'sw/BUILD/*latest*/log'")
      ->required();
  cmd->add_option("--dest", flags->dest, "s3://BUCKET")->required();
  cmd->add_option("--url-base", flags->url_base,
                  "viewer URL of the bucket, e.g. https://logs.example.org/BUCKET/ (without "
                  "it the printed links are s3:// and pretty.html links relative to itself)");
  cmd->add_option("--artifacts", flags->artifacts,
                  "a file or directory uploaded under <check>/artifacts/ (repeatable)");
  cmd->add_option("--artifact-max-bytes", flags->artifact_max_bytes,
                  "artifacts larger than this are not uploaded (bytes, default 100 MiB)");
  cmd->add_option("--artifact-max-count", flags->artifact_max_count,
                  "refuse more artifacts than this (default 10000)");
  cmd->add_flag("--latest", flags->latest, "also copy everything to <pr>/latest/<check>/");
  cmd->add_flag("--dry-run", flags->dry_run, "write the files, upload nothing");
  cmd->add_option("--out", flags->out_dir, "keep the generated files in this directory");
  cmd->add_option("--multipart-threshold", flags->multipart_threshold,
                  "files at least this large go up in parts (bytes, default 64 MiB)");
  cmd->add_option("--part-size", flags->part_size, "multipart part size (bytes, default 16 MiB)");
  cmd->add_option("--jobs,-j", flags->jobs, "parts uploaded in parallel (default 4)");
  cmd->add_flag("--quiet,-q", flags->quiet, "print only the URL");
  cmd->add_flag("--progress", flags->progress, "show progress even when stderr is no terminal");
  cmd->add_option("--comment-errors", flags->comment_errors,
                  "errors listed in the Markdown snippet (default 5)");
  AddConnectionOptions(cmd, flags->connection, /*needs_bucket=*/false);
  cmd->callback([flags, &exit_code] { exit_code = RunPush(*flags); });
}

}  // namespace logbucket::app
