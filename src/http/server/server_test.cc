#include "http/server/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/metrics.h"

namespace logbucket::http {
namespace {

// A blocking client socket with a receive timeout, so a server that never answers fails the
// test instead of hanging it.
int Connect(uint16_t port, int receive_buffer) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// Reads until `done` says the bytes so far are enough, the peer closes, or the timeout hits.
template <typename Done>
std::string ReadUntil(int fd, std::string got, Done done) {
  char buffer[65536];
  while (!done(got)) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  return got;
}

TEST(ServerShutdown, KeptAliveConnectionReturningFromAWorkerDuringTheDrainIsClosed) {
  // The response is far larger than the socket buffers, so the worker is still sending it (having
  // already decided on keep-alive) when the drain starts; its loop, which has no connections of
  // its own, must wait for the connection to come back and then close it, or the drain sits out
  // its whole deadline and reports the connection as forced.
  const std::string big(32 << 20, 'x');
  ServerOptions options;
  options.event_loops = 1;
  options.access_log = false;
  Server server(options, [&](const Request& request) {
    char sink[16];
    while (request.body->Read(sink, sizeof sink).value_or(0) > 0) {
    }
    Response response;
    response.body = big;
    return response;
  });
  ASSERT_TRUE(server.Listen().ok());
  server.Start();
  int fd = Connect(server.port(), 64 * 1024);
  std::string request = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nz";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string got =
      ReadUntil(fd, "", [](const std::string& s) { return s.find("\r\n\r\n") != s.npos; });
  size_t head_end = got.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << got;
  EXPECT_EQ(got.find("Connection: close"), std::string::npos) << got.substr(0, head_end);

  auto shutdown = std::async(std::launch::async, [&] { return server.Shutdown(10); });
  size_t want = head_end + 4 + big.size();
  got = ReadUntil(fd, std::move(got), [&](const std::string& s) { return s.size() >= want; });
  EXPECT_EQ(got.size(), want);
  // Then the server closes the now idle connection: recv sees EOF, not the 20 s timeout.
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0);
  EXPECT_EQ(shutdown.get(), 0) << "connections force-closed";
  ::close(fd);
}

TEST(ServerShutdown, IdleKeepAliveConnectionsAreClosedAndNothingIsForced) {
  ServerOptions options;
  options.event_loops = 2;
  options.access_log = false;
  Server server(options, [](const Request&) {
    Response response;
    response.body = "ok";
    return response;
  });
  ASSERT_TRUE(server.Listen().ok());
  server.Start();
  int fd = Connect(server.port(), 0);
  std::string request = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  std::string got = ReadUntil(fd, "", [](const std::string& s) {
    return s.size() >= 2 && s.compare(s.size() - 2, 2, "ok") == 0;
  });
  ASSERT_NE(got.find("200 OK"), std::string::npos) << got;
  EXPECT_EQ(server.Shutdown(10), 0);
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0);
  ::close(fd);
}

// Sends `request` on a fresh connection and returns everything the server sends until it closes
// (or the whole response for `Connection: close` requests).
std::string Exchange(uint16_t port, const std::string& request) {
  int fd = Connect(port, 0);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server answered early and closed: read what it said
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string got = ReadUntil(fd, "", [](const std::string&) { return false; });
  ::close(fd);
  return got;
}

// A handler that throws on /boom and reads (and echoes the size of) any body otherwise; a body
// the server could not deliver is a 400 carrying the reader's message.
Response ThrowingOrEcho(const Request& request) {
  if (request.raw_path == "/boom") throw std::runtime_error("handler bug");
  if (request.raw_path == "/alloc") throw std::bad_alloc();
  uint64_t total = 0;
  char buffer[4096];
  while (true) {
    auto n = request.body->Read(buffer, sizeof buffer);
    if (!n) {
      Response refused;
      refused.status = 400;
      refused.body =
          std::string(Describe(n.error().code()).s3_code) + ": " + std::string(n.error().message());
      return refused;
    }
    if (*n == 0) break;
    total += *n;
  }
  Response response;
  response.body = "read " + std::to_string(total);
  return response;
}

class ServerFaults : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    options.event_loops = 1;
    options.access_log = false;
    server_ = std::make_unique<Server>(options, ThrowingOrEcho);
    ASSERT_TRUE(server_->Listen().ok());
    server_->Start();
  }
  // The server still answers, on a new connection.
  void ExpectAlive() {
    std::string got = Exchange(server_->port(), "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
    EXPECT_NE(got.find("read 0"), std::string::npos) << got;
  }
  std::unique_ptr<Server> server_;
};

TEST_F(ServerFaults, HandlerThrowingOnTheEventLoopAnswers500AndTheServerGoesOn) {
  Start();
  uint64_t before = EscapedExceptions(ThreadEntry::kEventLoop);
  for (const char* path : {"/boom", "/alloc"}) {
    std::string got = Exchange(server_->port(), std::string("GET ") + path +
                                                    " HTTP/1.1\r\nHost: t\r\n"
                                                    "Connection: close\r\n\r\n");
    EXPECT_NE(got.find("500 Internal Server Error"), std::string::npos) << got;
    EXPECT_NE(got.find("<Code>InternalError</Code><Message>"), std::string::npos) << got;
  }
  EXPECT_EQ(EscapedExceptions(ThreadEntry::kEventLoop), before + 2);
  ExpectAlive();
}

TEST_F(ServerFaults, HandlerThrowingOnAWorkerAnswers500AndTheServerGoesOn) {
  Start();
  uint64_t before = EscapedExceptions(ThreadEntry::kWorker);
  std::string got =
      Exchange(server_->port(), "PUT /boom HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_NE(got.find("500 Internal Server Error"), std::string::npos) << got;
  EXPECT_EQ(EscapedExceptions(ThreadEntry::kWorker), before + 1);
  // Kept alive after the 500 (the body was read): the next request on the same connection works.
  int fd = Connect(server_->port(), 0);
  std::string two =
      "PUT /boom HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
      "PUT /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
  ASSERT_EQ(::send(fd, two.data(), two.size(), MSG_NOSIGNAL), static_cast<ssize_t>(two.size()));
  got = ReadUntil(fd, "", [](const std::string& s) { return s.find("read 3") != s.npos; });
  EXPECT_NE(got.find("500 Internal"), std::string::npos) << got;
  EXPECT_NE(got.find("read 3"), std::string::npos) << got;
  ::close(fd);
  ExpectAlive();
}

// Beast's fields throw std::length_error for a trailer field over 65,533 bytes; unauthenticated
// DeleteObjects reads its body, so this once ended the process from any address.
TEST_F(ServerFaults, OversizedChunkedTrailerIsABadRequestNotACrash) {
  Start();
  for (const std::string& field :
       {"X-T: " + std::string(70000, 'a'), std::string(70000, 'n') + ": v"}) {
    std::string got = Exchange(server_->port(),
                               "POST /b?delete HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                               "\r\n\r\n5\r\nhello\r\n0\r\n" +
                                   field + "\r\n\r\n");
    EXPECT_NE(got.find("400 Bad Request"), std::string::npos) << got.substr(0, 300);
    EXPECT_NE(got.find("RequestHeaderSectionTooLarge"), std::string::npos) << got.substr(0, 300);
  }
  ExpectAlive();
}

// A header field over 65,533 bytes throws in Beast's fields even when header_limit allows it.
TEST_F(ServerFaults, HeaderFieldOverBeastsFieldLimitIsRefusedNotACrash) {
  ServerOptions options;
  options.max_header_bytes = 200000;
  Start(options);
  for (const std::string& field :
       {"X-Big: " + std::string(70000, 'a'), std::string(70000, 'n') + ": v"}) {
    std::string got =
        Exchange(server_->port(), "GET /_health HTTP/1.1\r\nHost: t\r\n" + field + "\r\n\r\n");
    EXPECT_NE(got.find("400 Bad Request"), std::string::npos) << got.substr(0, 300);
    EXPECT_NE(got.find("RequestHeaderSectionTooLarge"), std::string::npos) << got.substr(0, 300);
  }
  ExpectAlive();
}

// A sample's value in the exposition ("logbucket_http_busy_workers{listener=\"s3\"}"), or -1.
double Sample(const Metrics& metrics, const std::string& series) {
  std::string text = metrics.Render();
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// Waits (bounded) until `condition` holds; the server's threads move on their own.
template <typename Condition>
bool Eventually(Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The accept thread has no input a test controls; an injected fault stands for an allocation
// failing there. The connection being accepted is lost (closed unanswered), the listener is not.
TEST_F(ServerFaults, AcceptThreadThrowingLosesThatConnectionNotTheListener) {
  Start();
  uint64_t before = EscapedExceptions(ThreadEntry::kAccept);
  ArmInjectedFault(ThreadEntry::kAccept, 1);
  std::string got = Exchange(server_->port(), "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(got, "") << "the connection accepted while the fault fired is closed unanswered";
  // Counted as the accept thread's guard catches it (unwinding has closed the socket already).
  EXPECT_TRUE(Eventually([&] { return EscapedExceptions(ThreadEntry::kAccept) == before + 1; }));
  ExpectAlive();
  ExpectAlive();
}

// A self-signed certificate and key in a temporary directory, for a TLS listener.
class TestCertificate {
 public:
  TestCertificate() {
    dir_ = std::filesystem::temp_directory_path() /
           ("logbucket-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    FILE* f = std::fopen(cert_file().c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(key_file().c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  ~TestCertificate() { std::filesystem::remove_all(dir_); }
  std::string cert_file() const { return (dir_ / "cert.pem").string(); }
  std::string key_file() const { return (dir_ / "key.pem").string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

// One request over TLS on a fresh connection; everything the server sends until it closes, or
// "" when the handshake fails or the connection ends first.
std::string TlsExchange(uint16_t port, const std::string& request) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // self-signed, and only 127.0.0.1
  int fd = Connect(port, 0);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string got;
  if (SSL_connect(ssl) == 1 &&
      SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
    char buffer[4096];
    int n;
    while ((n = SSL_read(ssl, buffer, sizeof buffer)) > 0) got.append(buffer, n);
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return got;
}

TEST(ServerTlsFaults, TlsThreadThrowingEndsThatConnectionNotTheListener) {
  // As `serve` does: OpenSSL writes with write(), and the client's socket may be closed under it.
  ::signal(SIGPIPE, SIG_IGN);
  TestCertificate certificate;
  ServerOptions options;
  options.event_loops = 1;
  options.access_log = false;
  options.tls_cert_file = certificate.cert_file();
  options.tls_key_file = certificate.key_file();
  Server server(options, ThrowingOrEcho);
  ASSERT_TRUE(server.Listen().ok());
  server.Start();
  const std::string request = "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  uint64_t before = EscapedExceptions(ThreadEntry::kTls);
  ArmInjectedFault(ThreadEntry::kTls, 1);
  EXPECT_EQ(TlsExchange(server.port(), request), "");
  // Counted by the terminator thread as it ends (after unwinding has closed the sockets).
  EXPECT_TRUE(Eventually([&] { return EscapedExceptions(ThreadEntry::kTls) == before + 1; }));
  for (int i = 0; i < 2; ++i) {
    std::string got = TlsExchange(server.port(), request);
    EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
    EXPECT_NE(got.find("read 0"), std::string::npos) << got;
  }
  EXPECT_EQ(server.Shutdown(5), 0);
}

// A client that asks for a large answer a worker computes (a viewer page, a remote-store read)
// and then reads it at its own pace holds a connection, not a worker thread.
TEST(ServerSlowReaders, LargeWorkerResponsesAreSentByTheEventLoop) {
  const std::string big(8 << 20, 'y');
  Metrics metrics;
  ServerOptions options;
  options.event_loops = 1;
  options.access_log = false;
  options.metrics = &metrics;
  Server server(options, [&](const Request& request) {
    char sink[64];
    while (request.body->Read(sink, sizeof sink).value_or(0) > 0) {
    }
    Response response;
    response.body = big;
    return response;
  });
  ASSERT_TRUE(server.Listen().ok());
  server.Start();
  const std::string busy = "logbucket_http_busy_workers{listener=\"s3\"}";
  const std::string request = "POST /page HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nz";
  std::vector<int> readers;
  for (int i = 0; i < 3; ++i) {
    int fd = Connect(server.port(), 16 * 1024);
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    readers.push_back(fd);
  }
  // Nobody has read more than the socket buffers hold, yet no worker is still busy.
  EXPECT_TRUE(Eventually([&] {
    return Sample(metrics,
                  "logbucket_http_requests_total{listener=\"s3\",operation=\"other\","
                  "status=\"200\"}") == 3 &&
           Sample(metrics, busy) == 0;
  })) << metrics.Render();
  // Each slow reader still gets its whole answer, and the connection stays usable.
  for (int fd : readers) {
    std::string got =
        ReadUntil(fd, "", [](const std::string& s) { return s.find("\r\n\r\n") != s.npos; });
    size_t want = got.find("\r\n\r\n") + 4 + big.size();
    got = ReadUntil(fd, std::move(got), [&](const std::string& s) { return s.size() >= want; });
    ASSERT_EQ(got.size(), want);
    EXPECT_EQ(got.compare(want - big.size(), big.size(), big), 0);
    std::string again = "POST /page HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
    ASSERT_EQ(::send(fd, again.data(), again.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(again.size()));
    got = ReadUntil(fd, "", [&](const std::string& s) { return s.size() >= want; });
    EXPECT_EQ(got.size(), want);
    ::close(fd);
  }
  EXPECT_EQ(server.Shutdown(5), 0);
}

// At the connection limit a new client gets in: the connection that has waited longest for its
// request head (a slowloris' stalled head) is told RequestTimeout and closed to make room.
TEST(ServerConnectionLimit, NewClientEvictsTheLongestWaitingHead) {
  Metrics metrics;
  ServerOptions options;
  options.event_loops = 1;
  options.access_log = false;
  options.max_connections = 4;
  options.max_connections_per_client = 0;
  options.evict_min_wait_ms = 0;  // no waiting for the stalled heads to age
  options.metrics = &metrics;
  Server server(options, ThrowingOrEcho);
  ASSERT_TRUE(server.Listen().ok());
  server.Start();
  std::vector<int> stalled;
  for (int i = 0; i < 4; ++i) {
    int fd = Connect(server.port(), 0);
    std::string partial = "GET /slow HTTP/1.1\r\nHost: t\r\n";
    ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(partial.size()));
    stalled.push_back(fd);
  }
  const std::string open = "logbucket_http_open_connections{listener=\"s3\"}";
  ASSERT_TRUE(Eventually([&] { return Sample(metrics, open) == 4; })) << metrics.Render();
  std::string got = Exchange(server.port(), "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
  EXPECT_EQ(Sample(metrics, "logbucket_http_refused_connections_total{listener=\"s3\"}"), 0);
  // The oldest stalled head is the one closed, with S3's RequestTimeout.
  got = ReadUntil(stalled[0], "", [](const std::string&) { return false; });
  EXPECT_NE(got.find("RequestTimeout"), std::string::npos) << got;
  EXPECT_GE(Sample(metrics, "logbucket_http_evicted_connections_total{listener=\"s3\"}"), 1);
  for (int fd : stalled) ::close(fd);
  server.Shutdown(0);
}

}  // namespace
}  // namespace logbucket::http
