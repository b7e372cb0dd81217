#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "common/encoding.h"
#include "common/guard.h"
#include "common/log.h"
#include "store/local/impl.h"

namespace logbucket::store {

Status LocalStore::Impl::OpenUsersMarker() {
  users_marker_fd = ScopedFd(::open(UsersMarker().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!users_marker_fd.valid()) return platform::PosixError("open", UsersMarker(), errno);
  struct stat st {};
  if (::fstat(users_marker_fd.get(), &st) != 0) {
    return platform::PosixError("fstat", UsersMarker(), errno);
  }
  if (st.st_size < static_cast<off_t>(sizeof(uint64_t)) &&
      ::ftruncate(users_marker_fd.get(), sizeof(uint64_t)) != 0) {
    return platform::PosixError("ftruncate", UsersMarker(), errno);
  }
  void* map = ::mmap(nullptr, sizeof(uint64_t), PROT_READ, MAP_SHARED, users_marker_fd.get(), 0);
  if (map == MAP_FAILED) return platform::PosixError("mmap", UsersMarker(), errno);
  users_counter = static_cast<const uint64_t*>(map);
  return Status::Ok();
}

void LocalStore::Impl::MarkUsersChanged() {
  int fd = users_marker_fd.get();
  ::flock(fd, LOCK_EX);  // two admin commands at once must not lose an increment
  uint64_t value = __atomic_load_n(users_counter, __ATOMIC_ACQUIRE) + 1;
  if (::pwrite(fd, &value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
    Log().error("cannot update {}: {}", UsersMarker(), std::strerror(errno));
  }
  ::flock(fd, LOCK_UN);
}

// ------------------------------------------------------------------------------- users

namespace {

std::string NewAccessKey() {
  // 20 characters from A-Z0-9, like AWS access key ids, prefixed LB for recognisability.
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string random = RandomBytes(18);
  std::string out = "LB";
  for (unsigned char c : random) out.push_back(kAlphabet[c % 32]);
  return out;
}

std::string NewSecretKey() {
  std::string b64 = Base64Encode(RandomBytes(30));  // 40 characters, like AWS secrets
  for (char& c : b64) {
    if (c == '/') c = '_';
  }
  return b64;
}

Status ValidateUserName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Error(ErrorCode::kInvalidArgument, "user name must be 1 to 64 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@' || c == '+' || c == '=';
    if (!ok) {
      return Error(ErrorCode::kInvalidArgument,
                   "user name may contain only letters, digits and - _ . @ + =");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<User> LocalStore::AddUser(const std::string& name, bool admin) {
  LB_RETURN_IF_ERROR(ValidateUserName(name));
  User user{name, NewAccessKey(), NewSecretKey(), admin, impl_->options.clock->NowMs()};
  Status s = impl_->RunWrite([&](Db& db, Effects&) -> Status {
    Stmt exists = db.Prepare("SELECT 1 FROM users WHERE name = ?");
    exists.Text(1, name);
    auto row = exists.Step();
    if (!row) return row.error();
    if (*row) return Error(ErrorCode::kInvalidArgument, "user '" + name + "' already exists");
    Stmt put = db.Prepare(
        "INSERT INTO users(access_key, name, secret, admin, created_ms) VALUES(?, ?, ?, ?, ?)");
    put.Text(1, user.access_key).Text(2, user.name).Text(3, user.secret_key);
    put.Int(4, user.admin ? 1 : 0).Int(5, user.created_ms);
    return put.Run();
  });
  if (!s.ok()) return s;
  impl_->MarkUsersChanged();
  return user;
}

Result<User> LocalStore::RotateUser(const std::string& name) {
  User user;
  Status s = impl_->RunWrite([&](Db& db, Effects&) -> Status {
    Stmt get = db.Prepare("SELECT admin, created_ms FROM users WHERE name = ?");
    get.Text(1, name);
    auto row = get.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kInvalidArgument, "no user named '" + name + "'");
    user = {name, NewAccessKey(), NewSecretKey(), get.ColInt(0) != 0, get.ColInt(1)};
    Stmt upd = db.Prepare("UPDATE users SET access_key = ?, secret = ? WHERE name = ?");
    upd.Text(1, user.access_key).Text(2, user.secret_key).Text(3, name);
    return upd.Run();
  });
  if (!s.ok()) return s;
  impl_->MarkUsersChanged();
  return user;
}

Status LocalStore::RemoveUser(const std::string& name) {
  Status s = impl_->RunWrite([&](Db& db, Effects&) -> Status {
    Stmt del = db.Prepare("DELETE FROM users WHERE name = ?");
    del.Text(1, name);
    LB_RETURN_IF_ERROR(del.Run());
    if (del.Changes() == 0) {
      return Error(ErrorCode::kInvalidArgument, "no user named '" + name + "'");
    }
    return Status::Ok();
  });
  if (s.ok()) impl_->MarkUsersChanged();
  return s;
}

Result<std::vector<User>> LocalStore::ListUsers() {
  return impl_->WithReader([](Db& db) -> Result<std::vector<User>> {
    Stmt s =
        db.Prepare("SELECT name, access_key, secret, admin, created_ms FROM users ORDER BY name");
    std::vector<User> out;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3) != 0, s.ColInt(4)});
    }
    return out;
  });
}

std::optional<User> LocalStore::FindByAccessKey(const std::string& access_key) {
  std::optional<Impl::UsersStamp> stamp = impl_->ReadUsersStamp();
  uint64_t generation = 0;
  if (stamp) {
    {
      std::shared_lock lock(impl_->users_mu);
      if (impl_->users_stamp == *stamp) {
        auto it = impl_->users_by_key.find(access_key);
        if (it != impl_->users_by_key.end()) return it->second;
        generation = impl_->users_generation;
      }
    }
    std::unique_lock lock(impl_->users_mu);
    if (!(impl_->users_stamp == *stamp)) {  // users changed since the cache was filled
      impl_->users_by_key.clear();
      impl_->users_stamp = *stamp;
      ++impl_->users_generation;
    }
    generation = impl_->users_generation;
  }
  auto found = impl_->WithReader([&](Db& db) -> Result<User> {
    Stmt s = db.Prepare(
        "SELECT name, access_key, secret, admin, created_ms FROM users WHERE access_key = ?");
    s.Text(1, access_key);
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kInvalidAccessKeyId);
    return User{s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3) != 0, s.ColInt(4)};
  });
  if (!found) return std::nullopt;
  if (stamp) {
    // Cache only if no change was seen meanwhile: the row may predate it. The marker is read
    // again, so a change committed during our read is noticed.
    auto now = impl_->ReadUsersStamp();
    std::unique_lock lock(impl_->users_mu);
    if (now && *now == *stamp && impl_->users_stamp == *stamp &&
        impl_->users_generation == generation && impl_->users_by_key.size() < 10000) {
      impl_->users_by_key[access_key] = *found;
    }
  }
  return std::move(*found);
}

}  // namespace logbucket::store
