// The HTTP/1.1 listener: one thread per connection (bounded), Beast's parser over a poll()-timed
// socket stream, responses written directly with sendfile for file bodies. See DESIGN.md §2
// "HTTP server model" for why not coroutines.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/status.h"
#include "http/handler.h"

namespace logbucket::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = pick a free port
  int max_connections = 1024;
  int idle_timeout_seconds = 60;
  int io_timeout_seconds = 120;
  uint32_t max_header_bytes = 64 * 1024;
  uint64_t max_body_bytes = 6ULL << 30;
  bool access_log = true;
  std::string name = "s3";  // for log lines
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; the actual port is available from port() afterwards.
  Status Listen();
  // Runs the accept loop on a background thread.
  void Start();
  // Stops accepting, closes idle connections, waits up to drain_seconds for requests in
  // flight, then closes the rest. Returns the number of connections force-closed.
  int Shutdown(int drain_seconds);

  uint16_t port() const { return port_; }
  const std::string& host() const { return options_.host; }

 private:
  void AcceptLoop();
  void Serve(int fd, std::string peer);

  ServerOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: readable once stopping
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable idle_cv_;
  int active_connections_ = 0;
  std::set<int> active_fds_;  // so Shutdown can force-close stragglers
  std::atomic<uint64_t> next_request_{0};
};

}  // namespace logbucket::http
