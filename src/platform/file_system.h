// The data directory's file operations behind one small interface (LevelDB's Env, reduced to
// what the durable write protocol uses), so that a test can stand in for the disk: the fault-
// injecting implementation (fault_file_system.h) fails any call with EIO or ENOSPC, or "crashes"
// after any call and then drops what was never made durable (file contents past the last fsync,
// directory entries whose directory was not fsynced since). kill -9 keeps the page cache, so it
// cannot tell a missing fsync from a present one; this can. Errors are Status values naming the
// operation (platform::PosixError), mapped once, here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "platform/file_util.h"

namespace logbucket::platform {

// A new file being written from its start. Contents are durable only after Sync().
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Appends `length` bytes of `in_fd` from `in_offset` (copy_file_range where it can).
  virtual Status AppendFrom(int in_fd, uint64_t in_offset, uint64_t length) = 0;
  virtual Status Sync() = 0;
  virtual const std::string& path() const = 0;
};

// A file with no name, for scratch data read back through fd() (a decompressed .gz log): it is
// gone when its last descriptor closes, however the process ends, and is never made durable.
class ScratchFile : public WritableFile {
 public:
  virtual int fd() const = 0;  // open for reading and writing, owned by the file
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The real one (process-wide, stateless).
  static FileSystem& Posix();

  // Creates `path` (which must not exist) for writing.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                int mode) = 0;
  // A scratch file in `dir` (O_TMPFILE; create-and-unlink where the file system lacks it).
  virtual Result<std::unique_ptr<ScratchFile>> NewScratchFile(const std::string& dir) = 0;
  // An open descriptor for reading (kNotFound when it does not exist).
  virtual Result<ScopedFd> OpenForRead(const std::string& path) = 0;
  // Atomic replace; durable once the target's directory is synced.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Makes the directory's entries (creates, renames into it, removals) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Creates the directory and missing parents; a new directory's entry is durable once its
  // parent is synced.
  virtual Status MakeDirs(const std::string& path, int mode) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
};

}  // namespace logbucket::platform
