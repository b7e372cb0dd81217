// A FileSystem for crash and fault tests (LevelDB's FaultInjectionTestEnv, for our protocol):
// real files in a real directory, plus a record of what is durable. Every mutating call is
// counted; a test can make the n-th fail with EIO or ENOSPC, or "crash" the machine after the
// n-th (every later call fails with EIO, as nothing more reaches the disk), and then drop what
// a power cut would lose:
//   - a file's bytes past its last Sync();
//   - a file or directory whose entry in its directory was created (or renamed there) after
//     that directory's last SyncDir() — with everything inside it.
// Removals are taken as durable at once (the pessimistic choice for our protocol: a blob
// unlinked too early stays gone). SQLite's files do not pass through here; SQLite makes its
// own writes durable and is trusted to.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "platform/file_system.h"

namespace logbucket::platform {

class FaultFileSystem final : public FileSystem {
 public:
  explicit FaultFileSystem(FileSystem& base = FileSystem::Posix()) : base_(base) {}

  // Mutating calls made so far (NewWritableFile, Append, AppendFrom, Sync, Rename, Remove,
  // SyncDir, MakeDirs).
  uint64_t calls() const;
  // The n-th mutating call from now (1 = the next) fails with `error_number`; once.
  void FailCall(uint64_t n, int error_number);
  // Calls after the n-th from now fail with EIO: the machine stopped there.
  void CrashAfter(uint64_t n);
  // Cancels a pending FailCall.
  void ClearFaults();
  bool crashed() const;
  // A test of the test: Sync() and SyncDir() succeed but make nothing durable, as if the code
  // had forgotten them. The crash tests must then find lost data.
  void set_syncs_do_nothing(bool value);
  // What is left after a power cut (call once nothing uses the files any more): unsynced
  // entries removed, files cut back to their synced size. Then the record starts afresh.
  Status DropUnsyncedData();

  // FileSystem. Scratch files count their creation and appends as mutating calls (they can fail
  // or stop at a crash) but have nothing durable to drop.
  Result<std::unique_ptr<ScratchFile>> NewScratchFile(const std::string& dir) override;
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, int mode) override;
  Result<ScopedFd> OpenForRead(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Status MakeDirs(const std::string& path, int mode) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  bool IsDirectory(const std::string& path) override;

  struct FileState {
    std::string path;  // where it is now (renames move it)
    uint64_t synced_bytes = 0;
  };

 private:
  friend class FaultWritableFile;
  friend class FaultScratchFile;
  // Counts a call; an error when it is the one to fail or the machine has crashed.
  Status Enter(std::string_view operation, const std::string& path);
  void RecordSync(FileState& state);
  void AddEntry(const std::string& path);  // under mu_

  FileSystem& base_;
  mutable std::mutex mu_;
  uint64_t calls_ = 0;
  std::optional<uint64_t> fail_at_;
  int fail_errno_ = 0;
  std::optional<uint64_t> crash_after_;
  bool syncs_do_nothing_ = false;
  std::map<std::string, std::shared_ptr<FileState>> files_;        // written through here, by path
  std::map<std::string, std::set<std::string>> unsynced_entries_;  // directory → names
};

}  // namespace logbucket::platform
