#include "http/server/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/guard.h"
#include "common/log.h"

namespace logbucket::http {
namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

void SetTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The handshake on the (non-blocking) socket, all of it within `deadline_ms` of now.
bool Handshake(SSL* ssl, int tcp, int deadline_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  while (true) {
    int r = SSL_accept(ssl);
    if (r == 1) return true;
    int error = SSL_get_error(ssl, r);
    short want = error == SSL_ERROR_WANT_READ    ? POLLIN
                 : error == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                 : 0;
    if (want == 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd pfd{tcp, want, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return false;
  }
}

// One connection, start to end: handshake, then both directions until either side ends.
void Pump(SSL_CTX* ctx, int tcp, int inner, int timeout_ms, int handshake_ms) {
  SSL* ssl = SSL_new(ctx);
  // Whatever throws from here on, the descriptors and the context reference go with it.
  struct Release {
    SSL*& ssl;
    SSL_CTX* ctx;
    int tcp, inner;
    ~Release() {
      SSL_free(ssl);
      SSL_CTX_free(ctx);  // the reference Wrap took for this thread
      ERR_clear_error();
      ::close(tcp);
      ::close(inner);
    }
  } release{ssl, ctx, tcp, inner};
  InjectedFault(ThreadEntry::kTls);
  if (ssl != nullptr && SSL_set_fd(ssl, tcp) == 1 &&
      Handshake(ssl, tcp, handshake_ms > 0 ? handshake_ms : std::min(timeout_ms, 30000))) {
    int flags = ::fcntl(tcp, F_GETFL);
    ::fcntl(tcp, F_SETFL, flags & ~O_NONBLOCK);
    SetTimeouts(tcp, timeout_ms);
    char buffer[16384];
    pollfd fds[2] = {{tcp, POLLIN, 0}, {inner, POLLIN, 0}};
    while (true) {
      int ready = ::poll(fds, 2, SSL_pending(ssl) > 0 ? 0 : -1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) break;
      if (SSL_pending(ssl) > 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        int n = SSL_read(ssl, buffer, sizeof buffer);
        if (n <= 0) break;  // close_notify, reset, or a record that never completed
        if (!WriteAll(inner, buffer, static_cast<size_t>(n))) break;
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::read(inner, buffer, sizeof buffer);
        if (n <= 0) break;  // the server closed the connection
        if (SSL_write(ssl, buffer, static_cast<int>(n)) <= 0) break;
      }
    }
    SSL_shutdown(ssl);
  }
}

}  // namespace

struct TlsTerminator::Impl {
  std::mutex mu;  // guards ctx: Wrap takes a reference, Reload swaps it
  SSL_CTX* ctx = nullptr;
  ~Impl() { SSL_CTX_free(ctx); }
};

namespace {

// A server context with the certificate chain and key, checked to belong together.
Result<SSL_CTX*> NewContext(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Error(ErrorCode::kInternalError, "TLS: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  Status status;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    status = Error(ErrorCode::kInvalidArgument,
                   "web.tls_cert_file " + cert_file + ": " + OpenSslError());
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    status = Error(ErrorCode::kInvalidArgument, "web.tls_key_file " + key_file +
                                                    " (for the certificate in " + cert_file +
                                                    "): " + OpenSslError());
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    status = Error(
        ErrorCode::kInvalidArgument,
        "web.tls_key_file " + key_file + " does not belong to the certificate in " + cert_file);
  }
  if (!status.ok()) {
    SSL_CTX_free(ctx);
    return status;
  }
  return ctx;
}

}  // namespace

TlsTerminator::~TlsTerminator() = default;

Result<std::unique_ptr<TlsTerminator>> TlsTerminator::Create(const std::string& cert_file,
                                                             const std::string& key_file) {
  std::unique_ptr<TlsTerminator> t(new TlsTerminator());
  t->impl_ = std::make_unique<Impl>();
  auto ctx = NewContext(cert_file, key_file);
  if (!ctx) return ctx.error();
  t->impl_->ctx = *ctx;
  return t;
}

Status TlsTerminator::Reload(const std::string& cert_file, const std::string& key_file) {
  auto ctx = NewContext(cert_file, key_file);
  if (!ctx) return ctx.error();
  SSL_CTX* old = nullptr;
  {
    std::lock_guard lock(impl_->mu);
    old = impl_->ctx;
    impl_->ctx = *ctx;
  }
  SSL_CTX_free(old);  // connections in flight hold their own reference
  return Status::Ok();
}

Result<int> TlsTerminator::Wrap(int tcp_fd, int timeout_ms, int handshake_ms) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    ::close(tcp_fd);
    return Error(ErrorCode::kServiceUnavailable, "socketpair failed");
  }
  ::fcntl(pair[0], F_SETFL, ::fcntl(pair[0], F_GETFL) | O_NONBLOCK);
  SSL_CTX* ctx = nullptr;
  {
    std::lock_guard lock(impl_->mu);
    ctx = impl_->ctx;
    SSL_CTX_up_ref(
        ctx);  // the thread may outlive the terminator (shutdown) or the context (reload)
  }
  try {
    std::thread([ctx, tcp_fd, inner = pair[1], timeout_ms, handshake_ms] {
      RunGuarded(ThreadEntry::kTls, "a TLS connection",
                 [&] { Pump(ctx, tcp_fd, inner, timeout_ms, handshake_ms); });
    }).detach();
  } catch (const std::system_error&) {
    SSL_CTX_free(ctx);
    ::close(tcp_fd);
    ::close(pair[0]);
    ::close(pair[1]);
    return Error(ErrorCode::kServiceUnavailable, "cannot start a TLS thread");
  }
  return pair[0];
}

}  // namespace logbucket::http
