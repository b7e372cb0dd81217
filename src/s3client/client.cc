#include "s3client/client.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <pugixml.hpp>
#include <thread>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/hash.h"

namespace logbucket::s3client {

std::string S3Response::Summary() const {
  std::string out = std::to_string(status);
  if (!error_code.empty()) out += " " + error_code;
  if (!error_message.empty()) out += ": " + error_message;
  return out;
}

Client::Client(ClientOptions options) : options_(std::move(options)), http_(options_.http) {}

Client::~Client() = default;

namespace {

bool Retryable(const Result<S3Response>& r) {
  if (!r) return r.error().code() == ErrorCode::kServiceUnavailable;  // transport failures
  return r->status == 500 || r->status == 502 || r->status == 503 || r->status == 504 ||
         r->error_code == "SlowDown" || r->error_code == "RequestTimeout";
}

}  // namespace

Result<S3Response> Client::Request(std::string_view method, const std::string& bucket,
                                   const std::string& key, const std::string& query,
                                   std::string_view body, const Headers& headers) {
  int attempts = method == "POST" ? 1 : std::max(1, options_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    auto r = SendOnce(method, bucket, key, query, body, headers, nullptr);
    if (attempt >= attempts || !Retryable(r)) {
      if (!r && attempt > 1) {  // say that waiting and retrying did not help
        return Error(r.error().code(),
                     r.error().message() + " (after " + std::to_string(attempt) + " attempts)");
      }
      return r;
    }
    // Full jitter (AWS architecture blog): sleep uniformly in [0, base * 2^attempt), ≤ 10 s.
    int64_t ceiling = std::min<int64_t>(10000, int64_t{options_.backoff_base_ms} << attempt);
    uint64_t random = 0;
    std::string bytes = RandomBytes(sizeof random);
    std::memcpy(&random, bytes.data(), sizeof random);
    std::this_thread::sleep_for(std::chrono::milliseconds(random % std::max<int64_t>(1, ceiling)));
    ++retries_;
  }
}

Result<S3Response> Client::RequestToSink(std::string_view method, const std::string& bucket,
                                         const std::string& key, const std::string& query,
                                         Headers headers, const http::client::BodySink& sink) {
  return SendOnce(method, bucket, key, query, {}, std::move(headers), &sink);
}

Result<S3Response> Client::SendOnce(std::string_view method, const std::string& bucket,
                                    const std::string& key, const std::string& query,
                                    std::string_view body, Headers headers,
                                    const http::client::BodySink* sink) {
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  size_t scheme = endpoint.find("://");
  if (scheme == std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "endpoint must start with http:// or https://");
  }
  std::string host = endpoint.substr(scheme + 3);
  std::string path = "/";
  if (!bucket.empty()) {
    if (options_.virtual_host) {
      host = bucket + "." + host;
    } else {
      path += bucket;
      if (!key.empty()) path += "/";
    }
  }
  path += UriEncode(key, /*keep_slash=*/true);
  std::string url =
      endpoint.substr(0, scheme + 3) + host + path + (query.empty() ? "" : "?" + query);

  headers.push_back({"host", host});
  if (!body.empty()) {
    // Some APIs (lifecycle, multi-delete) require an integrity header; it never hurts.
    headers.push_back({"content-md5", Base64Encode(Md5(body))});
  }
  if (options_.credentials) {
    sigv4::SignHeaders(method, path, query, headers, HexEncode(Sha256(body)), *options_.credentials,
                       SystemClock::Instance().NowMs());
  }
  auto sent = sink != nullptr ? http_.SendToSink(method, url, headers, body, *sink)
                              : http_.Send(method, url, headers, body);
  if (!sent) return sent.error();
  S3Response r;
  r.status = sent->status;
  r.headers = std::move(sent->headers);
  r.body = std::move(sent->body);
  r.request_id = std::string(FindHeader(r.headers, "x-amz-request-id").value_or(""));
  if (!r.ok() && !r.body.empty()) {
    pugi::xml_document doc;
    if (doc.load_buffer(r.body.data(), r.body.size())) {
      pugi::xml_node e = doc.child("Error");
      r.error_code = e.child_value("Code");
      r.error_message = e.child_value("Message");
      if (r.request_id.empty()) r.request_id = e.child_value("RequestId");
    }
  }
  return r;
}

Result<std::optional<sigv4::ClientCredentials>> ResolveCredentials(const std::string& access_key,
                                                                   const std::string& secret_key,
                                                                   const std::string& profile,
                                                                   const std::string& region) {
  sigv4::ClientCredentials c;
  c.region = region;
  if (!access_key.empty() || !secret_key.empty()) {
    if (access_key.empty() || secret_key.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "--access-key and --secret-key must be given together");
    }
    c.access_key = access_key;
    c.secret_key = secret_key;
    return std::optional(c);
  }
  const char* env_key = std::getenv("AWS_ACCESS_KEY_ID");
  const char* env_secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (profile.empty() && env_key != nullptr && env_secret != nullptr && *env_key != '\0') {
    c.access_key = env_key;
    c.secret_key = env_secret;
    return std::optional(c);
  }
  std::string name = profile;
  if (name.empty()) {
    const char* p = std::getenv("AWS_PROFILE");
    name = p != nullptr ? p : "default";
  }
  std::string path;
  if (const char* f = std::getenv("AWS_SHARED_CREDENTIALS_FILE")) {
    path = f;
  } else if (const char* home = std::getenv("HOME")) {
    path = std::string(home) + "/.aws/credentials";
  }
  std::ifstream in(path);
  if (!in) {
    if (!profile.empty()) {
      return Error(ErrorCode::kInvalidArgument, "--profile " + profile + ": cannot read " +
                                                    (path.empty() ? "~/.aws/credentials" : path));
    }
    return std::optional<sigv4::ClientCredentials>();
  }
  std::string line, section;
  while (std::getline(in, line)) {
    std::string_view l = TrimWhitespace(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[' && l.back() == ']') {
      section = std::string(TrimWhitespace(l.substr(1, l.size() - 2)));
      continue;
    }
    if (section != name) continue;
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) continue;
    std::string k(TrimWhitespace(l.substr(0, eq)));
    std::string v(TrimWhitespace(l.substr(eq + 1)));
    if (k == "aws_access_key_id") c.access_key = v;
    if (k == "aws_secret_access_key") c.secret_key = v;
  }
  if (c.access_key.empty() || c.secret_key.empty()) {
    if (!profile.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "--profile " + profile + ": no keys for that profile in " + path);
    }
    return std::optional<sigv4::ClientCredentials>();
  }
  return std::optional(c);
}

}  // namespace logbucket::s3client
