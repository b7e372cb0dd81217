// Internal to store/local: the free-space floor and the reserve file.
#pragma once

#include <sys/statvfs.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace logbucket::store {

// The free-space floor and the reserve file (docs/formats/data-dir.md, "A full disk"). Uploads
// are refused below the floor, so the store's own writes never fill the disk; when something
// else does, the reserve is given up so that deletes can still commit.
class DiskGuard {
 public:
  void Init(const std::string& root, uint64_t min_free, uint64_t reserve_bytes) {
    root_ = root;
    reserve_path_ = root + "/reserve";
    min_free_ = min_free;
    reserve_bytes_ = reserve_bytes;
    struct stat st {};
    reserve_present_ = reserve_bytes_ > 0 && ::stat(reserve_path_.c_str(), &st) == 0 &&
                       static_cast<uint64_t>(st.st_size) >= reserve_bytes_;
    if (auto free = FreeBytes()) RestoreReserve(*free);
  }

  std::optional<uint64_t> FreeBytes() const {
    struct statvfs st {};
    if (::statvfs(root_.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

  Status Check(uint64_t incoming) {
    if (min_free_ == 0) return Status::Ok();
    auto free = FreeBytes();
    if (!free) return Status::Ok();  // cannot tell: the write itself will find out
    if (*free >= min_free_ && *free - min_free_ >= incoming) {
      RestoreReserve(*free);
      return Status::Ok();
    }
    int64_t now = MonotonicMs();
    int64_t last = last_log_ms_.load(std::memory_order_relaxed);
    if (now - last >= 10000 && last_log_ms_.compare_exchange_strong(last, now)) {
      Log().warn(
          "disk full: refusing uploads, {} MiB free on the data directory's file system, "
          "{} MiB asked for, below s3.min_free_bytes ({} MiB); delete objects or add space",
          *free >> 20, incoming >> 20, min_free_ >> 20);
    }
    return Error(ErrorCode::kStorageFull);
  }

  // Gives the reserve back to the file system; true when there was one to give.
  bool ReleaseReserve() {
    std::lock_guard lock(mu_);
    if (!reserve_present_) return false;
    ::unlink(reserve_path_.c_str());
    reserve_present_ = false;
    Log().error(
        "disk full: a commit could not write; released the {} MiB reserve so that deletes and "
        "expiry can free space (it is taken again once {} MiB are free)",
        reserve_bytes_ >> 20, (min_free_ + reserve_bytes_) >> 20);
    return true;
  }

 private:
  // Takes the reserve again once there is room for it above the floor.
  void RestoreReserve(uint64_t free) {
    if (reserve_bytes_ == 0 || free < min_free_ + reserve_bytes_) return;
    std::lock_guard lock(mu_);
    if (reserve_present_) return;
    std::string temp = reserve_path_ + ".tmp";
    platform::ScopedFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return;
    if (::posix_fallocate(fd.get(), 0, static_cast<off_t>(reserve_bytes_)) != 0 ||
        ::fsync(fd.get()) != 0 || ::rename(temp.c_str(), reserve_path_.c_str()) != 0) {
      ::unlink(temp.c_str());
      return;
    }
    reserve_present_ = true;
  }

  std::string root_;
  std::string reserve_path_;
  uint64_t min_free_ = 0;
  uint64_t reserve_bytes_ = 0;
  std::mutex mu_;
  bool reserve_present_ = false;
  std::atomic<int64_t> last_log_ms_{-1000000};
};

}  // namespace logbucket::store
