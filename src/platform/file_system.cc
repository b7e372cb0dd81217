#include "platform/file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace logbucket::platform {
namespace {

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(ScopedFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Status Append(std::string_view data) override { return WriteAll(fd_.get(), data, path_); }
  Status AppendFrom(int in_fd, uint64_t in_offset, uint64_t length) override {
    return CopyRange(in_fd, in_offset, length, fd_.get());
  }
  Status Sync() override {
    if (::fsync(fd_.get()) != 0) return PosixError("fsync", path_, errno);
    return Status::Ok();
  }
  const std::string& path() const override { return path_; }

 private:
  ScopedFd fd_;
  std::string path_;
};

class PosixScratchFile final : public ScratchFile {
 public:
  PosixScratchFile(ScopedFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  Status Append(std::string_view data) override { return WriteAll(fd_.get(), data, name_); }
  Status AppendFrom(int in_fd, uint64_t in_offset, uint64_t length) override {
    return CopyRange(in_fd, in_offset, length, fd_.get());
  }
  Status Sync() override { return Status::Ok(); }  // scratch: never needs to survive a crash
  const std::string& path() const override { return name_; }
  int fd() const override { return fd_.get(); }

 private:
  ScopedFd fd_;
  std::string name_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<ScratchFile>> NewScratchFile(const std::string& dir) override {
    std::string name = dir + "/(scratch file)";
    ScopedFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd.valid() && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
      std::string pattern = dir + "/scratch-XXXXXX";
      fd = ScopedFd(::mkostemp(pattern.data(), O_CLOEXEC));
      if (fd.valid()) ::unlink(pattern.c_str());
    }
    if (!fd.valid()) return PosixError("create", name, errno);
    return std::unique_ptr<ScratchFile>(
        std::make_unique<PosixScratchFile>(std::move(fd), std::move(name)));
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        int mode) override {
    ScopedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd.valid()) return PosixError("create", path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(std::move(fd), path));
  }
  Result<ScopedFd> OpenForRead(const std::string& path) override {
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) return Error(ErrorCode::kNotFound, path + ": no such file");
      return PosixError("open", path, errno);
    }
    return fd;
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename", to, errno);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return PosixError("unlink", path, errno);
    return Status::Ok();
  }
  Status SyncDir(const std::string& path) override { return FsyncPath(path); }
  Status MakeDirs(const std::string& path, int mode) override {
    return platform::MakeDirs(path, mode);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return platform::ListDir(path);
  }
  bool IsDirectory(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
};

}  // namespace

FileSystem& FileSystem::Posix() {
  static PosixFileSystem fs;
  return fs;
}

}  // namespace logbucket::platform
