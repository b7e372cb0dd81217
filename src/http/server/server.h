// The HTTP/1.1 listener. Connections live on a few epoll event loops (one per core) that parse
// requests and serve GET/HEAD inline with non-blocking sends (sendfile for file bodies); a
// request that carries a body or may block for long (PUT, POST, DELETE) is handed, with its
// parsed header, to a worker thread that runs it with blocking, poll()-timed I/O and then gives
// the connection back to its loop (with the response, when it is large, for the loop to send).
// At max_connections the loops close the longest-waiting idle or stalled connection to admit a
// new one. See DESIGN.md §2 "HTTP server model" and docs/decisions.md.
#pragma once

#include <atomic>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/guard.h"
#include "common/live.h"
#include "common/net.h"
#include "common/status.h"
#include "http/handler.h"
#include "http/metrics.h"
#include "http/server/tls.h"
#include "http/server/worker_pool.h"

namespace logbucket::http {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = pick a free port
  int max_connections = 1024;
  int idle_timeout_seconds = 60;
  int io_timeout_seconds = 120;
  // Slow clients (slowloris): a request head must arrive whole within this many seconds of its
  // first byte (of the connection's opening, for the first request), however steadily it
  // trickles; a body must average at least min_body_rate bytes a second once the first
  // header_timeout_seconds have passed. 0 turns either off.
  int header_timeout_seconds = 20;
  uint32_t min_body_rate = 500;
  // At most this many connections from one client address (0: only max_connections); peers in
  // `uncapped_peers` (a proxy that carries everyone's requests) are not counted.
  int max_connections_per_client = 256;
  std::vector<Cidr> uncapped_peers;
  // At max_connections a new connection is still admitted (up to max_connections/16 over) while
  // the loops close the connection that has waited longest for its next request or the rest of
  // its head, once it has waited this long (younger ones are still arriving).
  int evict_min_wait_ms = 250;
  uint32_t max_header_bytes = 64 * 1024;
  uint64_t max_body_bytes = 6ULL << 30;
  bool access_log = true;
  int event_loops = 0;      // 0 = one per core
  std::string name = "s3";  // for log lines
  // GET/HEAD requests for which this answers true run on a worker thread like PUTs: their
  // handler may wait on another server (the OIDC provider, a remote store) or scan a large log,
  // which must not stall an event loop and every connection on it. Unset: all inline.
  std::function<bool(std::string_view target)> get_on_worker;
  // TLS (http/server/tls.h) when both are set: PEM certificate chain and private key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Counts requests and connections under this listener's name when set (not owned).
  Metrics* metrics = nullptr;
};

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; the actual port is available from port() afterwards.
  Status Listen();
  // Starts the accept thread and the event loops.
  void Start();
  // Serves a connected stream socket accepted elsewhere (socket activation; the server fuzz
  // target feeds a socketpair) as if `peer` had connected: same limits, loops and timeouts.
  // Takes ownership of fd; false (fd closed) when a connection limit refuses it.
  bool Adopt(int fd, const std::string& peer);
  // Stops accepting, closes idle connections, waits up to drain_seconds for requests in
  // flight, then closes the rest. Returns the number of connections force-closed.
  int Shutdown(int drain_seconds);

  // Configuration reload (SIGHUP): the peers exempt from the per-client connection cap, and
  // the TLS certificate and key (an error keeps the running pair; not TLS: kInvalidArgument).
  void SetUncappedPeers(std::vector<Cidr> peers) { uncapped_peers_.Set(std::move(peers)); }
  Status ReloadTls(const std::string& cert_file, const std::string& key_file);

  uint16_t port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }
  const std::string& host() const { return options_.host; }

  struct Connection;
  struct Loop;

 private:
  void AcceptLoop();
  void AcceptOne();
  // An admitted connection: TLS-wrapped if configured, handed to an event loop.
  void StartConnection(platform::ScopedFd fd, const std::string& peer);
  void RunLoop(Loop& loop);
  void OnReadable(Loop& loop, Connection& c);
  void ProcessBuffer(Loop& loop, Connection& c);
  bool ContinueWrite(Loop& loop, Connection& c);
  void HandOff(Loop& loop, Connection& c);
  void RunWorker(Loop& loop, std::unique_ptr<Connection> c) noexcept;
  // What a worker leaves its connection in once its request is answered.
  enum class AfterWorker { kClose, kKeepAlive, kWriteOnLoop };
  // One request on a worker thread. A response larger than kHandBackBytes is left in the
  // connection for its event loop to send (kWriteOnLoop): a client that reads slowly holds a
  // connection slot, never a thread.
  AfterWorker ServeOnWorker(Connection& c);
  void Close(Loop& loop, Connection& c);
  void CloseIfOpen(Loop& loop, int fd);
  // Closes a connection that is in no loop's table (on a worker, or arriving).
  void CloseLent(std::unique_ptr<Connection> c);
  void CheckTimeouts(Loop& loop, int64_t now_ms);
  // At the connection limit: closes this loop's longest-waiting connections (idle keep-alives,
  // request heads that have waited evict_min_wait_ms) while the listener is over it.
  void EvictWaiting(Loop& loop, int64_t now_ms);
  void RequestEviction();
  void ConnectionEnded(const std::string& peer);
  // Counts a new connection from `peer`; false (and counted as refused) when over a limit.
  bool AdmitConnection(const std::string& peer);
  std::string RequestId();
  // The handler's response; an exception it throws becomes a 500 (reported as thrown at `where`).
  Response Handle(Request& request, ThreadEntry where);
  // Request values from a parsed header (the body reader is the caller's).
  void FillRequest(const RequestParser& parser, const std::string& peer, int64_t started_ms,
                   Request& request);
  // The metrics of a request whose response is ready to send (before sending it).
  void CountRequest(const Request& request, const Response& response, uint64_t bytes,
                    int64_t started_us);
  void LogAccess(const Request& request, const Response& response, uint64_t bytes,
                 int64_t started_ms, const char* failure = nullptr);

  ServerOptions options_;
  Live<std::vector<Cidr>> uncapped_peers_{options_.uncapped_peers};
  Handler handler_;
  std::unique_ptr<TlsTerminator> tls_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: readable once stopping
  uint16_t port_ = 0;
  std::thread accept_thread_;
  size_t next_loop_ = 0;  // accept thread only: round-robin over loops_
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable idle_cv_;
  int active_connections_ = 0;
  // Bumped when a connection is admitted over max_connections; each loop scans for connections
  // to evict when it changes (and on its 1 s tick while the listener is over the limit).
  std::atomic<uint64_t> eviction_requests_{0};
  std::set<int> active_fds_;                         // so Shutdown can force-close stragglers
  std::unordered_map<std::string, int> per_client_;  // open connections by peer address
  std::atomic<uint64_t> next_request_{0};
  std::atomic<uint64_t> next_connection_{0};  // Connection::serial
  Metrics::Listener* metrics_ = nullptr;
  WorkerPool workers_;  // after loops_: destroyed first, once the loops have taken every loan back
};

}  // namespace logbucket::http
