#include "platform/random_access.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace logbucket::platform {

Result<size_t> FileBytes::ReadAt(uint64_t offset, char* buffer, size_t length) {
  while (true) {
    ssize_t n = ::pread(fd_->get(), buffer, length, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return PosixError("read", what_, errno);
  }
}

Result<size_t> MemoryBytes::ReadAt(uint64_t offset, char* buffer, size_t length) {
  if (offset >= data_->size()) return size_t{0};
  size_t n = std::min<size_t>(length, data_->size() - static_cast<size_t>(offset));
  std::memcpy(buffer, data_->data() + offset, n);
  return n;
}

}  // namespace logbucket::platform
