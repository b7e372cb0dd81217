#include "http/server/connection.h"

namespace logbucket::http {

std::string ErrorAndClose(std::string_view status_line, std::string_view code,
                          std::string_view message, std::string_view date) {
  std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" +
                     std::string(code) + "</Code><Message>" + std::string(message) +
                     "</Message></Error>";
  std::string head = "HTTP/1.1 " + std::string(status_line) + "\r\n";
  if (!date.empty()) head += "Date: " + std::string(date) + "\r\n";
  return head + "Content-Type: application/xml\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string& SlowDownResponse() {
  static const std::string response =
      ErrorAndClose("503 Service Unavailable", "SlowDown", "Please reduce your request rate.");
  return response;
}

const std::string& RequestTimeoutResponse() {
  static const std::string response = ErrorAndClose(
      "400 Bad Request", "RequestTimeout",
      "Your socket connection to the server was not read from or written to within the timeout "
      "period.");
  return response;
}

std::string_view ReasonPhrase(int status) {
  return bhttp::obsolete_reason(static_cast<bhttp::status>(status));
}

const std::string& CachedHttpDate() {
  thread_local int64_t last_second = -1;
  thread_local std::string text;
  int64_t now = SystemClock::Instance().NowMs();
  if (now / 1000 != last_second) {
    last_second = now / 1000;
    text = FormatHttpDate(now);
  }
  return text;
}

std::string RedactedTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  bool first = true;
  for (std::string_view part : Split(target.substr(q + 1), '&')) {
    if (!first) out.push_back('&');
    first = false;
    std::string_view key = part.substr(0, part.find('='));
    if (key == "X-Amz-Signature" || key == "Signature" || key == "X-Amz-Security-Token") {
      out += key;
      out += "=REDACTED";
    } else {
      out += part;
    }
  }
  return out;
}

void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  char buf[65536];
  size_t total = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLingerMs);
  while (total < kLingerMaxBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
}

std::string BuildHead(const Request& request, const Response& response, bool keep_alive,
                      uint64_t* body_length, bool* send_body) {
  std::string head;
  head.reserve(512);
  head += "HTTP/1.1 ";
  head += std::to_string(response.status);
  head += ' ';
  head += ReasonPhrase(response.status);
  head += "\r\nDate: ";
  head += CachedHttpDate();
  head += "\r\nServer: logbucket\r\nx-amz-request-id: ";
  head += request.request_id;
  head += "\r\n";
  bool has_length = false;
  for (const Header& h : response.headers) {
    if (h.name == "content-length") has_length = true;
    head += h.name;
    head += ": ";
    head += h.value;
    head += "\r\n";
  }
  *body_length = response.file ? response.file->length : response.body.size();
  bool no_body_status = response.status == 304 || response.status == 204 || response.status < 200;
  if (!has_length && !no_body_status) {
    head += "Content-Length: ";
    head += std::to_string(*body_length);
    head += "\r\n";
  }
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  *send_body = !response.omit_body && !no_body_status && request.method != "HEAD";
  return head;
}

std::string ParseErrorResponse(const error_code& ec) {
  std::string_view code = "BadRequest";
  std::string_view message = "Could not parse the HTTP request.";
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    code = "RequestHeaderSectionTooLarge";
    message = "Your request header section exceeds the maximum allowed size.";
  } else if (ec == bhttp::error::body_limit) {
    code = "EntityTooLarge";
    message = "Your proposed upload exceeds the maximum allowed object size.";
  }
  return ErrorAndClose("400 Bad Request", code, message, CachedHttpDate());
}

bool ServeInline(const Parser& parser) {
  auto method = parser.get().method();
  return parser.is_done() && (method == bhttp::verb::get || method == bhttp::verb::head) &&
         parser.get().find(bhttp::field::expect) == parser.get().end();
}

int64_t NowMs() { return SystemClock::Instance().NowMs(); }

Response InternalErrorResponse(const Request& request) {
  Response response;
  response.status = 500;
  response.SetHeader("content-type", "application/xml");
  response.body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
      "<Message>We encountered an internal error. Please try again.</Message><RequestId>" +
      request.request_id + "</RequestId></Error>";
  response.log_error = "InternalError (exception, see the line above)";
  return response;
}

}  // namespace logbucket::http
