// A minimal blocking HTTP/1.1 client connection with keep-alive, for the load generator and
// tests of our own server. (Talking to other S3 endpoints goes through libcurl.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/headers.h"
#include "common/status.h"

namespace logbucket::http::client {

struct ClientResponse {
  int status = 0;
  Headers headers;
  uint64_t body_bytes = 0;
  std::string body;  // kept only when asked (small responses)
};

class Connection {
 public:
  Connection(std::string host, uint16_t port, int timeout_ms = 30000);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one request (head built from method/target/headers, then body) and reads the
  // response. Reconnects once when a kept-alive connection turns out to be closed.
  Result<ClientResponse> RoundTrip(std::string_view method, std::string_view target,
                                   const Headers& headers, std::string_view body, bool keep_body);

 private:
  Status Connect();
  Status SendAll(std::string_view data);
  Result<ClientResponse> ReadResponse(bool keep_body, bool head);
  void Close();

  std::string host_;
  uint16_t port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the previous response
};

}  // namespace logbucket::http::client
