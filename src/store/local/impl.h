// The local store's own header, included only by store/local/*.cc.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <shared_mutex>
#include <thread>
#include <unordered_set>

#include "platform/file_system.h"
#include "store/local/blob_writer.h"
#include "store/local/caches.h"
#include "store/local/disk_guard.h"
#include "store/local/local_store.h"
#include "store/local/rows.h"
#include "store/local/schema.h"
#include "store/local/sqlite.h"

namespace logbucket::store {

using platform::ScopedFd;

inline constexpr size_t kMaxGroupCommit = 256;
inline constexpr int kReadConnections = 8;

// A write applied inside the group-commit transaction.
struct WriteOp {
  std::function<Status(Db&, Effects&)> apply;
  std::vector<std::string> dirs_to_sync;
  std::promise<Status> done;
  bool answered = false;  // committer thread only

  void Answer(Status status) {
    if (answered) return;
    answered = true;
    done.set_value(std::move(status));
  }
};

struct LocalStore::Impl {
  LocalStoreOptions options;
  std::string root;
  ScopedFd lock_fd;
  std::mutex pool_mu;
  std::vector<std::unique_ptr<Db>> pool;
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<std::unique_ptr<WriteOp>> queue;
  bool stopping = false;
  std::thread committer;
  std::unique_ptr<Db> writer;
  std::mutex dirs_mu;
  std::unordered_set<std::string> known_dirs;
  MetadataCache cache;
  // Told of each committed change to an object (LocalStore::SetObjectListener).
  std::function<void(const std::string& bucket, const std::string& key)> object_listener;
  OpenBlobCache open_blobs;
  DiskGuard disk;
  platform::FileSystem* fs = &platform::FileSystem::Posix();  // blobs/ and tmp/ (options.fs)
  // Users change from other processes (`logbucket user …`). Every change increments a 64-bit
  // counter stored in users.version, in place and under flock; each process maps that file
  // shared, so a lookup checks the cache against the counter with one memory load (no syscall)
  // and a rotated or removed key fails on the very next request.
  std::shared_mutex users_mu;
  std::unordered_map<std::string, User> users_by_key;
  using UsersStamp = uint64_t;
  UsersStamp users_stamp = ~0ULL;  // counter value users_by_key was filled under
  uint64_t users_generation = 0;   // bumped whenever the cache is dropped
  ScopedFd users_marker_fd;
  const uint64_t* users_counter = nullptr;  // mmap of users.version (shared)
  std::string UsersMarker() const { return root + "/users.version"; }
  Status OpenUsersMarker();
  void MarkUsersChanged();
  std::optional<UsersStamp> ReadUsersStamp() const {
    return __atomic_load_n(users_counter, __ATOMIC_ACQUIRE);
  }
  std::string TempPath(const std::string& id) const { return root + "/tmp/" + id; }
  std::string BlobDir(const std::string& id) const {
    return root + "/blobs/" + id.substr(0, 2) + "/" + id.substr(2, 2);
  }
  std::string BlobPath(const std::string& id) const { return BlobDir(id) + "/" + id; }
  // Borrow a read connection for the duration of fn.
  template <typename Fn>
  auto WithReader(Fn&& fn) -> decltype(fn(std::declval<Db&>())) {
    std::unique_ptr<Db> db;
    {
      std::lock_guard lock(pool_mu);
      if (!pool.empty()) {
        db = std::move(pool.back());
        pool.pop_back();
      }
    }
    if (!db) {
      auto opened = Db::Open(root + "/meta.sqlite");
      if (!opened) return opened.error();
      db = std::move(*opened);
    }
    auto result = fn(*db);
    std::lock_guard lock(pool_mu);
    if (pool.size() < kReadConnections) pool.push_back(std::move(db));
    return result;
  }
  // WithReader inside one read transaction: one snapshot (and one WAL read lock, taken with
  // fcntl) for all the statements fn runs, instead of one per statement. A listing that seeks
  // past 20,000 common prefixes runs 20,000 statements.
  template <typename Fn>
  auto WithReadTransaction(Fn&& fn) -> decltype(fn(std::declval<Db&>())) {
    return WithReader([&](Db& db) -> decltype(fn(std::declval<Db&>())) {
      LB_RETURN_IF_ERROR(db.Exec("BEGIN"));
      auto result = fn(db);
      (void)db.Exec(result ? "COMMIT" : "ROLLBACK");
      return result;
    });
  }
  Status RunWrite(std::function<Status(Db&, Effects&)> apply, std::vector<std::string> dirs = {});
  void CommitLoop();
  void CommitBatch(std::vector<std::unique_ptr<WriteOp>>& batch);
  Result<std::vector<std::string>> PrepareBlobDir(const std::string& id);
  Result<std::vector<std::string>> Seal(LocalBlobWriter& blob);
  Result<std::unique_ptr<LocalBlobWriter>> NewLocalBlob(size_t inline_limit);
  Result<ObjectInfo> LookupObject(const std::string& bucket, const std::string& key, BodyRef& body,
                                  std::shared_ptr<const std::string>* data = nullptr);
  Result<std::shared_ptr<const std::string>> ReadInlineBody(int64_t id);
  static Status DropBody(Db& db, const BodyRef& body, Effects& effects);
  static Result<std::optional<BodyRef>> CurrentBody(Db& db, const std::string& bucket,
                                                    const std::string& key);
  static Status ReplaceObjectRow(Db& db, const ObjectInfo& info, const std::string& id,
                                 Effects& effects, const std::string* inline_data = nullptr);
  static Status MeetsPrecondition(Db& db, const std::string& bucket, const std::string& key,
                                  const Precondition& p);
  static Status BucketMustExist(Db& db, const std::string& bucket);
  Status Recover(RecoveryReport& report);
};

}  // namespace logbucket::store
