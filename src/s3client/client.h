// A small S3 client over libcurl and the project's SigV4 signer, for the admin commands (and,
// later, push and the remote store): works against logbucket, Ceph RGW, AWS and MinIO.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/headers.h"
#include "common/status.h"
#include "http/client/curl_client.h"
#include "sigv4/sigv4.h"

namespace logbucket::s3client {

struct ClientOptions {
  std::string endpoint = "http://127.0.0.1:9000";  // scheme://host[:port]
  std::string region = "us-east-1";
  bool virtual_host = false;  // <bucket>.<host> instead of <host>/<bucket>
  // No credentials: anonymous requests (what a bucket policy grants to "*").
  std::optional<sigv4::ClientCredentials> credentials;
  http::client::CurlOptions http;
  // Idempotent requests (all but POST) that fail in transport or with 500/502/503/504 are sent
  // again, up to this many attempts in all, after a jittered exponential backoff.
  int max_attempts = 4;
  int backoff_base_ms = 200;
};

struct S3Response {
  int status = 0;
  Headers headers;
  std::string body;
  // From an S3 XML error body (empty on success).
  std::string error_code;
  std::string error_message;
  std::string request_id;  // x-amz-request-id

  bool ok() const { return status >= 200 && status < 300; }
  // "403 AccessDenied: Access Denied" style summary.
  std::string Summary() const;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();

  // One request. `query` is the raw query ("policy", "list-type=2&prefix=a%2Fb"); the key is
  // percent-encoded here. Transport failures are errors; HTTP errors are responses.
  Result<S3Response> Request(std::string_view method, const std::string& bucket,
                             const std::string& key, const std::string& query,
                             std::string_view body = {}, const Headers& headers = {});

  // GET (or HEAD) with a 2xx body streamed to `sink`; not retried (the sink has seen bytes).
  Result<S3Response> RequestToSink(std::string_view method, const std::string& bucket,
                                   const std::string& key, const std::string& query,
                                   Headers headers, const http::client::BodySink& sink);

  const ClientOptions& options() const { return options_; }
  // How many requests were sent again after a failure (for tests and progress output).
  int retries() const { return retries_; }

 private:
  Result<S3Response> SendOnce(std::string_view method, const std::string& bucket,
                              const std::string& key, const std::string& query,
                              std::string_view body, Headers headers,
                              const http::client::BodySink* sink);
  int retries_ = 0;
  ClientOptions options_;
  http::client::CurlClient http_;
};

// Credentials the way AWS tools find them: explicit values, else AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY, else the named profile (AWS_PROFILE, default "default") in
// AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials. nullopt when none is found.
Result<std::optional<sigv4::ClientCredentials>> ResolveCredentials(const std::string& access_key,
                                                                   const std::string& secret_key,
                                                                   const std::string& profile,
                                                                   const std::string& region);

}  // namespace logbucket::s3client
