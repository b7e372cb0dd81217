// The service manager's notification protocol (sd_notify(3)), spoken directly: one datagram per
// state change to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract
// namespace). Without the variable every call is a no-op, so `serve` behaves the same under
// systemd (Type=notify, WatchdogSec=), another supervisor, or a shell. libsystemd is not
// linked for four lines of protocol.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logbucket::platform {

class ServiceManager {
 public:
  // From $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (the watchdog applies only when its
  // PID is this process's, as sd_watchdog_enabled(3) says).
  static ServiceManager FromEnvironment();

  bool enabled() const { return !socket_path_.empty(); }
  // "READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1", "STATUS=…"; false when not sent.
  bool Notify(std::string_view state) const;
  // The watchdog period systemd expects pings within (0: no watchdog).
  uint64_t watchdog_usec() const { return watchdog_usec_; }

 private:
  std::string socket_path_;
  uint64_t watchdog_usec_ = 0;
};

}  // namespace logbucket::platform
