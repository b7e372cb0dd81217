#include "http/client/curl_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "common/encoding.h"

namespace logbucket::http::client {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Receive {
  HttpResponse* response = nullptr;
  uint64_t limit = 0;
  bool too_large = false;
  CURL* easy = nullptr;
  const BodySink* sink = nullptr;
  Status sink_error;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Receive*>(user);
  size_t bytes = size * n;
  if (r->sink != nullptr) {
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      r->sink_error = (*r->sink)(std::string_view(data, bytes));
      return r->sink_error.ok() ? bytes : 0;
    }
  }
  if (r->response->body.size() + bytes > r->limit) {
    r->too_large = true;
    return 0;  // aborts the transfer
  }
  r->response->body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Receive*>(user);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    r->response->headers.clear();  // a new response (after 100-continue or a redirect)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    r->response->headers.push_back({AsciiLower(TrimWhitespace(line.substr(0, colon))),
                                    std::string(TrimWhitespace(line.substr(colon + 1)))});
  }
  return size * n;
}

}  // namespace

struct CurlClient::Impl {
  CurlOptions options;
  CURL* easy = nullptr;
  curl_slist* connect_to = nullptr;
};

CurlClient::CurlClient(CurlOptions options) : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->options = std::move(options);
  impl_->easy = curl_easy_init();
  for (const std::string& c : impl_->options.connect_to) {
    impl_->connect_to = curl_slist_append(impl_->connect_to, c.c_str());
  }
}

CurlClient::~CurlClient() {
  if (impl_->easy != nullptr) curl_easy_cleanup(impl_->easy);
  curl_slist_free_all(impl_->connect_to);
}

Result<HttpResponse> CurlClient::Send(std::string_view method, const std::string& url,
                                      const Headers& headers, std::string_view body) {
  return Perform(method, url, headers, body, nullptr);
}

Result<HttpResponse> CurlClient::SendToSink(std::string_view method, const std::string& url,
                                            const Headers& headers, std::string_view body,
                                            const BodySink& sink) {
  return Perform(method, url, headers, body, &sink);
}

Result<HttpResponse> CurlClient::Perform(std::string_view method, const std::string& url,
                                         const Headers& headers, std::string_view body,
                                         const BodySink* sink) {
  CURL* c = impl_->easy;
  if (c == nullptr) return Error(ErrorCode::kInternalError, "curl_easy_init failed");
  curl_easy_reset(c);  // keeps the connection cache
  HttpResponse response;
  Receive receive;
  receive.response = &response;
  receive.limit = impl_->options.max_response_bytes;
  receive.easy = c;
  receive.sink = sink;
  std::string method_text(method);
  curl_slist* list = nullptr;
  for (const Header& h : headers) {
    if (h.name == "host") continue;  // curl derives it from the URL
    list = curl_slist_append(list, (h.name + ": " + h.value).c_str());
  }
  list = curl_slist_append(list, "Expect:");  // small bodies: no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "PUT" || method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &receive);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &receive);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(impl_->options.connect_timeout_ms));
  if (sink == nullptr) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(impl_->options.timeout_ms));
  } else {
    // Big downloads take as long as they take; a stalled one fails.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(impl_->options.timeout_ms / 1000)));
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  if (impl_->connect_to != nullptr) curl_easy_setopt(c, CURLOPT_CONNECT_TO, impl_->connect_to);
  if (!impl_->options.source_address.empty()) {
    curl_easy_setopt(c, CURLOPT_INTERFACE, impl_->options.source_address.c_str());
  }
  if (!impl_->options.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, impl_->options.ca_file.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (!receive.sink_error.ok()) return receive.sink_error;
  if (receive.too_large) {
    return Error(ErrorCode::kEntityTooLarge, "response from " + url + " is larger than " +
                                                 std::to_string(receive.limit) + " bytes");
  }
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    // Not a transient failure: retrying cannot help, and the fix is the caller's.
    return Error(ErrorCode::kInvalidArgument,
                 url + ": " + curl_easy_strerror(rc) +
                     " (an endpoint signed by a site's own CA needs its certificate: "
                     "--ca-bundle FILE or AWS_CA_BUNDLE)");
  }
  if (rc != CURLE_OK) {
    return Error(ErrorCode::kServiceUnavailable, url + ": " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace logbucket::http::client
