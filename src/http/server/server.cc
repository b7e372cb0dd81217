#include "http/server/connection.h"

namespace logbucket::http {

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  if (options_.metrics) metrics_ = &options_.metrics->AddListener(options_.name);
}

Status Server::ReloadTls(const std::string& cert_file, const std::string& key_file) {
  if (!tls_) return Error(ErrorCode::kInvalidArgument, "this listener does not speak TLS");
  return tls_->Reload(cert_file, key_file);
}

Server::~Server() {
  if (!stopping_) Shutdown(0);
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
    if (loop->epoll_fd >= 0) ::close(loop->epoll_fd);
    if (loop->wake_fd >= 0) ::close(loop->wake_fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Status Server::Listen() {
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    auto tls = TlsTerminator::Create(options_.tls_cert_file, options_.tls_key_file);
    if (!tls) return tls.error();
    tls_ = std::move(*tls);
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return platform::PosixError("eventfd", "", errno);
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = AF_INET;
  if (options_.host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(options_.port);
    if (::inet_pton(AF_INET6, options_.host.c_str(), &a6->sin6_addr) != 1) {
      return Error(ErrorCode::kInvalidArgument, "not an IPv6 address: " + options_.host);
    }
    addr_len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(options_.port);
    std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
    if (::inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) {
      return Error(ErrorCode::kInvalidArgument, "not an IPv4 address: " + options_.host);
    }
    addr_len = sizeof(sockaddr_in);
  }
  listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return platform::PosixError("socket", options_.host, errno);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  std::string where = options_.host + ":" + std::to_string(options_.port);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return platform::PosixError("bind", where, errno);
  }
  if (::listen(listen_fd_, 1024) != 0) return platform::PosixError("listen", where, errno);
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                   : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Status::Ok();
}

void Server::Start() {
  int count = options_.event_loops > 0 ? options_.event_loops
                                       : std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < count; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = loop->wake_fd;
    ::epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev);
    loops_.push_back(std::move(loop));
  }
  for (auto& loop : loops_) {
    Loop* raw = loop.get();
    loop->thread = std::thread([this, raw] { RunLoop(*raw); });
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

void Server::AcceptLoop() {
  while (!stopping_) {
    // Only an allocation can throw here; the connection being accepted is lost, not the thread.
    RunGuarded(ThreadEntry::kAccept, options_.name, [this] { AcceptOne(); });
  }
}

void Server::AcceptOne() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  int r = ::poll(fds, 2, -1);
  if (r < 0 && errno == EINTR) return;
  if (stopping_ || (fds[1].revents & POLLIN)) return;
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) {
      Log().error("{}: accept: out of file descriptors", options_.name);
      ::usleep(10000);  // back off instead of spinning on a full table
    }
    return;
  }
  platform::ScopedFd owned_fd(fd);  // closed on every early return (and if anything throws)
  InjectedFault(ThreadEntry::kAccept);
  char ip[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&peer);
    ::inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, ip, sizeof ip);
  }
  std::string peer_ip(ip);
  if (peer_ip.rfind("::ffff:", 0) == 0) peer_ip = peer_ip.substr(7);
  if (!AdmitConnection(peer_ip)) {
    // Refused before any TLS work: a TLS client gets the close, a plain one the 503 too.
    if (!tls_) {
      (void)!::send(fd, SlowDownResponse().data(), SlowDownResponse().size(),
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return;
  }
  try {
    StartConnection(std::move(owned_fd), peer_ip);
  } catch (...) {
    ConnectionEnded(peer_ip);  // admitted, never started: uncount it, then report
    throw;
  }
}

void Server::StartConnection(platform::ScopedFd owned_fd, const std::string& peer_ip) {
  int one = 1;
  ::setsockopt(owned_fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (tls_) {
    // From here on the connection is the plaintext end of its TLS thread's socketpair.
    auto inner = tls_->Wrap(owned_fd.Release(), options_.io_timeout_seconds * 1000,
                            options_.header_timeout_seconds * 1000);
    if (!inner) {
      Log().error("{}: {}", options_.name, inner.error().message());
      ConnectionEnded(peer_ip);
      return;
    }
    owned_fd = platform::ScopedFd(*inner);
  }
  auto c = std::make_unique<Connection>();
  c->fd = owned_fd.get();
  c->peer = peer_ip;
  c->serial = next_connection_.fetch_add(1) + 1;
  c->last_activity_ms = NowMs();
  c->head_started_ms = c->last_activity_ms;  // the first request's head is due from now
  // What one connection may buffer: a request head, or a chunked body's chunk lines and
  // trailer (Beast's header_limit does not cover those), or pipelined requests waiting for
  // the response before them. Past it: RequestHeaderSectionTooLarge, or no more reading
  // until the response is out.
  c->buffer.max_size(options_.max_header_bytes + kBufferSlackBytes);
  {
    std::lock_guard lock(mu_);
    active_fds_.insert(c->fd);
  }
  owned_fd.Release();  // the connection owns it now
  loops_[next_loop_++ % loops_.size()]->Post(std::move(c));
}

bool Server::Adopt(int fd, const std::string& peer) {
  platform::ScopedFd owned(fd);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (!AdmitConnection(peer)) return false;
  try {
    StartConnection(std::move(owned), peer);
  } catch (...) {
    ConnectionEnded(peer);
    throw;
  }
  return true;
}

bool Server::AdmitConnection(const std::string& peer) {
  bool capped = options_.max_connections_per_client > 0;
  auto uncapped = uncapped_peers_.Get();
  if (capped && !uncapped->empty()) {
    if (auto ip = ParseIp(peer)) {
      for (const Cidr& cidr : *uncapped) {
        if (CidrContains(cidr, *ip)) capped = false;
      }
    }
  }
  bool evict = false;
  {
    std::lock_guard lock(mu_);
    // At the limit a new connection still gets in while the loops close one that is only
    // waiting (the oldest idle keep-alive or stalled head): a table full of slow heads cannot
    // lock clients out. The slack bounds how far over the limit this goes before the loops catch
    // up; past it, or with nothing to evict, the answer is 503.
    int slack = std::max(4, options_.max_connections / 16);
    bool over = active_connections_ >= options_.max_connections + slack;
    if (!over && capped) {
      auto it = per_client_.find(peer);
      over = it != per_client_.end() && it->second >= options_.max_connections_per_client;
    }
    if (over) {
      if (metrics_) metrics_->ConnectionRefused();
      return false;
    }
    evict = active_connections_ >= options_.max_connections;
    ++active_connections_;
    ++per_client_[peer];
    if (metrics_) metrics_->ConnectionOpened();
  }
  if (evict) RequestEviction();
  return true;
}

void Server::RequestEviction() {
  eviction_requests_.fetch_add(1);
  for (auto& loop : loops_) {
    uint64_t one = 1;
    (void)!::write(loop->wake_fd, &one, sizeof one);
  }
}

void Server::EvictWaiting(Loop& loop, int64_t now_ms) {
  {
    std::lock_guard lock(mu_);
    if (active_connections_ <= options_.max_connections) return;
  }
  struct Waiting {
    int64_t since;
    uint64_t serial;
    Connection* c;
  };
  std::vector<Waiting> waiting;
  for (auto& [fd, c] : loop.connections) {
    bool writing = !c->out.empty() || c->file != nullptr;
    if (writing || (c->parser && c->parser->is_header_done())) continue;
    int64_t since = c->head_started_ms != 0 ? c->head_started_ms : c->last_activity_ms;
    if (now_ms - since >= options_.evict_min_wait_ms)
      waiting.push_back({since, c->serial, c.get()});
  }
  std::sort(waiting.begin(), waiting.end(), [](const Waiting& a, const Waiting& b) {
    return a.since != b.since ? a.since < b.since : a.serial < b.serial;
  });
  for (auto& [since, serial, c] : waiting) {
    {
      std::lock_guard lock(mu_);
      if (active_connections_ <= options_.max_connections) return;
    }
    bool mid_head = c->buffer.size() > 0 || (c->parser && c->parser->got_some());
    if (!mid_head) {
      // Bytes the kernel holds that this loop has not read yet (a busy machine): a head on its
      // way, not an idle connection; it gets the RequestTimeout answer too.
      int pending = 0;
      mid_head = ::ioctl(c->fd, FIONREAD, &pending) == 0 && pending > 0;
    }
    if (mid_head) {
      (void)!::send(c->fd, RequestTimeoutResponse().data(), RequestTimeoutResponse().size(),
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    Log().info("{} - {} - - {} closed at the connection limit after {} ms waiting", options_.name,
               c->peer, mid_head ? "400 request head" : "idle connection", now_ms - since);
    if (metrics_) metrics_->ConnectionEvicted();
    Close(loop, *c);
  }
}

int Server::Shutdown(int drain_seconds) {
  bool was_stopping = stopping_.exchange(true);
  if (!was_stopping && stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  // Stop the kernel from queueing new connections that nobody will serve.
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  int forced = 0;
  {
    // Waits in short slices: glibc 2.36 can lose a condition-variable wakeup (sourceware bug
    // 25847, docs/decisions.md), which made a finished drain sit out its whole deadline.
    auto wait_idle = [&](std::unique_lock<std::mutex>& lock, std::chrono::seconds limit) {
      auto deadline = std::chrono::steady_clock::now() + limit;
      while (active_connections_ != 0 && std::chrono::steady_clock::now() < deadline) {
        idle_cv_.wait_for(lock, std::chrono::milliseconds(100));
      }
    };
    std::unique_lock lock(mu_);
    wait_idle(lock, std::chrono::seconds(drain_seconds));
    forced = active_connections_;
    if (forced > 0) {
      for (int fd : active_fds_) ::shutdown(fd, SHUT_RDWR);
      wait_idle(lock, std::chrono::seconds(5));
    }
  }
  for (auto& loop : loops_) {
    uint64_t one = 1;
    (void)!::write(loop->wake_fd, &one, sizeof one);
    if (loop->thread.joinable()) loop->thread.join();
  }
  return forced;
}

}  // namespace logbucket::http
