// Request and response values and the Handler signature. No sockets here: the server in
// http/server/ is the only code that touches them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/headers.h"
#include "common/status.h"
#include "platform/file_util.h"

namespace logbucket::http {

// Pulls the request body. Read returns 0 at the end of the body. The first Read of a request
// that asked for "Expect: 100-continue" sends the interim 100 response, so a handler that
// rejects a request before reading never makes the client send its body.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  virtual Result<size_t> Read(char* buffer, size_t size) = 0;
};

struct Request {
  std::string method;
  std::string target;          // raw request-target as received
  std::string_view raw_path;   // view into target, before '?'
  std::string_view raw_query;  // view into target, after '?'
  Headers headers;             // lower-case names
  std::string peer_address;    // TCP peer IP
  std::string request_id;      // also sent as x-amz-request-id
  std::string signed_in_as;    // set by the web listener's sign-in gate, for display
  int64_t received_ms = 0;
  std::optional<uint64_t> content_length;  // absent for Transfer-Encoding: chunked
  bool has_body = false;
  BodyReader* body = nullptr;  // never null while handling
};

// A file region sent with sendfile(2). The descriptor may be shared (an open-file cache), so
// it is held, not owned; sendfile with an explicit offset never moves a shared file position.
struct FileBody {
  std::shared_ptr<const platform::ScopedFd> fd;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;                // used when file is empty
  std::unique_ptr<FileBody> file;  // streamed body
  bool omit_body = false;          // HEAD: send headers (with Content-Length) only
  // Filled by handlers for the access log (e.g. the authenticated access key, never secrets).
  std::string log_principal;
  std::string log_error;
  std::string log_client;  // the client behind a trusted proxy, when it differs from the peer
  // What was asked, from a fixed set of names ("GetObject", "lines"), for the metrics; a view of
  // a string that outlives the request (a literal). Empty counts as "other".
  std::string_view operation;

  void SetHeader(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
  }
};

using Handler = std::function<Response(Request&)>;

}  // namespace logbucket::http
