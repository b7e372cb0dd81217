// `logbucket user add|list|remove|rotate`: access keys of the embedded store, operating on the
// data directory (safe while the server runs: SQLite WAL, no recovery pass).
#include <cstdio>

#include "app/commands.h"
#include "store/local/local_store.h"

namespace logbucket::app {
namespace {

struct UserFlags {
  std::string data_dir = "./data";
  std::string name;
  bool admin = false;
};

Result<std::unique_ptr<store::LocalStore>> Open(const UserFlags& f) {
  store::LocalStoreOptions options;
  options.data_dir = f.data_dir;
  options.recover = false;
  return store::OpenLocalStore(options);
}

void PrintKeys(const store::User& u) {
  std::printf("AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", u.access_key.c_str(),
              u.secret_key.c_str());
}

int Fail(const char* what, const Status& s) {
  std::fprintf(stderr, "logbucket user %s: %s\n", what, s.message().c_str());
  return 1;
}

}  // namespace

void RegisterUser(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<UserFlags>();
  CLI::App* cmd = app.add_subcommand("user", "Manage access keys of the embedded store");
  cmd->require_subcommand(1);
  cmd->add_option("--data", flags->data_dir, "data directory (default ./data)");

  CLI::App* add = cmd->add_subcommand("add", "Create a user; prints its keys as KEY=value");
  add->add_option("name", flags->name, "user name")->required();
  add->add_flag("--admin", flags->admin, "may act on every bucket");
  add->add_option("--data", flags->data_dir, "data directory (default ./data)");
  add->callback([flags, &exit_code] {
    auto s = Open(*flags);
    if (!s) return void(exit_code = Fail("add", s.error()));
    auto u = (*s)->AddUser(flags->name, flags->admin);
    if (!u) return void(exit_code = Fail("add", u.error()));
    PrintKeys(*u);
  });

  CLI::App* rotate = cmd->add_subcommand("rotate", "Replace a user's keys; prints the new ones");
  rotate->add_option("name", flags->name, "user name")->required();
  rotate->add_option("--data", flags->data_dir, "data directory (default ./data)");
  rotate->callback([flags, &exit_code] {
    auto s = Open(*flags);
    if (!s) return void(exit_code = Fail("rotate", s.error()));
    auto u = (*s)->RotateUser(flags->name);
    if (!u) return void(exit_code = Fail("rotate", u.error()));
    PrintKeys(*u);
  });

  CLI::App* remove = cmd->add_subcommand("remove", "Delete a user and its keys");
  remove->add_option("name", flags->name, "user name")->required();
  remove->add_option("--data", flags->data_dir, "data directory (default ./data)");
  remove->callback([flags, &exit_code] {
    auto s = Open(*flags);
    if (!s) return void(exit_code = Fail("remove", s.error()));
    Status r = (*s)->RemoveUser(flags->name);
    if (!r.ok()) return void(exit_code = Fail("remove", r));
  });

  CLI::App* list = cmd->add_subcommand("list", "List users (never prints secrets)");
  list->add_option("--data", flags->data_dir, "data directory (default ./data)");
  list->callback([flags, &exit_code] {
    auto s = Open(*flags);
    if (!s) return void(exit_code = Fail("list", s.error()));
    auto users = (*s)->ListUsers();
    if (!users) return void(exit_code = Fail("list", users.error()));
    std::printf("%-24s %-22s %s\n", "NAME", "ACCESS KEY", "ROLE");
    for (const store::User& u : *users) {
      std::printf("%-24s %-22s %s\n", u.name.c_str(), u.access_key.c_str(),
                  u.admin ? "admin" : "user");
    }
  });
}

}  // namespace logbucket::app
