#include "platform/service_manager.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/encoding.h"
#include "platform/file_util.h"

namespace logbucket::platform {

ServiceManager ServiceManager::FromEnvironment() {
  ServiceManager m;
  if (const char* path = std::getenv("NOTIFY_SOCKET");
      path != nullptr && (path[0] == '/' || path[0] == '@') && path[1] != '\0' &&
      std::strlen(path) < sizeof(sockaddr_un::sun_path)) {
    m.socket_path_ = path;
  }
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec != nullptr) {
    auto value = ParseDecimal(usec);
    bool ours = pid == nullptr || ParseDecimal(pid).value_or(-1) == ::getpid();
    if (value && *value > 0 && ours) m.watchdog_usec_ = static_cast<uint64_t>(*value);
  }
  return m;
}

bool ServiceManager::Notify(std::string_view state) const {
  if (socket_path_.empty()) return false;
  ScopedFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';  // the abstract namespace
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  return ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&address),
                  length) == static_cast<ssize_t>(state.size());
}

}  // namespace logbucket::platform
