#include "http/server/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>

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

}  // namespace
}  // namespace logbucket::http
