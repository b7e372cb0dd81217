// The subcommands of the logbucket binary, each registered on a CLI11 app by its own file.
#pragma once

#include <CLI/CLI.hpp>

namespace logbucket::app {

// Each returns the process exit code through the callback it installs.
void RegisterServe(CLI::App& app, int& exit_code);
void RegisterUser(CLI::App& app, int& exit_code);
void RegisterBench(CLI::App& app, int& exit_code);
// bucket, policy, lifecycle, verify: admin over the S3 API (admin_cmd.cc).
void RegisterAdmin(CLI::App& app, int& exit_code);
// errors: the log engine on a local file (logs_cmd.cc).
void RegisterLogs(CLI::App& app, int& exit_code);
// `logbucket push` (app/push_cmd.cc).
void RegisterPush(CLI::App& app, int& exit_code);
// fsck, backup, restore: the embedded store's data directory (app/data_cmd.cc).
void RegisterData(CLI::App& app, int& exit_code);

}  // namespace logbucket::app
