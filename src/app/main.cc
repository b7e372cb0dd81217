// logbucket: an S3-compatible build-log archive in one binary. Subcommands in the git style.
#include <cstdio>
#include <string>
#include <vector>

#include "app/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "logbucket: an S3-compatible build-log archive (embedded S3 store, log viewer, "
      "CI tools)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "logbucket " LOGBUCKET_VERSION);
  int exit_code = 0;
  logbucket::app::RegisterServe(app, exit_code);
  logbucket::app::RegisterUser(app, exit_code);
  logbucket::app::RegisterBench(app, exit_code);
  logbucket::app::RegisterAdmin(app, exit_code);
  logbucket::app::RegisterLogs(app, exit_code);
  logbucket::app::RegisterPush(app, exit_code);
  logbucket::app::RegisterData(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, as the commands' own checks do.
    // CLI11 checks required options before it complains about unknown ones, so a mistyped
    // command or flag would be reported as "A subcommand is required" or "--pr is required":
    // name the argument it did not understand instead.
    if (e.get_exit_code() != 0) {
      std::vector<std::string> unknown = app.remaining(true);
      if (!unknown.empty()) {
        std::fprintf(stderr,
                     "logbucket: unknown argument '%s'\nRun with --help for the commands and their "
                     "options.\n",
                     unknown.front().c_str());
        return 2;
      }
    }
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}
