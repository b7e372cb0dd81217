#include "platform/fault_file_system.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace logbucket::platform {
namespace {

std::pair<std::string, std::string> SplitPath(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {path.substr(0, slash == 0 ? 1 : slash), path.substr(slash + 1)};
}

}  // namespace

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultFileSystem& fs, std::unique_ptr<WritableFile> base,
                    std::shared_ptr<FaultFileSystem::FileState> state)
      : fs_(fs), base_(std::move(base)), state_(std::move(state)) {}
  Status Append(std::string_view data) override {
    LB_RETURN_IF_ERROR(fs_.Enter("write", path()));
    return base_->Append(data);
  }
  Status AppendFrom(int in_fd, uint64_t in_offset, uint64_t length) override {
    LB_RETURN_IF_ERROR(fs_.Enter("copy_file_range", path()));
    return base_->AppendFrom(in_fd, in_offset, length);
  }
  Status Sync() override {
    LB_RETURN_IF_ERROR(fs_.Enter("fsync", path()));
    LB_RETURN_IF_ERROR(base_->Sync());
    fs_.RecordSync(*state_);
    return Status::Ok();
  }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultFileSystem& fs_;
  std::unique_ptr<WritableFile> base_;
  std::shared_ptr<FaultFileSystem::FileState> state_;
};

class FaultScratchFile final : public ScratchFile {
 public:
  FaultScratchFile(FaultFileSystem& fs, std::unique_ptr<ScratchFile> base)
      : fs_(fs), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    LB_RETURN_IF_ERROR(fs_.Enter("write", path()));
    return base_->Append(data);
  }
  Status AppendFrom(int in_fd, uint64_t in_offset, uint64_t length) override {
    LB_RETURN_IF_ERROR(fs_.Enter("copy_file_range", path()));
    return base_->AppendFrom(in_fd, in_offset, length);
  }
  Status Sync() override { return base_->Sync(); }
  const std::string& path() const override { return base_->path(); }
  int fd() const override { return base_->fd(); }

 private:
  FaultFileSystem& fs_;
  std::unique_ptr<ScratchFile> base_;
};

Result<std::unique_ptr<ScratchFile>> FaultFileSystem::NewScratchFile(const std::string& dir) {
  LB_RETURN_IF_ERROR(Enter("create", dir + "/(scratch file)"));
  auto file = base_.NewScratchFile(dir);
  if (!file) return file.error();
  return std::unique_ptr<ScratchFile>(std::make_unique<FaultScratchFile>(*this, std::move(*file)));
}

uint64_t FaultFileSystem::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

void FaultFileSystem::FailCall(uint64_t n, int error_number) {
  std::lock_guard lock(mu_);
  fail_at_ = calls_ + n;
  fail_errno_ = error_number;
}

void FaultFileSystem::CrashAfter(uint64_t n) {
  std::lock_guard lock(mu_);
  crash_after_ = calls_ + n;
}

void FaultFileSystem::ClearFaults() {
  std::lock_guard lock(mu_);
  fail_at_.reset();
}

bool FaultFileSystem::crashed() const {
  std::lock_guard lock(mu_);
  return crash_after_ && calls_ > *crash_after_;
}

void FaultFileSystem::set_syncs_do_nothing(bool value) {
  std::lock_guard lock(mu_);
  syncs_do_nothing_ = value;
}

Status FaultFileSystem::Enter(std::string_view operation, const std::string& path) {
  std::lock_guard lock(mu_);
  ++calls_;
  if (crash_after_ && calls_ > *crash_after_) return PosixError(operation, path, EIO);
  if (fail_at_ && calls_ == *fail_at_) {
    fail_at_.reset();
    return PosixError(operation, path, fail_errno_);
  }
  return Status::Ok();
}

void FaultFileSystem::RecordSync(FileState& state) {
  std::lock_guard lock(mu_);
  if (syncs_do_nothing_) return;
  struct stat st {};
  if (::stat(state.path.c_str(), &st) == 0) state.synced_bytes = static_cast<uint64_t>(st.st_size);
}

void FaultFileSystem::AddEntry(const std::string& path) {
  auto [dir, name] = SplitPath(path);
  unsynced_entries_[dir].insert(name);
}

Result<std::unique_ptr<WritableFile>> FaultFileSystem::NewWritableFile(const std::string& path,
                                                                       int mode) {
  LB_RETURN_IF_ERROR(Enter("create", path));
  auto file = base_.NewWritableFile(path, mode);
  if (!file) return file.error();
  auto state = std::make_shared<FileState>();
  state->path = path;
  {
    std::lock_guard lock(mu_);
    files_[path] = state;
    AddEntry(path);
  }
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultWritableFile>(*this, std::move(*file), std::move(state)));
}

Result<ScopedFd> FaultFileSystem::OpenForRead(const std::string& path) {
  return base_.OpenForRead(path);
}

Status FaultFileSystem::Rename(const std::string& from, const std::string& to) {
  LB_RETURN_IF_ERROR(Enter("rename", to));
  LB_RETURN_IF_ERROR(base_.Rename(from, to));
  std::lock_guard lock(mu_);
  auto it = files_.find(from);
  if (it != files_.end()) {
    auto state = it->second;
    files_.erase(it);
    state->path = to;
    files_[to] = state;
  }
  AddEntry(to);
  return Status::Ok();
}

Status FaultFileSystem::Remove(const std::string& path) {
  LB_RETURN_IF_ERROR(Enter("unlink", path));
  LB_RETURN_IF_ERROR(base_.Remove(path));
  std::lock_guard lock(mu_);
  files_.erase(path);
  auto [dir, name] = SplitPath(path);
  auto it = unsynced_entries_.find(dir);
  if (it != unsynced_entries_.end()) it->second.erase(name);
  return Status::Ok();
}

Status FaultFileSystem::SyncDir(const std::string& path) {
  LB_RETURN_IF_ERROR(Enter("fsync", path));
  LB_RETURN_IF_ERROR(base_.SyncDir(path));
  std::lock_guard lock(mu_);
  if (!syncs_do_nothing_) unsynced_entries_.erase(path);
  return Status::Ok();
}

Status FaultFileSystem::MakeDirs(const std::string& path, int mode) {
  LB_RETURN_IF_ERROR(Enter("mkdir", path));
  // The directories this call creates, outermost first: each is a new entry in its parent.
  std::vector<std::string> created;
  for (std::string p = path; !p.empty() && p != "/" && p != "." && !base_.IsDirectory(p);
       p = SplitPath(p).first) {
    created.insert(created.begin(), p);
  }
  LB_RETURN_IF_ERROR(base_.MakeDirs(path, mode));
  std::lock_guard lock(mu_);
  for (const std::string& p : created) AddEntry(p);
  return Status::Ok();
}

Result<std::vector<std::string>> FaultFileSystem::ListDir(const std::string& path) {
  return base_.ListDir(path);
}

bool FaultFileSystem::IsDirectory(const std::string& path) { return base_.IsDirectory(path); }

Status FaultFileSystem::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  std::error_code ec;
  for (const auto& [dir, names] : unsynced_entries_) {
    for (const std::string& name : names) std::filesystem::remove_all(dir + "/" + name, ec);
  }
  for (const auto& [path, state] : files_) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > state->synced_bytes) {
      if (::truncate(path.c_str(), static_cast<off_t>(state->synced_bytes)) != 0) {
        return PosixError("truncate", path, errno);
      }
    }
  }
  files_.clear();
  unsynced_entries_.clear();
  calls_ = 0;
  fail_at_.reset();
  crash_after_.reset();
  return Status::Ok();
}

}  // namespace logbucket::platform
