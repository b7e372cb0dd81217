// HTTP(S) requests through libcurl, for talking to other S3 endpoints (admin commands, push, the
// remote store). One CurlClient keeps its connections alive between requests; not thread-safe
// (use one per thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/headers.h"
#include "common/status.h"

namespace logbucket::http::client {

struct HttpResponse {
  int status = 0;
  Headers headers;  // lower-case names
  std::string body;
};

struct CurlOptions {
  int connect_timeout_ms = 10000;
  int timeout_ms = 120000;
  uint64_t max_response_bytes = 64ULL << 20;  // admin/metadata responses; bodies stream elsewhere
  // "HOST:PORT:CONNECT-HOST:CONNECT-PORT" entries (curl --connect-to): lets virtual-hosted
  // requests reach an endpoint without DNS for <bucket>.<host>.
  std::vector<std::string> connect_to;
  std::string source_address;  // local address to send from (curl --interface); empty: any
  // PEM file of the certificate authorities to trust for https (curl --cacert), for endpoints
  // signed by a site's own CA; empty: the system's store.
  std::string ca_file;
};

// Receives a 2xx response body as it arrives (downloads never held whole in memory). Returning
// an error aborts the transfer with it. Non-2xx bodies (S3 error XML) still go to body.
using BodySink = std::function<Status(std::string_view)>;

class CurlClient {
 public:
  explicit CurlClient(CurlOptions options = {});
  ~CurlClient();
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  // Sends one request. Transport failures are ServiceUnavailable with curl's reason.
  Result<HttpResponse> Send(std::string_view method, const std::string& url, const Headers& headers,
                            std::string_view body);
  // As Send, with a 2xx body streamed into `sink`. There is no overall time limit: a transfer
  // fails only when it makes no progress for timeout_ms.
  Result<HttpResponse> SendToSink(std::string_view method, const std::string& url,
                                  const Headers& headers, std::string_view body,
                                  const BodySink& sink);

 private:
  Result<HttpResponse> Perform(std::string_view method, const std::string& url,
                               const Headers& headers, std::string_view body, const BodySink* sink);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace logbucket::http::client
