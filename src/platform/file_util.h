// The OS seam for files: durable writes (temp → fsync → rename → fsync directory), scoped file
// descriptors, directory helpers. OS errors become Status here and nowhere else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace logbucket::platform {

// Owns a file descriptor; closes it on destruction.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.Release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// errno → Status, naming the operation and path (never a secret).
Status PosixError(std::string_view operation, std::string_view path, int error_number);

Status MakeDirs(const std::string& path, int mode = 0755);
Status FsyncPath(const std::string& path);  // fsync a file or directory by path
Status WriteAll(int fd, std::string_view data, std::string_view path_for_errors);
Result<uint64_t> FileSize(int fd);
// Writes data to path durably and atomically (readers see the old or the new file).
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0644);
Result<std::string> ReadFile(const std::string& path, size_t max_bytes);
// Entries of a directory (names only, no "." or "..").
Result<std::vector<std::string>> ListDir(const std::string& path);
Status RemoveTree(const std::string& path);
// Copies length bytes from in at in_offset to the end of out (copy_file_range, falling back to
// read/write).
Status CopyRange(int in_fd, uint64_t in_offset, uint64_t length, int out_fd);

}  // namespace logbucket::platform
