// The server's own header, included only by http/server/*.cc: the socket stream Beast parses
// from, request bodies read from it, the wire helpers (response heads, canned errors, lingering
// close), and the per-connection and per-loop state. The server itself is spread over
//   server.cc      listening, accepting, admission (per-peer caps), eviction, shutdown
//   event_loop.cc  the epoll loops: reading heads, timeouts, writing responses, hand-offs
//   worker.cc      a request on a worker thread: bodies, the handler, access log, metrics
//   wire.cc        the helpers declared below
#pragma once

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
#include "http/server/server.h"

namespace logbucket::http {
namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

inline constexpr int kLingerMs = 2000;

inline constexpr size_t kIdleBufferBytes = 64 * 1024;

inline constexpr size_t kBufferSlackBytes = 1u << 20;

// A worker's response larger than this goes back to the event loop to be sent (it may not fit
// the socket buffers, and a client reading slowly must not hold a thread).
inline constexpr size_t kHandBackBytes = 64 * 1024;

inline constexpr size_t kLingerMaxBytes = 16u << 20;

// A whole response, S3 error XML, after which the connection closes: what the session code
// itself answers (no handler, no request id). `date` adds the Date header (not cacheable).
std::string ErrorAndClose(std::string_view status_line, std::string_view code,
                          std::string_view message, std::string_view date = {});

// Sent when we cannot take a connection or request (too many connections, no thread).
const std::string& SlowDownResponse();

// Sent to a client whose request head or body came too slowly (header_timeout_seconds,
// min_body_rate), in S3's words.
const std::string& RequestTimeoutResponse();

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

std::string_view ReasonPhrase(int status);

const std::string& CachedHttpDate();

// The query with signatures blanked, for the access log.
std::string RedactedTarget(std::string_view target);

// Reads and discards what the client still sends after we answered early, so that closing
// the socket does not reset the connection before the client has read our response.
void LingeringClose(int fd);

// Builds the status line and headers; sets *body_length and *send_body.
std::string BuildHead(const Request& request, const Response& response, bool keep_alive,
                      uint64_t* body_length, bool* send_body);

std::string ParseErrorResponse(const error_code& ec);

// GET and HEAD read, and with the metadata cache warm they do not block: the loop serves them
// inline. Everything else may carry a body or wait for a durable commit.
bool ServeInline(const Parser& parser);

int64_t NowMs();

// What a request whose handler threw gets: S3's InternalError, with the request id to quote.
Response InternalErrorResponse(const Request& request);

class EmptyBodyReader final : public BodyReader {
 public:
  Result<size_t> Read(char*, size_t) override { return size_t{0}; }
};

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

}  // namespace logbucket::http
