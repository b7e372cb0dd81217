#include "push/full_log.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>
#include <unordered_set>

#include "common/encoding.h"
#include "logs/ansi.h"
#include "platform/file_util.h"

namespace logbucket::push {
namespace {

std::string CTime(time_t t) {  // "Sat Nov 14 09:49:19 2026", as alibuild writes it
  char buf[64];
  struct tm tm {};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

}  // namespace

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
  // Each becomes a key segment (or several, for a branch like release/v1): "." and ".." would
  // make paths that browsers and proxies normalise away, and git and GitHub allow neither.
  for (const std::string* part : {&pr.org, &pr.repo, &pr.number}) {
    for (std::string_view segment : Split(*part, '/')) {
      if (segment.empty() || segment == "." || segment == "..") {
        return Error(ErrorCode::kInvalidArgument,
                     "--pr '" + text + "': '" + *part + "' has an empty, '.' or '..' segment");
      }
    }
  }
  pr.is_pr = std::all_of(pr.number.begin(), pr.number.end(), ::isdigit);
  return pr;
}

std::string SafeCheckName(const std::string& check) {
  std::string out = check;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  return out;
}

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

}  // namespace logbucket::push
