#include "http/client/connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/encoding.h"

namespace logbucket::http::client {
namespace {

constexpr size_t kMaxHead = 64 * 1024;

}  // namespace

Connection::Connection(std::string host, uint16_t port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status Connection::Connect() {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(port_);
  if (::getaddrinfo(host_.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "cannot resolve " + host_);
  }
  fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = fd_ < 0 ? -1 : ::connect(fd_, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0) {
    std::string why = std::strerror(errno);
    Close();
    return Error(ErrorCode::kServiceUnavailable, "connect " + host_ + ":" + port + ": " + why);
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return Status::Ok();
}

Status Connection::SendAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(ErrorCode::kServiceUnavailable, "send failed");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Result<ClientResponse> Connection::ReadResponse(bool keep_body, bool head) {
  auto fill = [this]() -> Result<size_t> {
    pollfd pfd{fd_, POLLIN, 0};
    int r = ::poll(&pfd, 1, timeout_ms_);
    if (r <= 0) return Error(ErrorCode::kRequestTimeout, "response timed out");
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return Error(ErrorCode::kServiceUnavailable, "recv failed");
    buffer_.append(buf, static_cast<size_t>(n));
    return static_cast<size_t>(n);
  };
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > kMaxHead) return Error(ErrorCode::kBadRequest, "response head too large");
    auto n = fill();
    if (!n) return n.error();
    if (*n == 0) return Error(ErrorCode::kServiceUnavailable, "connection closed");
  }
  ClientResponse response;
  std::string_view head_text(buffer_.data(), end);
  auto lines = Split(head_text, '\n');
  if (lines.empty() || lines[0].size() < 12)
    return Error(ErrorCode::kBadRequest, "bad status line");
  response.status = static_cast<int>(ParseDecimal(lines[0].substr(9, 3)).value_or(0));
  uint64_t length = 0;
  bool close = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = AsciiLower(line.substr(0, colon));
    std::string value(TrimWhitespace(line.substr(colon + 1)));
    if (name == "content-length") length = static_cast<uint64_t>(ParseDecimal(value).value_or(0));
    if (name == "connection" && EqualsIgnoreCase(value, "close")) close = true;
    response.headers.push_back({std::move(name), std::move(value)});
  }
  buffer_.erase(0, end + 4);
  if (head || response.status == 304 || response.status == 204) length = 0;
  uint64_t remaining = length;
  while (remaining > 0) {
    if (buffer_.empty()) {
      auto n = fill();
      if (!n) return n.error();
      if (*n == 0) return Error(ErrorCode::kIncompleteBody, "body cut short");
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, buffer_.size()));
    if (keep_body) response.body.append(buffer_, 0, take);
    buffer_.erase(0, take);
    remaining -= take;
  }
  response.body_bytes = length;
  if (close) Close();
  return response;
}

Result<ClientResponse> Connection::RoundTrip(std::string_view method, std::string_view target,
                                             const Headers& headers, std::string_view body,
                                             bool keep_body) {
  std::string head;
  head.reserve(1024);
  head.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  for (const Header& h : headers) head.append(h.name).append(": ").append(h.value).append("\r\n");
  if (!body.empty() || method == "PUT" || method == "POST") {
    head.append("content-length: ").append(std::to_string(body.size())).append("\r\n");
  }
  head.append("\r\n");
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = fd_ < 0;
    if (fresh) LB_RETURN_IF_ERROR(Connect());
    Status sent = SendAll(head);
    if (sent.ok() && !body.empty()) sent = SendAll(body);
    if (sent.ok()) {
      auto r = ReadResponse(keep_body, method == "HEAD");
      if (r || fresh) return r;
    } else if (fresh) {
      return sent;
    }
    Close();  // a stale keep-alive connection: try once on a new one
  }
  return Error(ErrorCode::kServiceUnavailable, "request failed");
}

}  // namespace logbucket::http::client
