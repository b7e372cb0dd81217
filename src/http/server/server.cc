#include "http/server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/guard.h"
#include "common/hash.h"
#include "common/log.h"

namespace logbucket::http {
namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr int kLingerMs = 2000;
constexpr size_t kIdleBufferBytes = 64 * 1024;
constexpr size_t kBufferSlackBytes = 1u << 20;
// A worker's response larger than this goes back to the event loop to be sent (it may not fit
// the socket buffers, and a client reading slowly must not hold a thread).
constexpr size_t kHandBackBytes = 64 * 1024;

constexpr size_t kLingerMaxBytes = 16u << 20;

// A whole response, S3 error XML, after which the connection closes: what the session code
// itself answers (no handler, no request id). `date` adds the Date header (not cacheable).
std::string ErrorAndClose(std::string_view status_line, std::string_view code,
                          std::string_view message, std::string_view date = {}) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" +
                     std::string(code) + "</Code><Message>" + std::string(message) +
                     "</Message></Error>";
  std::string head = "HTTP/1.1 " + std::string(status_line) + "\r\n";
  if (!date.empty()) head += "Date: " + std::string(date) + "\r\n";
  return head + "Content-Type: application/xml\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Sent when we cannot take a connection or request (too many connections, no thread).
const std::string& SlowDownResponse() {
  static const std::string response =
      ErrorAndClose("503 Service Unavailable", "SlowDown", "Please reduce your request rate.");
  return response;
}

// Sent to a client whose request head or body came too slowly (header_timeout_seconds,
// min_body_rate), in S3's words.
const std::string& RequestTimeoutResponse() {
  static const std::string response = ErrorAndClose(
      "400 Bad Request", "RequestTimeout",
      "Your socket connection to the server was not read from or written to within the timeout "
      "period.");
  return response;
}

// A blocking socket with poll()-based timeouts, shaped as Beast's SyncReadStream and
// SyncWriteStream. While `idle` is set, the stop eventfd also wakes a read (the connection is
// between requests and may be closed for shutdown).
class FdStream {
 public:
  FdStream(int fd, int stop_fd, int io_timeout_ms, int idle_timeout_ms)
      : fd_(fd),
        stop_fd_(stop_fd),
        io_timeout_ms_(io_timeout_ms),
        idle_timeout_ms_(idle_timeout_ms) {}

  void set_idle(bool idle) { idle_ = idle; }
  // Reads fail with timed_out once this steady-clock time (ms) passes; 0 = only io_timeout.
  void set_read_deadline_ms(int64_t deadline) { read_deadline_ms_ = deadline; }
  int fd() const { return fd_; }

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, error_code& ec) {
    ec = {};
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      if (!WaitReadable(ec)) return 0;
      while (true) {
        ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
        if (n > 0) return static_cast<size_t>(n);
        if (n == 0) {
          ec = net::error::eof;
          return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          if (!WaitReadable(ec)) return 0;
          continue;
        }
        ec = error_code(errno, boost::system::system_category());
        return 0;
      }
    }
    return 0;
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, error_code& ec) {
    ec = {};
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::const_buffer b = *it;
      if (b.size() == 0) continue;
      Status s = SendAll(std::string_view(static_cast<const char*>(b.data()), b.size()), 0);
      if (!s.ok()) ec = net::error::broken_pipe;
      return s.ok() ? b.size() : 0;
    }
    return 0;
  }
  template <class ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  Status SendAll(std::string_view data, int flags) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), flags | MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!WaitWritable()) return Error(ErrorCode::kRequestTimeout, "send timed out");
        continue;
      }
      return Error(ErrorCode::kInternalError, "send failed");
    }
    return Status::Ok();
  }

  Status SendFile(int file_fd, uint64_t offset, uint64_t length) {
    auto off = static_cast<off_t>(offset);
    while (length > 0) {
      ssize_t n = ::sendfile(fd_, file_fd, &off, std::min<uint64_t>(length, 1u << 30));
      if (n > 0) {
        length -= static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!WaitWritable()) return Error(ErrorCode::kRequestTimeout, "sendfile timed out");
        continue;
      }
      return Error(ErrorCode::kInternalError,
                   n == 0 ? "file shorter than expected" : "sendfile failed");
    }
    return Status::Ok();
  }

 private:
  bool WaitReadable(error_code& ec) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int count = idle_ ? 2 : 1;
    int timeout = idle_ ? idle_timeout_ms_ : io_timeout_ms_;
    if (read_deadline_ms_ != 0) {
      int64_t left = read_deadline_ms_ - MonotonicMs();
      if (left <= 0) {
        ec = net::error::timed_out;
        return false;
      }
      timeout = static_cast<int>(std::min<int64_t>(timeout, left));
    }
    while (true) {
      int r = ::poll(fds, count, timeout);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        ec = net::error::timed_out;
        return false;
      }
      if (idle_ && (fds[1].revents & POLLIN) && !(fds[0].revents & POLLIN)) {
        ec = net::error::operation_aborted;  // shutting down; the connection is idle
        return false;
      }
      return true;
    }
  }
  bool WaitWritable() {
    pollfd pfd{fd_, POLLOUT, 0};
    while (true) {
      int r = ::poll(&pfd, 1, io_timeout_ms_);
      if (r < 0 && errno == EINTR) continue;
      return r > 0;
    }
  }

  int fd_;
  int stop_fd_;
  int io_timeout_ms_;
  int idle_timeout_ms_;
  bool idle_ = false;
  int64_t read_deadline_ms_ = 0;
};

using Parser = RequestParser;

// Beast's parser reports malformed input as error codes, but its fields container throws
// std::length_error for a field name or value over 65,533 bytes (in the header and in a chunked
// body's trailer alike, whatever header_limit says), and any allocation can throw. Either
// becomes this request's parse error instead of leaving the thread.
template <class Fn>
void ParseGuarded(error_code& ec, Fn&& fn) {
  try {
    fn();
  } catch (const std::length_error&) {
    ec = bhttp::error::header_limit;
  } catch (const std::exception&) {
    ec = bhttp::error::bad_field;
  }
}

class SocketBodyReader final : public BodyReader {
 public:
  // A body must average `min_rate` bytes a second after `grace_ms` from its first read (0: no
  // minimum): a client that trickles an upload cannot hold a worker and a connection slot.
  SocketBodyReader(FdStream& stream, beast::flat_buffer& buffer, Parser& parser, bool expect_100,
                   uint32_t min_rate, int64_t grace_ms)
      : stream_(stream),
        buffer_(buffer),
        parser_(parser),
        expect_100_(expect_100),
        min_rate_(min_rate),
        grace_ms_(grace_ms) {}

  Result<size_t> Read(char* out, size_t size) override {
    if (expect_100_ && !continue_sent_) {
      continue_sent_ = true;
      Status s = stream_.SendAll("HTTP/1.1 100 Continue\r\n\r\n", 0);
      if (!s.ok()) return s;
    }
    if (min_rate_ > 0 && started_ms_ == 0) started_ms_ = MonotonicMs();
    while (!parser_.is_done()) {
      if (min_rate_ > 0) {
        // The time the bytes received so far have earned, on top of the grace period.
        stream_.set_read_deadline_ms(started_ms_ + grace_ms_ +
                                     static_cast<int64_t>(received_ * 1000 / min_rate_));
      }
      parser_.get().body().data = out;
      parser_.get().body().size = size;
      parser_.get().body().more = true;
      error_code ec;
      ParseGuarded(ec, [&] { bhttp::read_some(stream_, buffer_, parser_, ec); });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == net::error::timed_out) {
        return Error(ErrorCode::kRequestTimeout);
      }
      if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        return Error(ErrorCode::kRequestHeaderSectionTooLarge,
                     "a chunk header or trailer field of the request body is too large");
      }
      if (ec) {
        return Error(ErrorCode::kIncompleteBody,
                     "the request body ended early or was malformed: " + ec.message());
      }
      size_t got = size - parser_.get().body().size;
      received_ += got;
      if (got > 0) return got;
    }
    return size_t{0};
  }

  bool expect_100() const { return expect_100_; }
  bool continue_sent() const { return continue_sent_; }

 private:
  FdStream& stream_;
  beast::flat_buffer& buffer_;
  Parser& parser_;
  bool expect_100_;
  bool continue_sent_ = false;
  uint32_t min_rate_;
  int64_t grace_ms_;
  int64_t started_ms_ = 0;
  uint64_t received_ = 0;
};

std::string_view ReasonPhrase(int status) {
  return bhttp::obsolete_reason(static_cast<bhttp::status>(status));
}

const std::string& CachedHttpDate() {
  thread_local int64_t last_second = -1;
  thread_local std::string text;
  int64_t now = SystemClock::Instance().NowMs();
  if (now / 1000 != last_second) {
    last_second = now / 1000;
    text = FormatHttpDate(now);
  }
  return text;
}

// The query with signatures blanked, for the access log.
std::string RedactedTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  bool first = true;
  for (std::string_view part : Split(target.substr(q + 1), '&')) {
    if (!first) out.push_back('&');
    first = false;
    std::string_view key = part.substr(0, part.find('='));
    if (key == "X-Amz-Signature" || key == "Signature" || key == "X-Amz-Security-Token") {
      out += key;
      out += "=REDACTED";
    } else {
      out += part;
    }
  }
  return out;
}

// Reads and discards what the client still sends after we answered early, so that closing
// the socket does not reset the connection before the client has read our response.
void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  char buf[65536];
  size_t total = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLingerMs);
  while (total < kLingerMaxBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
}

// Builds the status line and headers; sets *body_length and *send_body.
std::string BuildHead(const Request& request, const Response& response, bool keep_alive,
                      uint64_t* body_length, bool* send_body) {
  std::string head;
  head.reserve(512);
  head += "HTTP/1.1 ";
  head += std::to_string(response.status);
  head += ' ';
  head += ReasonPhrase(response.status);
  head += "\r\nDate: ";
  head += CachedHttpDate();
  head += "\r\nServer: logbucket\r\nx-amz-request-id: ";
  head += request.request_id;
  head += "\r\n";
  bool has_length = false;
  for (const Header& h : response.headers) {
    if (h.name == "content-length") has_length = true;
    head += h.name;
    head += ": ";
    head += h.value;
    head += "\r\n";
  }
  *body_length = response.file ? response.file->length : response.body.size();
  bool no_body_status = response.status == 304 || response.status == 204 || response.status < 200;
  if (!has_length && !no_body_status) {
    head += "Content-Length: ";
    head += std::to_string(*body_length);
    head += "\r\n";
  }
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  *send_body = !response.omit_body && !no_body_status && request.method != "HEAD";
  return head;
}

std::string ParseErrorResponse(const error_code& ec) {
  std::string_view code = "BadRequest";
  std::string_view message = "Could not parse the HTTP request.";
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    code = "RequestHeaderSectionTooLarge";
    message = "Your request header section exceeds the maximum allowed size.";
  } else if (ec == bhttp::error::body_limit) {
    code = "EntityTooLarge";
    message = "Your proposed upload exceeds the maximum allowed object size.";
  }
  return ErrorAndClose("400 Bad Request", code, message, CachedHttpDate());
}

// GET and HEAD read, and with the metadata cache warm they do not block: the loop serves them
// inline. Everything else may carry a body or wait for a durable commit.
bool ServeInline(const Parser& parser) {
  auto method = parser.get().method();
  return parser.is_done() && (method == bhttp::verb::get || method == bhttp::verb::head) &&
         parser.get().find(bhttp::field::expect) == parser.get().end();
}

int64_t NowMs() { return SystemClock::Instance().NowMs(); }

// What a request whose handler threw gets: S3's InternalError, with the request id to quote.
Response InternalErrorResponse(const Request& request) {
  Response response;
  response.status = 500;
  response.SetHeader("content-type", "application/xml");
  response.body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
      "<Message>We encountered an internal error. Please try again.</Message><RequestId>" +
      request.request_id + "</RequestId></Error>";
  response.log_error = "InternalError (exception, see the line above)";
  return response;
}

class EmptyBodyReader final : public BodyReader {
 public:
  Result<size_t> Read(char*, size_t) override { return size_t{0}; }
};

}  // namespace

struct Server::Connection {
  int fd = -1;
  std::string peer;
  beast::flat_buffer buffer;
  std::optional<Parser> parser;
  // A response being written (non-blocking, resumed on EPOLLOUT).
  std::string out;
  size_t out_offset = 0;
  std::unique_ptr<FileBody> file;
  uint64_t file_sent = 0;
  bool close_after_write = false;
  bool want_write = false;  // EPOLLOUT armed
  int64_t last_activity_ms = 0;
  // When the request head now arriving was due to start: the connection's opening for its first
  // request, a later request's first byte; 0 between requests (idle keep-alive) and while a
  // request is served. Bounds the whole head, however steadily a client trickles it.
  int64_t head_started_ms = 0;
  uint64_t serial = 0;  // order of arrival: the older of two connections waiting since the same ms
};

struct Server::Loop {
  int epoll_fd = -1;
  int wake_fd = -1;  // eventfd: new or returning connections in `inbox`, or stop
  std::thread thread;
  std::mutex inbox_mu;
  std::vector<std::unique_ptr<Connection>> inbox;
  std::unordered_map<int, std::unique_ptr<Connection>> connections;  // loop thread only
  // Connections lent to worker threads; a worker may Post its connection back, so the loop must
  // outlive every loan or a kept-alive connection is orphaned and the drain waits it out.
  std::atomic<int> lent{0};
  int64_t last_timeout_scan_ms = 0;
  uint64_t evictions_seen = 0;  // Server::eviction_requests_ when this loop last scanned

  void Post(std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(inbox_mu);
      inbox.push_back(std::move(c));
    }
    uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
};

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  if (options_.metrics) metrics_ = &options_.metrics->AddListener(options_.name);
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
  if (capped && !options_.uncapped_peers.empty()) {
    if (auto ip = ParseIp(peer)) {
      for (const Cidr& cidr : options_.uncapped_peers) {
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

void Server::FillRequest(const Parser& parser, const std::string& peer, int64_t started_ms,
                         Request& request) {
  const auto& header = parser.get();
  request.method = std::string(header.method_string());
  request.target = std::string(header.target());
  std::string_view target = request.target;  // views below point into request.target
  size_t q = target.find('?');
  request.raw_path = target.substr(0, q);
  request.raw_query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  request.headers.reserve(16);
  for (const auto& field : header) {
    request.headers.push_back({AsciiLower(field.name_string()), std::string(field.value())});
  }
  request.peer_address = peer;
  request.request_id = RequestId();
  request.received_ms = started_ms;
}

Response Server::Handle(Request& request, ThreadEntry where) {
  try {
    return handler_(request);
  } catch (...) {
    ReportEscapedException(where, request.request_id, std::current_exception());
    return InternalErrorResponse(request);
  }
}

std::string Server::RequestId() {
  static const std::string process_tag = HexEncode(RandomBytes(4));
  return process_tag + fmt::format("{:012X}", next_request_.fetch_add(1) + 1);
}

void Server::CountRequest(const Request& request, const Response& response, uint64_t bytes,
                          int64_t started_us) {
  if (metrics_) {
    metrics_->RecordRequest(response.operation, response.status, request.content_length.value_or(0),
                            bytes, MonotonicUs() - started_us);
  }
}

void Server::LogAccess(const Request& request, const Response& response, uint64_t bytes,
                       int64_t started_ms, const char* failure) {
  if (!options_.access_log) return;
  Log().info("{} {} {} {} {} {} {} {}ms {} {}", options_.name, request.request_id,
             response.log_client.empty()
                 ? request.peer_address
                 : response.log_client + "(via " + request.peer_address + ")",
             request.method, RedactedTarget(request.target), response.status, bytes,
             NowMs() - started_ms, response.log_principal.empty() ? "-" : response.log_principal,
             !response.log_error.empty() ? response.log_error : (failure ? failure : ""));
}

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

void Server::RunWorker(Loop& loop, std::unique_ptr<Connection> c) noexcept {
  AfterWorker after = AfterWorker::kClose;
  try {
    after = ServeOnWorker(*c);
  } catch (...) {
    // The handler's own exceptions became a 500 in Handle(); this is the session code itself
    // (an allocation, a parser): the connection ends, the thread and the server go on.
    ReportEscapedException(ThreadEntry::kWorker, "a connection", std::current_exception());
    after = AfterWorker::kClose;
  }
  if (metrics_) metrics_->WorkerFinished();
  if (after != AfterWorker::kClose) {
    c->parser.reset();
    c->last_activity_ms = NowMs();
    try {
      loop.Post(std::move(c));  // back to the event loop (with a response to send, maybe)
      return;
    } catch (...) {  // no memory for the inbox: c is still ours (push_back's strong guarantee)
      ReportEscapedException(ThreadEntry::kWorker, "returning a connection",
                             std::current_exception());
    }
  }
  CloseLent(std::move(c));
}

Server::AfterWorker Server::ServeOnWorker(Connection& connection) {
  Connection* c = &connection;
  FdStream stream(c->fd, stop_fd_, options_.io_timeout_seconds * 1000,
                  options_.idle_timeout_seconds * 1000);
  Parser& parser = *c->parser;
  int64_t started = NowMs();
  int64_t started_us = MonotonicUs();
  auto& header = parser.get();
  Request request;
  FillRequest(parser, c->peer, started, request);
  if (auto len = parser.content_length()) request.content_length = *len;
  request.has_body = !parser.is_done();
  bool expect_100 = false;
  if (auto expect = FindHeader(request.headers, "expect")) {
    expect_100 = EqualsIgnoreCase(*expect, "100-continue");
  }
  SocketBodyReader body(stream, c->buffer, parser, expect_100, options_.min_body_rate,
                        options_.header_timeout_seconds * 1000LL);
  request.body = &body;

  Response response = Handle(request, ThreadEntry::kWorker);

  bool keep_alive = header.keep_alive() && !stopping_;
  bool body_left = !parser.is_done();
  if (body_left) keep_alive = false;
  uint64_t body_length = 0;
  bool send_body = false;
  std::string head = BuildHead(request, response, keep_alive, &body_length, &send_body);
  if (!body_left && body.expect_100() && !body.continue_sent()) {
    // The client asked for "100 Continue" and the handler never read (a zero-byte PUT): send it
    // before the final answer anyway. botocore otherwise takes this connection's next interim
    // read for a final one and reports a 200 for a later PUT whose server died (issue 13).
    // A request refused before its body gets none: that would invite a body we will not read.
    head.insert(0, "HTTP/1.1 100 Continue\r\n\r\n");
  }
  // Counted before it is sent, so that a client that has its answer also finds it counted.
  CountRequest(request, response, send_body ? body_length : 0, started_us);
  if (send_body && !body_left &&
      (response.file != nullptr || response.body.size() > kHandBackBytes)) {
    // Large: the event loop sends it without blocking, so a client that reads at a byte a second
    // ties up a connection slot (bounded by the limits) instead of a thread for as long as it
    // likes. The access line is written now, as for the loop's own responses.
    LogAccess(request, response, body_length, started);
    c->out = std::move(head);
    c->out_offset = 0;
    if (response.file) {
      c->file = std::move(response.file);
      c->file_sent = 0;
    } else {
      c->out += response.body;
    }
    c->close_after_write = !keep_alive;
    return AfterWorker::kWriteOnLoop;
  }
  Status sent;
  if (send_body && response.file) {
    sent = stream.SendAll(head, MSG_MORE);
    if (sent.ok()) {
      sent =
          stream.SendFile(response.file->fd->get(), response.file->offset, response.file->length);
    }
  } else {
    if (send_body) head += response.body;
    sent = stream.SendAll(head, 0);
  }
  LogAccess(request, response, send_body ? body_length : 0, started,
            sent.ok() ? nullptr : "send-failed");
  if (sent.ok() && keep_alive) return AfterWorker::kKeepAlive;
  if (sent.ok() && body_left) LingeringClose(c->fd);
  return AfterWorker::kClose;
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
