// `logbucket push`: what the CI's report script does with a check's logs, as one command.
// Collects the package logs into fullLog.txt (the standard header and `## Begin/End` sections),
// runs the log engine over it in the same pass, writes summary.json and pretty.html, uploads the
// three under <org>/<repo>/<pr>/<sha>/<check>/ with the check's artifacts under artifacts/
// (and server-side copies under latest/ with --latest), and prints the viewer URL and a
// Markdown snippet for the PR comment.
//
// Exit codes: 0 uploaded (whatever the build's own result), 2 bad arguments or unreadable logs,
// 3 the upload failed (nothing is reported as uploaded that was not).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "app/connection.h"
#include "common/json_fields.h"
#include "http/client/curl_client.h"
#include "logs/summary.h"
#include "platform/file_util.h"
#include "push/artifacts.h"
#include "push/full_log.h"
#include "push/report.h"
#include "push/upload.h"
#include "store/remote/remote_store.h"

namespace logbucket::app {
namespace {

using push::Artifact;
using push::ArtifactContentType;
using push::CollectArtifacts;
using push::CollectLogs;
using push::ContextLineNumbers;
using push::CopyOrUpload;
using push::Markdown;
using push::ParsePr;
using push::PrettyHtml;
using push::Progress;
using push::ReadVisibleLines;
using push::SafeCheckName;
using push::ShowsContext;
using push::SkippedArtifact;
using push::Upload;
using push::UploadAll;
using push::WriteFullLog;

constexpr int kExitUploaded = 0;
constexpr int kExitUsage = 2;
constexpr int kExitUploadFailed = 3;

struct PushFlags {
  Connection connection;
  std::string pr;
  std::string check;
  std::vector<std::string> logs;
  push::ArtifactOptions artifacts;
  std::string dest;
  std::string url_base;
  bool latest = false;
  bool dry_run = false;
  std::string out_dir;
  push::UploadOptions upload;
  bool quiet = false;
  bool progress = false;
  size_t comment_errors = 5;
};

int Usage(const std::string& message) {
  std::fprintf(stderr, "logbucket push: %s\n", message.c_str());
  return kExitUsage;
}

// What the viewer's build index knows of this error on other PRs, for the snippet: asked when
// the log failed and --url-base is the viewer's http(s) address; waits at most 3 s for the
// viewer to index the new log, and says nothing when it does not answer in JSON (a sign-in in
// front of it, a viewer without the index).
std::string AskRecurring(const std::string& log_url) {
  if (!log_url.starts_with("http://") && !log_url.starts_with("https://")) return "";
  http::client::CurlOptions options;
  options.connect_timeout_ms = 2000;
  options.timeout_ms = 5000;
  options.max_response_bytes = 1 << 20;
  http::client::CurlClient client(options);
  size_t host_at = log_url.find("://") + 3;
  std::string origin = log_url.substr(0, log_url.find('/', host_at));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (true) {
    auto r = client.Send("GET", log_url + "?recurring", {{"accept", "application/json"}}, "");
    if (!r || r->status != 200) return "";
    nlohmann::json j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return "";
    if (JsonBool(j, "indexed")) return push::RecurringLine(r->body, origin);
    if (std::chrono::steady_clock::now() > deadline) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
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
      flags.artifacts, store::kMaxKeyBytes - std::min(store::kMaxKeyBytes, artifact_key_bytes));
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
        dir + "/pretty.html",
        PrettyHtml(*summary, *pr, flags.check, base.empty() ? "" : check_url, *artifacts,
                   ReadVisibleLines(dir + "/fullLog.txt", wanted)));
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
    // A terminal gets a redrawn line; a CI log, one line per uploaded file; --quiet, nothing.
    Progress::Mode mode = flags.quiet                     ? Progress::Mode::kQuiet
                          : flags.progress || ::isatty(2) ? Progress::Mode::kTerminal
                                                          : Progress::Mode::kLines;
    Progress progress(mode, total);
    Status st = UploadAll(options, *bucket, uploads, flags.upload, progress);
    for (size_t i = 0; st.ok() && i < latest_copies.size(); ++i) {
      st = CopyOrUpload(options, *bucket, latest_copies[i], uploads[i].key, flags.upload, progress);
    }
    if (!st.ok()) {
      std::fprintf(stderr, "\nlogbucket push: upload failed: %s\n", st.message().c_str());
      cleanup();
      return kExitUploadFailed;
    }
  }
  if (!flags.quiet) {
    std::string recurring =
        !flags.dry_run && summary->verdict == "failed" ? AskRecurring(log_url) : std::string();
    std::printf(
        "%s\n\n%s%s", log_url.c_str(),
        Markdown(*summary, flags.check, check_url, artifacts->files.size(), flags.comment_errors)
            .c_str(),
        recurring.c_str());
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
  cmd->add_option("--artifacts", flags->artifacts.artifacts,
                  "a file or directory uploaded under <check>/artifacts/ (repeatable)");
  cmd->add_option("--artifact-max-bytes", flags->artifacts.artifact_max_bytes,
                  "artifacts larger than this are not uploaded (bytes, default 100 MiB)");
  cmd->add_option("--artifact-max-count", flags->artifacts.artifact_max_count,
                  "refuse more artifacts than this (default 10000)");
  cmd->add_flag("--latest", flags->latest, "also copy everything to <pr>/latest/<check>/");
  cmd->add_flag("--dry-run", flags->dry_run, "write the files, upload nothing");
  cmd->add_option("--out", flags->out_dir, "keep the generated files in this directory");
  cmd->add_option("--multipart-threshold", flags->upload.multipart_threshold,
                  "files at least this large go up in parts (bytes, default 64 MiB)");
  cmd->add_option("--part-size", flags->upload.part_size,
                  "multipart part size (bytes, default 16 MiB)");
  cmd->add_option("--jobs,-j", flags->upload.jobs, "parts uploaded in parallel (default 4)");
  cmd->add_flag("--quiet,-q", flags->quiet, "print only the URL");
  cmd->add_flag("--progress", flags->progress, "show progress even when stderr is no terminal");
  cmd->add_option("--comment-errors", flags->comment_errors,
                  "errors listed in the Markdown snippet (default 5)");
  AddConnectionOptions(cmd, flags->connection, /*needs_bucket=*/false);
  cmd->callback([flags, &exit_code] { exit_code = RunPush(*flags); });
}

}  // namespace logbucket::app
