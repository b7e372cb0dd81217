#include "app/supervise.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "common/log.h"
#include "platform/file_util.h"
#include "platform/service_manager.h"

namespace logbucket::app {
namespace {

using platform::ScopedFd;

// Waits for `events` on fd until the deadline; false on timeout or error.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && (p.revents & events) != 0;
  }
}

}  // namespace

bool ListenerAnswers(const http::Server& server, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // A wildcard listener is asked on loopback (the same family).
  std::string host = server.host();
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "::1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(server.port()).c_str(), &hints, &found) != 0) {
    return false;
  }
  ScopedFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  bool connected = fd.valid() && (::connect(fd.get(), found->ai_addr, found->ai_addrlen) == 0 ||
                                  errno == EINPROGRESS);
  ::freeaddrinfo(found);
  if (!connected || !WaitFor(fd.get(), POLLOUT, deadline)) return false;
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
    return false;
  }
  if (server.tls()) return true;  // accepted: its event loop is the TLS terminator's business
  // An IPv6 literal is bracketed in Host (RFC 9110), or the listener refuses the probe as 400.
  const std::string host_header = host.find(':') == std::string::npos ? host : "[" + host + "]";
  const std::string request = "GET /_health HTTP/1.1\r\nHost: " + host_header +
                              "\r\nUser-Agent: logbucket-self-check\r\nConnection: close\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return false;
  }
  std::string answer;
  char buffer[256];
  while (answer.size() < 12 && WaitFor(fd.get(), POLLIN, deadline)) {
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  return answer.rfind("HTTP/1.1 200", 0) == 0;
}

void WaitAndDrain(sigset_t& signals, int drain_seconds, const std::vector<http::Server*>& servers,
                  const std::function<void()>& reload) {
  const auto manager = platform::ServiceManager::FromEnvironment();
  std::vector<http::Server*> listening;
  for (http::Server* s : servers) {
    if (s != nullptr) listening.push_back(s);
  }
  // Readiness: each listener answers (bounded: 30 tries over ~15 s, then said anyway, with a
  // warning, so a start is never held up by a self-check that cannot connect).
  if (manager.enabled()) {
    for (http::Server* s : listening) {
      bool ok = false;
      for (int attempt = 0; attempt < 30 && !ok; ++attempt) {
        ok = ListenerAnswers(*s, 500);
        if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(10 * (attempt + 1)));
      }
      if (!ok) {
        Log().warn("the {} listener on port {} does not answer its own /_health; ready anyway",
                   s->tls() ? "TLS" : "HTTP", s->port());
      }
    }
    manager.Notify("READY=1\nSTATUS=serving");
  }
  std::mutex mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread watchdog;
  if (manager.watchdog_usec() > 0 && !listening.empty()) {
    auto period = std::chrono::microseconds(manager.watchdog_usec() / 2);
    int probe_ms = static_cast<int>(std::max<uint64_t>(manager.watchdog_usec() / 4000, 100));
    watchdog = std::thread([&, period, probe_ms] {
      std::unique_lock lock(mu);
      while (!stop_cv.wait_for(lock, period, [&] { return stopping; })) {
        lock.unlock();
        bool alive = ListenerAnswers(*listening.front(), probe_ms);
        if (alive) {
          manager.Notify("WATCHDOG=1");
        } else {
          Log().error("watchdog: the listener on port {} does not answer; not pinging systemd",
                      listening.front()->port());
        }
        lock.lock();
      }
    });
  }
  int received = 0;
  while (true) {
    sigwait(&signals, &received);
    if (received != SIGHUP) break;
    manager.Notify("RELOADING=1");
    if (reload) {
      try {
        reload();
      } catch (const std::exception& e) {  // a reload must never end the server
        Log().error("reload failed: {}; the running configuration stays", e.what());
      }
    }
    manager.Notify("READY=1");
  }
  manager.Notify("STOPPING=1");
  Log().info("received {}, draining (up to {} s)", received == SIGTERM ? "SIGTERM" : "SIGINT",
             drain_seconds);
  if (watchdog.joinable()) {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    stop_cv.notify_all();
    watchdog.join();
  }
  int forced = 0;
  for (http::Server* server : listening) forced += server->Shutdown(drain_seconds);
  if (forced > 0) Log().warn("closed {} connections still busy after the drain", forced);
}

}  // namespace logbucket::app
