#include "http/server/connection.h"

namespace logbucket::http {

void Server::FillRequest(const Parser& parser, const std::string& peer, int64_t started_ms,
                         Request& request) {
  const auto& header = parser.get();
  request.method = std::string(header.method_string());
  request.target = std::string(header.target());
  std::string_view target = request.target;  // views below point into request.target
  size_t q = target.find('?');
  request.raw_path = target.substr(0, q);
  request.raw_query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  request.headers.reserve(16);
  for (const auto& field : header) {
    request.headers.push_back({AsciiLower(field.name_string()), std::string(field.value())});
  }
  request.peer_address = peer;
  request.request_id = RequestId();
  request.received_ms = started_ms;
}

Response Server::Handle(Request& request, ThreadEntry where) {
  try {
    return handler_(request);
  } catch (...) {
    ReportEscapedException(where, request.request_id, std::current_exception());
    return InternalErrorResponse(request);
  }
}

std::string Server::RequestId() {
  static const std::string process_tag = HexEncode(RandomBytes(4));
  return process_tag + fmt::format("{:012X}", next_request_.fetch_add(1) + 1);
}

void Server::CountRequest(const Request& request, const Response& response, uint64_t bytes,
                          int64_t started_us) {
  if (metrics_) {
    metrics_->RecordRequest(response.operation, response.status, request.content_length.value_or(0),
                            bytes, MonotonicUs() - started_us);
  }
}

void Server::LogAccess(const Request& request, const Response& response, uint64_t bytes,
                       int64_t started_ms, const char* failure) {
  if (!options_.access_log) return;
  Log().info("{} {} {} {} {} {} {} {}ms {} {}", options_.name, request.request_id,
             response.log_client.empty()
                 ? request.peer_address
                 : response.log_client + "(via " + request.peer_address + ")",
             request.method, RedactedTarget(request.target), response.status, bytes,
             NowMs() - started_ms, response.log_principal.empty() ? "-" : response.log_principal,
             !response.log_error.empty() ? response.log_error : (failure ? failure : ""));
}

void Server::RunWorker(Loop& loop, std::unique_ptr<Connection> c) noexcept {
  AfterWorker after = AfterWorker::kClose;
  try {
    after = ServeOnWorker(*c);
  } catch (...) {
    // The handler's own exceptions became a 500 in Handle(); this is the session code itself
    // (an allocation, a parser): the connection ends, the thread and the server go on.
    ReportEscapedException(ThreadEntry::kWorker, "a connection", std::current_exception());
    after = AfterWorker::kClose;
  }
  if (metrics_) metrics_->WorkerFinished();
  if (after != AfterWorker::kClose) {
    c->parser.reset();
    c->last_activity_ms = NowMs();
    try {
      loop.Post(std::move(c));  // back to the event loop (with a response to send, maybe)
      return;
    } catch (...) {  // no memory for the inbox: c is still ours (push_back's strong guarantee)
      ReportEscapedException(ThreadEntry::kWorker, "returning a connection",
                             std::current_exception());
    }
  }
  CloseLent(std::move(c));
}

Server::AfterWorker Server::ServeOnWorker(Connection& connection) {
  Connection* c = &connection;
  FdStream stream(c->fd, stop_fd_, options_.io_timeout_seconds * 1000,
                  options_.idle_timeout_seconds * 1000);
  Parser& parser = *c->parser;
  int64_t started = NowMs();
  int64_t started_us = MonotonicUs();
  auto& header = parser.get();
  Request request;
  FillRequest(parser, c->peer, started, request);
  if (auto len = parser.content_length()) request.content_length = *len;
  request.has_body = !parser.is_done();
  bool expect_100 = false;
  if (auto expect = FindHeader(request.headers, "expect")) {
    expect_100 = EqualsIgnoreCase(*expect, "100-continue");
  }
  SocketBodyReader body(stream, c->buffer, parser, expect_100, options_.min_body_rate,
                        options_.header_timeout_seconds * 1000LL);
  request.body = &body;

  Response response = Handle(request, ThreadEntry::kWorker);

  bool keep_alive = header.keep_alive() && !stopping_;
  bool body_left = !parser.is_done();
  if (body_left) keep_alive = false;
  uint64_t body_length = 0;
  bool send_body = false;
  std::string head = BuildHead(request, response, keep_alive, &body_length, &send_body);
  if (!body_left && body.expect_100() && !body.continue_sent()) {
    // The client asked for "100 Continue" and the handler never read (a zero-byte PUT): send it
    // before the final answer anyway. botocore otherwise takes this connection's next interim
    // read for a final one and reports a 200 for a later PUT whose server died (issue 13).
    // A request refused before its body gets none: that would invite a body we will not read.
    head.insert(0, "HTTP/1.1 100 Continue\r\n\r\n");
  }
  // Counted before it is sent, so that a client that has its answer also finds it counted.
  CountRequest(request, response, send_body ? body_length : 0, started_us);
  if (send_body && !body_left &&
      (response.file != nullptr || response.body.size() > kHandBackBytes)) {
    // Large: the event loop sends it without blocking, so a client that reads at a byte a second
    // ties up a connection slot (bounded by the limits) instead of a thread for as long as it
    // likes. The access line is written now, as for the loop's own responses.
    LogAccess(request, response, body_length, started);
    c->out = std::move(head);
    c->out_offset = 0;
    if (response.file) {
      c->file = std::move(response.file);
      c->file_sent = 0;
    } else {
      c->out += response.body;
    }
    c->close_after_write = !keep_alive;
    return AfterWorker::kWriteOnLoop;
  }
  Status sent;
  if (send_body && response.file) {
    sent = stream.SendAll(head, MSG_MORE);
    if (sent.ok()) {
      sent =
          stream.SendFile(response.file->fd->get(), response.file->offset, response.file->length);
    }
  } else {
    if (send_body) head += response.body;
    sent = stream.SendAll(head, 0);
  }
  LogAccess(request, response, send_body ? body_length : 0, started,
            sent.ok() ? nullptr : "send-failed");
  if (sent.ok() && keep_alive) return AfterWorker::kKeepAlive;
  if (sent.ok() && body_left) LingeringClose(c->fd);
  return AfterWorker::kClose;
}

}  // namespace logbucket::http
