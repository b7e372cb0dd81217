#include "platform/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/encoding.h"
#include "common/hash.h"

namespace logbucket::platform {

void ScopedFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status PosixError(std::string_view operation, std::string_view path, int error_number) {
  std::string message(operation);
  message += " ";
  message += path;
  message += ": ";
  message += std::strerror(error_number);
  ErrorCode code = ErrorCode::kInternalError;
  if (error_number == ENOSPC || error_number == EDQUOT) code = ErrorCode::kStorageFull;
  return Error(code, message);
}

Status MakeDirs(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return PosixError("mkdir", path, ec.value());
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
  return Status::Ok();
}

Status FsyncPath(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open", path, errno);
  if (::fsync(fd.get()) != 0) return PosixError("fsync", path, errno);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view data, std::string_view path_for_errors) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", path_for_errors, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<uint64_t> FileSize(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return PosixError("fstat", "fd", errno);
  return static_cast<uint64_t>(st.st_size);
}

Status WriteFileAtomic(const std::string& path, std::string_view data, int mode) {
  std::filesystem::path target(path);
  std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  std::string temp = path + ".tmp-" + HexEncode(RandomBytes(6));
  ScopedFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return PosixError("create", temp, errno);
  Status s = WriteAll(fd.get(), data, temp);
  if (s.ok() && ::fsync(fd.get()) != 0) s = PosixError("fsync", temp, errno);
  fd.Reset();
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) s = PosixError("rename", path, errno);
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return s;
  }
  return FsyncPath(dir);
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open", path, errno);
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return Error(ErrorCode::kInvalidArgument,
                   path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return PosixError("opendir", path, errno);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return PosixError("remove", path, ec.value());
  return Status::Ok();
}

Status CopyRange(int in_fd, uint64_t in_offset, uint64_t length, int out_fd) {
  auto offset = static_cast<off_t>(in_offset);
  while (length > 0) {
    ssize_t n = ::copy_file_range(in_fd, &offset, out_fd, nullptr, length, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      // Fallback: plain pread/write.
      char buf[1 << 16];
      while (length > 0) {
        ssize_t r = ::pread(in_fd, buf, std::min<uint64_t>(sizeof buf, length), offset);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return PosixError("pread", "blob", r < 0 ? errno : EIO);
        LB_RETURN_IF_ERROR(WriteAll(out_fd, std::string_view(buf, static_cast<size_t>(r)), "blob"));
        offset += r;
        length -= static_cast<uint64_t>(r);
      }
      return Status::Ok();
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("copy_file_range", "blob", errno);
    }
    if (n == 0) return PosixError("copy_file_range", "blob (short source)", EIO);
    length -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace logbucket::platform
