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

Status LocalStore::Impl::RunWrite(std::function<Status(Db&, Effects&)> apply,
                                  std::vector<std::string> dirs) {
  auto op = std::make_unique<WriteOp>();
  op->apply = std::move(apply);
  op->dirs_to_sync = std::move(dirs);
  std::future<Status> done = op->done.get_future();
  {
    std::lock_guard lock(queue_mu);
    if (stopping) return Error(ErrorCode::kServiceUnavailable, "store is shutting down");
    queue.push_back(std::move(op));
  }
  // notify_all, not notify_one: glibc 2.36 (Debian 12) can lose a pthread_cond_signal
  // wake-up (sourceware bug 25847); seen here as 64 writers stalled with a sleeping committer.
  queue_cv.notify_all();
  return done.get();
}

void LocalStore::Impl::CommitLoop() {
  while (true) {
    std::vector<std::unique_ptr<WriteOp>> batch;
    {
      std::unique_lock lock(queue_mu);
      // Bounded wait as a second line of defence against a lost wake-up: at worst a write
      // waits a second, it never stalls for good.
      while (!queue_cv.wait_for(lock, std::chrono::seconds(1),
                                [this] { return stopping || !queue.empty(); })) {
      }
      if (queue.empty() && stopping) return;
      while (!queue.empty() && batch.size() < kMaxGroupCommit) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    try {
      CommitBatch(batch);
    } catch (...) {
      // Whatever threw (an allocation, an operation's code), the writers waiting on this batch
      // get an error instead of waiting for ever, and the thread goes on with the next batch.
      ReportEscapedException(ThreadEntry::kCommitter, "a commit", std::current_exception());
      if (writer->InTransaction()) (void)writer->Exec("ROLLBACK");
      for (auto& op : batch) {
        op->Answer(Error(ErrorCode::kInternalError, "the commit failed unexpectedly"));
      }
    }
  }
}

void LocalStore::Impl::CommitBatch(std::vector<std::unique_ptr<WriteOp>>& batch) {
  // 1. Make the renames into blobs/ durable before any row points at them.
  std::set<std::string> dirs;
  for (auto& op : batch) dirs.insert(op->dirs_to_sync.begin(), op->dirs_to_sync.end());
  Status dir_status;
  for (const std::string& d : dirs) {
    Status s = fs->SyncDir(d);
    if (!s.ok()) dir_status = s;
  }
  if (!dir_status.ok()) {
    for (auto& op : batch) op->Answer(dir_status);
    return;
  }
  // 2. One transaction; each op in its own savepoint so one failure does not sink the rest.
  // A transaction that finds the disk full gives up the reserve file and runs once more: a
  // delete or an expiry must be able to commit on a full disk, since it is what frees space.
  std::vector<Status> results(batch.size());
  std::vector<Effects> effects(batch.size());
  for (int attempt = 0;; ++attempt) {
    auto may_retry = [&](const Status& s) {
      return attempt == 0 && s.code() == ErrorCode::kStorageFull && disk.ReleaseReserve();
    };
    Status begin = writer->Exec("BEGIN IMMEDIATE");
    if (!begin.ok()) {
      if (may_retry(begin)) continue;
      for (auto& op : batch) op->Answer(begin);
      return;
    }
    bool full = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      (void)writer->Exec("SAVEPOINT op");
      effects[i] = Effects();
      results[i] = batch[i]->apply(*writer, effects[i]);
      if (!results[i].ok()) {
        full = full || results[i].code() == ErrorCode::kStorageFull;
        (void)writer->Exec("ROLLBACK TO op");
        effects[i] = Effects();
      }
      (void)writer->Exec("RELEASE op");
    }
    if (full && attempt == 0 && disk.ReleaseReserve()) {
      (void)writer->Exec("ROLLBACK");
      continue;
    }
    Status commit = writer->Exec("COMMIT");
    if (!commit.ok()) {
      (void)writer->Exec("ROLLBACK");
      if (may_retry(commit)) continue;
      for (auto& op : batch) op->Answer(commit);
      return;
    }
    break;
  }
  // 3. Stale cache entries, then blobs that no row references any more.
  for (size_t i = 0; i < batch.size(); ++i) {
    cache.Invalidate(effects[i]);
    if (object_listener) {
      for (const auto& [bucket, key] : effects[i].objects) object_listener(bucket, key);
    }
    for (const std::string& id : effects[i].unlink) {
      if (id.empty()) continue;  // an inline body: its row went with the transaction
      open_blobs.Erase(id);
      (void)fs->Remove(BlobPath(id));
    }
    batch[i]->Answer(results[i]);
  }
}

}  // namespace logbucket::store
