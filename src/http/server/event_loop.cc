#include "http/server/connection.h"

namespace logbucket::http {

void Server::ConnectionEnded(const std::string& peer) {
  std::lock_guard lock(mu_);
  --active_connections_;
  auto it = per_client_.find(peer);
  if (it != per_client_.end() && --it->second <= 0) per_client_.erase(it);
  if (metrics_) metrics_->ConnectionClosed();
  idle_cv_.notify_all();
}

void Server::Close(Loop& loop, Connection& c) {
  int fd = c.fd;
  ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
  {
    std::lock_guard lock(mu_);
    active_fds_.erase(fd);
    ::close(fd);
  }
  std::string peer = std::move(c.peer);
  loop.connections.erase(fd);  // destroys c
  ConnectionEnded(peer);
}

void Server::CloseIfOpen(Loop& loop, int fd) {
  auto it = loop.connections.find(fd);
  if (it != loop.connections.end()) Close(loop, *it->second);
}

void Server::CloseLent(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mu_);
    active_fds_.erase(c->fd);
    ::close(c->fd);
  }
  ConnectionEnded(c->peer);
}

void Server::RunLoop(Loop& loop) {
  epoll_event stop_ev{};
  stop_ev.events = EPOLLIN;
  stop_ev.data.fd = stop_fd_;
  ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_ADD, stop_fd_, &stop_ev);
  std::vector<epoll_event> events(256);
  bool stop_seen = false;
  while (true) {
    // While draining, poll every 100 ms: the stop eventfd stays readable (workers watch it too),
    // so it is taken out of this loop's epoll set rather than read.
    int timeout_ms = stop_seen ? 100 : 1000;
    int n = ::epoll_wait(loop.epoll_fd, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == loop.wake_fd || fd == stop_fd_) {
        if (fd == loop.wake_fd) {
          uint64_t v;
          (void)!::read(loop.wake_fd, &v, sizeof v);
        } else if (!stop_seen) {
          stop_seen = true;
          ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, stop_fd_, nullptr);
        }
        std::vector<std::unique_ptr<Connection>> arrived;
        {
          std::lock_guard lock(loop.inbox_mu);
          arrived.swap(loop.inbox);
        }
        for (auto& c : arrived) {
          const int arrived_fd = c->fd;
          try {
            Connection* raw = c.get();
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.fd = raw->fd;
            ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_ADD, raw->fd, &ev);
            raw->want_write = false;
            if (raw->head_started_ms == 0 && raw->buffer.size() > 0) {
              raw->head_started_ms = NowMs();  // back from a worker with pipelined bytes
            }
            if (raw->buffer.size() == 0 && raw->buffer.capacity() > kIdleBufferBytes) {
              raw->buffer.shrink_to_fit();  // back from a worker that buffered a body
            }
            loop.connections[raw->fd] = std::move(c);
            if (!raw->out.empty() || raw->file != nullptr) {
              ContinueWrite(loop, *raw);  // a worker's large response; then pipelined requests
            } else {
              ProcessBuffer(loop, *raw);  // a returning connection may hold pipelined bytes
            }
          } catch (...) {
            ReportEscapedException(ThreadEntry::kEventLoop, "a connection",
                                   std::current_exception());
            if (c) {  // not yet in the table
              ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, arrived_fd, nullptr);
              CloseLent(std::move(c));
            } else {
              CloseIfOpen(loop, arrived_fd);
            }
          }
        }
        continue;
      }
      auto it = loop.connections.find(fd);
      if (it == loop.connections.end()) continue;
      try {
        Connection& c = *it->second;
        if ((events[i].events & EPOLLOUT) && c.want_write) {
          if (!ContinueWrite(loop, c)) continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) OnReadable(loop, c);
      } catch (...) {
        // A bug or an exhausted resource while serving this connection: it ends, the loop and
        // every other connection on it go on.
        ReportEscapedException(ThreadEntry::kEventLoop, "a connection", std::current_exception());
        CloseIfOpen(loop, fd);
      }
    }
    int64_t now = NowMs();
    bool tick = now - loop.last_timeout_scan_ms >= 1000;
    if (tick || stopping_) {
      loop.last_timeout_scan_ms = now;
      CheckTimeouts(loop, now);
    }
    uint64_t evictions = eviction_requests_.load();
    if (evictions != loop.evictions_seen || (tick && evictions != 0)) {
      loop.evictions_seen = evictions;
      try {
        EvictWaiting(loop, now);
      } catch (...) {
        ReportEscapedException(ThreadEntry::kEventLoop, "evicting", std::current_exception());
      }
    }
    // `lent` is read before the inbox: a worker posts its connection before it returns the loan,
    // so seeing no loan means any returned connection is already in the inbox.
    if (stopping_ && loop.connections.empty() && loop.lent.load() == 0) {
      std::lock_guard lock(loop.inbox_mu);
      if (loop.inbox.empty()) break;
    }
  }
}

void Server::CheckTimeouts(Loop& loop, int64_t now_ms) {
  std::vector<Connection*> expired;
  std::vector<Connection*> too_slow;
  int64_t head_limit = options_.header_timeout_seconds * 1000LL;
  int64_t idle_limit = options_.idle_timeout_seconds * 1000LL;
  {
    // Under pressure (the listener 90% full), connections that are only waiting — idle
    // keep-alives, and heads that have not arrived within a second — make room: a slowloris
    // from several addresses cannot hold the table for header_timeout_seconds at a time, and a
    // client refused with 503 gets in on its retry.
    std::lock_guard lock(mu_);
    if (active_connections_ * 10 >= options_.max_connections * 9) {
      head_limit = std::min<int64_t>(head_limit > 0 ? head_limit : 1000, 1000);
      idle_limit = std::min<int64_t>(idle_limit, 1000);
    }
  }
  for (auto& [fd, c] : loop.connections) {
    bool writing = !c->out.empty() || c->file != nullptr;
    bool mid_request = c->buffer.size() > 0 || (c->parser && c->parser->got_some());
    int64_t limit = (writing || mid_request) ? options_.io_timeout_seconds * 1000LL : idle_limit;
    bool idle_at_stop = stopping_ && !writing && !mid_request;
    if (idle_at_stop || now_ms - c->last_activity_ms > limit) {
      expired.push_back(c.get());
    } else if (head_limit > 0 && !writing && c->head_started_ms != 0 &&
               now_ms - c->head_started_ms > head_limit) {
      too_slow.push_back(c.get());
    }
  }
  for (Connection* c : expired) Close(loop, *c);
  for (Connection* c : too_slow) {
    // Told why (S3's words for it), then closed: a slowloris client gets nothing more.
    if (c->buffer.size() > 0 || (c->parser && c->parser->got_some())) {
      (void)!::send(c->fd, RequestTimeoutResponse().data(), RequestTimeoutResponse().size(),
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (metrics_) metrics_->RecordRequest("SlowRequestHead", 400, 0, 0, 0);
    Log().info("{} - {} - - 400 request head not complete within {} s", options_.name, c->peer,
               options_.header_timeout_seconds);
    Close(loop, *c);
  }
}

void Server::OnReadable(Loop& loop, Connection& c) {
  bool eof = false;
  while (true) {
    size_t room = c.buffer.max_size() - c.buffer.size();
    if (room == 0) {
      // Full of pipelined requests while a response is still going out (a header alone is
      // refused by the parser long before): stop reading until it is written, or epoll
      // (level-triggered) would wake us for the same bytes again and again.
      if (c.out.empty() && c.file == nullptr) {
        Close(loop, c);
        return;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = c.fd;
      ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_write = true;
      return;
    }
    auto space = c.buffer.prepare(std::min<size_t>(room, 65536));
    ssize_t n = ::recv(c.fd, space.data(), space.size(), 0);
    if (n > 0) {
      c.buffer.commit(static_cast<size_t>(n));
      // A short read drained the socket: skip the recv that would only say EAGAIN (epoll is
      // level-triggered, so later bytes wake us again).
      if (static_cast<size_t>(n) < space.size()) break;
      if (c.buffer.size() >= c.buffer.max_size()) break;  // parse what we have
      continue;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) eof = true;
    break;
  }
  c.last_activity_ms = NowMs();
  if (c.head_started_ms == 0 && c.buffer.size() > 0 && c.out.empty() && c.file == nullptr) {
    c.head_started_ms = c.last_activity_ms;  // the next request's first bytes
  }
  const int fd = c.fd;  // c may be closed or handed to a worker below
  ProcessBuffer(loop, c);
  if (!eof) return;
  auto it = loop.connections.find(fd);
  if (it == loop.connections.end()) return;
  Connection& still = *it->second;
  if (still.out.empty() && still.file == nullptr) {
    Close(loop, still);
    return;
  }
  // The client stopped sending but our response is still going out: finish it, then close,
  // and stop listening for input (a level-triggered hang-up would wake us in a loop).
  still.close_after_write = true;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.fd = fd;
  ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_MOD, fd, &ev);
  still.want_write = true;
}

void Server::ProcessBuffer(Loop& loop, Connection& c) {
  // One response at a time: pipelined requests wait until the current one is written.
  while (c.out.empty() && c.file == nullptr && c.buffer.size() > 0) {
    if (!c.parser) {
      c.parser.emplace();
      c.parser->header_limit(options_.max_header_bytes);
      c.parser->body_limit(options_.max_body_bytes);
      c.parser->eager(false);
    }
    error_code ec;
    size_t used = 0;
    ParseGuarded(ec, [&] { used = c.parser->put(c.buffer.data(), ec); });
    c.buffer.consume(used);
    if (ec == bhttp::error::need_more) return;
    if (ec) {
      std::string reply = ParseErrorResponse(ec);
      if (metrics_) metrics_->RecordRequest("Unparsable", 400, 0, 0, 0);
      (void)!::send(c.fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      Log().info("{} - {} - - 400 {}", options_.name, c.peer, ec.message());
      Close(loop, c);
      return;
    }
    if (!c.parser->is_header_done()) continue;
    c.head_started_ms = 0;  // the head is in: from here the request's own timeouts apply
    if (!ServeInline(*c.parser) ||
        (options_.get_on_worker && options_.get_on_worker(c.parser->get().target()))) {
      HandOff(loop, c);
      return;
    }
    // Inline: GET/HEAD without a body.
    int64_t started = NowMs();
    int64_t started_us = MonotonicUs();
    auto& header = c.parser->get();
    Request request;
    FillRequest(*c.parser, c.peer, started, request);
    EmptyBodyReader empty;
    request.body = &empty;
    Response response = Handle(request, ThreadEntry::kEventLoop);
    bool keep_alive = header.keep_alive() && !stopping_;
    uint64_t body_length = 0;
    bool send_body = false;
    c.out = BuildHead(request, response, keep_alive, &body_length, &send_body);
    c.out_offset = 0;
    if (send_body && response.file) {
      c.file = std::move(response.file);
      c.file_sent = 0;
    } else if (send_body) {
      c.out += response.body;
    }
    c.close_after_write = !keep_alive;
    c.parser.reset();
    CountRequest(request, response, send_body ? body_length : 0, started_us);
    LogAccess(request, response, send_body ? body_length : 0, started);
    if (!ContinueWrite(loop, c)) return;  // closed
  }
}

bool Server::ContinueWrite(Loop& loop, Connection& c) {
  while (c.out_offset < c.out.size()) {
    int flags = MSG_NOSIGNAL | (c.file ? MSG_MORE : 0);
    ssize_t n = ::send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset, flags);
    if (n > 0) {
      c.out_offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    Close(loop, c);
    return false;
  }
  if (c.out_offset >= c.out.size() && c.file) {
    while (c.file_sent < c.file->length) {
      auto offset = static_cast<off_t>(c.file->offset + c.file_sent);
      ssize_t n = ::sendfile(c.fd, c.file->fd->get(), &offset,
                             std::min<uint64_t>(c.file->length - c.file_sent, 1u << 30));
      if (n > 0) {
        c.file_sent += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      Close(loop, c);  // error, or the file is shorter than promised
      return false;
    }
  }
  bool done = c.out_offset >= c.out.size() && (!c.file || c.file_sent >= c.file->length);
  c.last_activity_ms = NowMs();
  if (!done) {
    if (!c.want_write) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
      ev.data.fd = c.fd;
      ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_write = true;
    }
    return true;
  }
  c.out.clear();
  c.out_offset = 0;
  c.file.reset();
  // A pipelined request waiting in the buffer starts its head clock now, not while we wrote.
  c.head_started_ms = c.buffer.size() > 0 ? c.last_activity_ms : 0;
  if (c.close_after_write) {
    ::shutdown(c.fd, SHUT_WR);
    Close(loop, c);
    return false;
  }
  if (c.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = c.fd;
    ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = false;
  }
  // An idle keep-alive connection should not pin the memory of the largest request it saw.
  if (c.buffer.size() == 0 && c.buffer.capacity() > kIdleBufferBytes) c.buffer.shrink_to_fit();
  ProcessBuffer(loop, c);  // pipelined requests
  return loop.connections.count(c.fd) != 0;
}

void Server::HandOff(Loop& loop, Connection& c) {
  int fd = c.fd;
  ::epoll_ctl(loop.epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
  auto node = loop.connections.extract(fd);
  auto owned = std::make_shared<std::unique_ptr<Connection>>(std::move(node.mapped()));
  loop.lent.fetch_add(1);
  if (metrics_) metrics_->WorkerStarted();
  bool started = workers_.Run([this, &loop, owned]() mutable {
    RunWorker(loop, std::move(*owned));  // never throws: it closes the connection instead
    loop.lent.fetch_sub(1);
  });
  if (!started) {
    loop.lent.fetch_sub(1);
    if (metrics_) metrics_->WorkerFinished();
    // Out of threads (or memory for a stack): refuse this request, keep serving the others.
    Log().error("{}: cannot start a worker thread", options_.name);
    (void)!::send(fd, SlowDownResponse().data(), SlowDownResponse().size(),
                  MSG_NOSIGNAL | MSG_DONTWAIT);
    CloseLent(std::move(*owned));
  }
}

}  // namespace logbucket::http
