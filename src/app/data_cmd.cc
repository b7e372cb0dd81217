// `logbucket fsck`, `backup` and `restore`: the embedded store's data directory, checked,
// copied while it serves, and put back (docs/OPERATIONS.md).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "store/local/backup.h"
#include "store/local/fsck.h"

namespace logbucket::app {
namespace {

std::string Bytes(uint64_t n) {
  char out[32];
  if (n >= (1ULL << 30)) {
    std::snprintf(out, sizeof out, "%.1f GiB", static_cast<double>(n) / (1ULL << 30));
  } else if (n >= (1ULL << 20)) {
    std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(n) / (1ULL << 20));
  } else {
    std::snprintf(out, sizeof out, "%llu bytes", static_cast<unsigned long long>(n));
  }
  return out;
}

// A key as a terminal may show it: anyone with write access chose its bytes, and control
// characters (escape sequences) must not reach the operator's terminal. They print as \xNN.
std::string ForTerminal(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

nlohmann::json FsckJson(const store::FsckReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems) {
    nlohmann::json j = {
        {"kind", p.kind}, {"file", p.file}, {"detail", p.detail}, {"repaired", p.repaired}};
    if (!p.bucket.empty()) {
      j["bucket"] = p.bucket;
      // Keys are bytes; JSON needs UTF-8 (an invalid sequence is replaced, never thrown on).
      j["key"] = p.key;
    }
    if (!p.upload_id.empty()) {
      j["upload_id"] = p.upload_id;
      j["part_number"] = p.part_number;
    }
    problems.push_back(std::move(j));
  }
  return {{"data_dir", r.data_dir},
          {"server_running", r.server_running},
          {"schema_version", r.schema_version},
          {"objects", r.objects},
          {"inline_objects", r.inline_objects},
          {"uploads", r.uploads},
          {"parts", r.parts},
          {"blob_files", r.blob_files},
          {"temp_files", r.temp_files},
          {"in_flight_files", r.in_flight_files},
          {"bodies_verified", r.bodies_verified},
          {"bytes_verified", r.bytes_verified},
          {"seconds", r.seconds},
          {"problems", problems},
          {"unrepaired", r.Unrepaired()},
          {"exit_code", r.ExitCode()}};
}

void PrintFsck(const store::FsckReport& r, bool repair) {
  std::printf("%s: %s, metadata schema %d\n", r.data_dir.c_str(),
              r.server_running ? "a server is running (checked live; writes younger than the "
                                 "grace period are left alone)"
                               : "no server running",
              r.schema_version);
  std::printf(
      "checked %llu objects (%llu inline), %llu parts of %llu unfinished uploads, %llu "
      "blob files, %llu temp files",
      static_cast<unsigned long long>(r.objects), static_cast<unsigned long long>(r.inline_objects),
      static_cast<unsigned long long>(r.parts), static_cast<unsigned long long>(r.uploads),
      static_cast<unsigned long long>(r.blob_files), static_cast<unsigned long long>(r.temp_files));
  if (r.bodies_verified) {
    std::printf("; %s read and hashed", Bytes(r.bytes_verified).c_str());
  } else {
    std::printf("; sizes only (--quick)");
  }
  std::printf(" in %.1f s\n", r.seconds);
  if (r.problems.empty()) {
    std::printf("clean: no problem found\n");
    return;
  }
  for (const auto& p : r.problems) {
    std::string what = p.kind;
    for (char& c : what) c = c == '_' ? ' ' : c;
    std::string where = p.file;
    if (!p.bucket.empty()) where = p.bucket + "/" + ForTerminal(p.key) + " (" + p.file + ")";
    if (!p.upload_id.empty()) {
      where =
          "upload " + p.upload_id + " part " + std::to_string(p.part_number) + " (" + p.file + ")";
    }
    std::printf("%s: %s: %s%s\n", what.c_str(), where.c_str(), p.detail.c_str(),
                p.repaired ? " [repaired]" : "");
  }
  size_t left = r.Unrepaired();
  std::printf("%zu problem%s, %zu repaired, %zu left%s\n", r.problems.size(),
              r.problems.size() == 1 ? "" : "s", r.problems.size() - left, left,
              left > 0 && !repair ? " (`--repair` removes what no row references; a missing or "
                                    "damaged body needs the object uploaded again or a backup)"
                                  : "");
}

}  // namespace

void RegisterData(CLI::App& app, int& exit_code) {
  {
    auto options = std::make_shared<store::FsckOptions>();
    options->data_dir = "./data";
    auto json = std::make_shared<bool>(false);
    auto quick = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand(
        "fsck", "Check the embedded store's data directory (while it serves or not)");
    cmd->add_option("--data", options->data_dir, "data directory (default ./data)");
    cmd->add_flag("--repair", options->repair,
                  "remove orphan blobs, stale temp files, unreferenced inline bodies and parts of "
                  "no upload (never what a row references)");
    cmd->add_flag("--quick", *quick, "check sizes only, do not read and hash the bodies");
    cmd->add_flag("--json", *json, "print the report as JSON");
    cmd->add_option("--grace", options->in_flight_grace_seconds,
                    "with a server running, leave files younger than this many seconds alone "
                    "(default 3600)")
        ->check(CLI::NonNegativeNumber);
    cmd->footer(
        "Exit status: 0 clean, 1 every problem repaired, 4 problems left, 8 could not check.");
    cmd->callback([options, json, quick, &exit_code] {
      options->verify_bodies = !*quick;
      auto report = store::Fsck(*options);
      if (!report) {
        std::fprintf(stderr, "logbucket fsck: %s\n", report.error().message().c_str());
        exit_code = 8;
        return;
      }
      if (*json) {
        std::printf("%s\n", FsckJson(*report)
                                .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                                .c_str());
      } else {
        PrintFsck(*report, options->repair);
      }
      exit_code = report->ExitCode();
    });
  }
  {
    auto options = std::make_shared<store::BackupOptions>();
    options->data_dir = "./data";
    CLI::App* cmd = app.add_subcommand(
        "backup", "Copy the embedded store's data directory consistently, while it serves");
    cmd->add_option("--data", options->data_dir, "data directory (default ./data)");
    cmd->add_option("--to", options->destination,
                    "the backup's directory (must not exist, or be empty)")
        ->required();
    cmd->add_flag("--copy", options->copy,
                  "copy every body, even where a hard link would do (a backup on the same disk "
                  "that survives it)");
    cmd->callback([options, &exit_code] {
      auto report = store::Backup(*options);
      if (!report) {
        std::fprintf(stderr, "logbucket backup: %s\n", report.error().message().c_str());
        exit_code = 1;
        return;
      }
      std::printf(
          "backed up %llu objects (%llu blob files: %llu hard-linked, %s copied) to %s "
          "in %.1f s\n",
          static_cast<unsigned long long>(report->objects),
          static_cast<unsigned long long>(report->blob_files),
          static_cast<unsigned long long>(report->linked), Bytes(report->bytes_copied).c_str(),
          options->destination.c_str(), report->seconds);
      if (report->refreshed > 0) {
        std::printf(
            "%llu objects replaced during the backup are in it as they were a moment "
            "after its snapshot\n",
            static_cast<unsigned long long>(report->refreshed));
      }
      if (report->dropped > 0) {
        std::printf(
            "%llu objects deleted (or rewritten without pause) during the backup are not "
            "in it\n",
            static_cast<unsigned long long>(report->dropped));
      }
    });
  }
  {
    auto options = std::make_shared<store::RestoreOptions>();
    CLI::App* cmd = app.add_subcommand(
        "restore", "Make a data directory from a backup (then start serve on it)");
    cmd->add_option("--from", options->backup_dir, "the backup's directory")->required();
    cmd->add_option("--data", options->data_dir,
                    "the data directory to create (must not exist, or be empty)")
        ->required();
    cmd->add_flag("--copy", options->copy, "copy every body, even where a hard link would do");
    cmd->callback([options, &exit_code] {
      auto report = store::Restore(*options);
      if (!report) {
        std::fprintf(stderr, "logbucket restore: %s\n", report.error().message().c_str());
        exit_code = 1;
        return;
      }
      std::printf(
          "restored %llu objects (%llu blob files: %llu hard-linked, %s copied) into %s "
          "in %.1f s; start `logbucket serve --data %s` (as the user that will own it)\n",
          static_cast<unsigned long long>(report->objects),
          static_cast<unsigned long long>(report->blob_files),
          static_cast<unsigned long long>(report->linked), Bytes(report->bytes_copied).c_str(),
          options->data_dir.c_str(), report->seconds, options->data_dir.c_str());
    });
  }
}

}  // namespace logbucket::app
