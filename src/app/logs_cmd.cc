// `logbucket errors FILE`: the log engine on a local file (or stdin), printing the ranked error
// summary the viewer's error panel shows — for CI scripts and for judging the rules.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "app/commands.h"
#include "logs/gunzip.h"
#include "logs/summary.h"
#include "platform/mapped_scan.h"

namespace logbucket::app {
namespace {

struct ErrorsFlags {
  std::string file;
  bool json = false;
  uint64_t max_bytes = 0;
  size_t show = 10;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "logbucket errors: %s\n", message.c_str());
  return 2;
}

void PrintHuman(const logs::Summary& s, size_t show) {
  std::printf("%s: %zu distinct errors (%llu lines), %zu distinct warnings (%llu lines)\n",
              s.verdict.c_str(), s.errors.size(),
              static_cast<unsigned long long>(s.error_occurrences), s.warnings.size(),
              static_cast<unsigned long long>(s.warning_occurrences));
  std::printf(
      "read %llu of %llu bytes, %llu lines\n", static_cast<unsigned long long>(s.read_bytes),
      static_cast<unsigned long long>(s.total_bytes), static_cast<unsigned long long>(s.lines));
  if (!s.header.commit.empty()) {
    std::printf("built %s on %s at %s%s%s\n", s.header.commit.c_str(), s.header.host.c_str(),
                s.header.finished.c_str(), s.header.pr_url.empty() ? "" : " for ",
                s.header.pr_url.c_str());
  }
  if (!s.first_time.empty()) {
    std::printf("CI times %s to %s\n", s.first_time.c_str(), s.last_time.c_str());
  }
  size_t n = 0;
  for (const auto& f : s.errors) {
    if (n++ == show) {
      std::printf("… %zu more (--show N, or --json)\n", s.errors.size() - show);
      break;
    }
    std::printf("%3zu. line %llu [%s]%s%s%s %s", n, static_cast<unsigned long long>(f.line),
                f.kind.c_str(), f.section.empty() ? "" : " in ", f.section.c_str(),
                f.count > 1 ? "" : ":", f.text.c_str());
    if (f.count > 1) std::printf("  (×%llu)", static_cast<unsigned long long>(f.count));
    std::printf("\n     context: lines %llu-%llu", static_cast<unsigned long long>(f.context_from),
                static_cast<unsigned long long>(f.context_to));
    if (!f.time.empty()) std::printf(", at %s", f.time.c_str());
    std::printf("\n");
  }
  if (s.errors.empty() && s.tail_to > 0) {
    std::printf("no errors found; the last lines of the last section are %llu-%llu\n",
                static_cast<unsigned long long>(s.tail_from),
                static_cast<unsigned long long>(s.tail_to));
  }
}

int RunErrors(const ErrorsFlags& flags) {
  int fd = 0;
  std::string name = flags.file == "-" ? "stdin" : flags.file;
  if (flags.file != "-") {
    fd = ::open(flags.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail(flags.file + ": " + std::strerror(errno));
  }
  logs::AnalyzerOptions options;
  options.max_read_bytes = flags.max_bytes;
  logs::Analyzer analyzer(options);
  bool gzip = logs::IsGzipName(flags.file);
  logs::GzipDecoder gunzip(flags.max_bytes > 0 ? flags.max_bytes : UINT64_MAX);
  std::vector<char> buffer(4 << 20);
  uint64_t raw_bytes = 0;
  bool more = true;
  if (!gzip && fd != 0) {
    // A regular file is mapped, not copied (ScanMapped returns 0 for anything else).
    struct stat st {};
    if (::fstat(fd, &st) == 0) {
      raw_bytes = platform::ScanMapped(fd, 0, static_cast<uint64_t>(st.st_size),
                                       [&](std::string_view chunk) {
                                         more = analyzer.Feed(chunk);
                                         return more;
                                       });
      if (raw_bytes > 0 && ::lseek(fd, static_cast<off_t>(raw_bytes), SEEK_SET) < 0) {
        return Fail(name + ": " + std::strerror(errno));
      }
    }
  }
  while (more) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(name + ": " + std::strerror(errno));
    if (n == 0) break;
    raw_bytes += static_cast<uint64_t>(n);
    std::string_view chunk(buffer.data(), static_cast<size_t>(n));
    if (gzip) {
      Status st = gunzip.Feed(chunk, [&](std::string_view out) { more = analyzer.Feed(out); });
      if (!st.ok()) return Fail(name + ": " + st.message());
      if (gunzip.limit_reached()) more = false;
    } else {
      more = analyzer.Feed(chunk);
    }
  }
  if (gzip && more) {
    Status st = gunzip.Finish();
    if (!st.ok()) return Fail(name + ": " + st.message());
  }
  uint64_t total = 0;
  if (fd != 0) {
    off_t size = ::lseek(fd, 0, SEEK_END);
    if (!gzip && size > 0) total = static_cast<uint64_t>(size);
    ::close(fd);
  }
  (void)raw_bytes;
  logs::Summary summary = analyzer.Finish(total);
  if (flags.json) {
    std::printf("%s\n", logs::SummaryToJson(summary).c_str());
  } else {
    PrintHuman(summary, flags.show);
  }
  return 0;
}

}  // namespace

void RegisterLogs(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ErrorsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "errors", "Print the ranked error summary of a build log (the viewer's error panel)");
  cmd->add_option("file", flags->file, "log file, .gz decoded transparently; - for stdin")
      ->required();
  cmd->add_flag("--json", flags->json, "print JSON (verdict, errors, warnings, sections, header)");
  cmd->add_option("--max-bytes", flags->max_bytes,
                  "read at most this many (decoded) bytes; the summary says how far it read");
  cmd->add_option("--show", flags->show, "errors to print in the text format (default 10)");
  cmd->callback([flags, &exit_code] { exit_code = RunErrors(*flags); });
}

}  // namespace logbucket::app
