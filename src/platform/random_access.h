// Bytes that can be read at any offset, from several threads at once: an object's body, a log
// being viewed, a decompressed copy. One interface for all of them (LevelDB's RandomAccessFile),
// with one file-backed implementation (pread, retried on EINTR, errors naming what failed) and
// one in memory; the remote store adds a ranged-GET one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "platform/file_util.h"

namespace logbucket::platform {

class RandomAccessBytes {
 public:
  virtual ~RandomAccessBytes() = default;
  virtual uint64_t size() const = 0;
  // Up to `length` bytes from `offset`; 0 only at or past the end.
  virtual Result<size_t> ReadAt(uint64_t offset, char* buffer, size_t length) = 0;
  // A descriptor of a file holding exactly these bytes (sendfile, mapped scans), or -1.
  virtual int fd() const { return -1; }
  // The same descriptor, kept open while anyone holds it (a response being sent); null when not
  // file-backed.
  virtual std::shared_ptr<const ScopedFd> SharedFd() const { return nullptr; }
};

// A file's bytes [0, size). `what` names it in errors ("blob", "cached object"): never a path a
// client could be shown.
class FileBytes final : public RandomAccessBytes {
 public:
  FileBytes(std::shared_ptr<const ScopedFd> fd, uint64_t size, std::string what)
      : fd_(std::move(fd)), size_(size), what_(std::move(what)) {}
  uint64_t size() const override { return size_; }
  Result<size_t> ReadAt(uint64_t offset, char* buffer, size_t length) override;
  int fd() const override { return fd_->get(); }
  std::shared_ptr<const ScopedFd> SharedFd() const override { return fd_; }

 private:
  std::shared_ptr<const ScopedFd> fd_;
  uint64_t size_;
  std::string what_;
};

// Bytes held in memory, shared (never modified).
class MemoryBytes final : public RandomAccessBytes {
 public:
  explicit MemoryBytes(std::shared_ptr<const std::string> data) : data_(std::move(data)) {}
  uint64_t size() const override { return data_->size(); }
  Result<size_t> ReadAt(uint64_t offset, char* buffer, size_t length) override;

 private:
  std::shared_ptr<const std::string> data_;
};

}  // namespace logbucket::platform
