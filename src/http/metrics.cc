#include "http/metrics.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <iterator>

#include "common/guard.h"

namespace logbucket::http {

void Metrics::Listener::RecordRequest(std::string_view operation, int status,
                                      uint64_t request_body_bytes, uint64_t response_body_bytes,
                                      int64_t duration_us) {
  if (operation.empty()) operation = "other";
  if (duration_us < 0) duration_us = 0;
  size_t bucket = 0;
  while (bucket < kLatencyBucketsSeconds.size() &&
         static_cast<double>(duration_us) > kLatencyBucketsSeconds[bucket] * 1e6) {
    ++bucket;
  }
  std::lock_guard lock(mu_);
  auto it = operations_.find(operation);
  if (it == operations_.end()) it = operations_.emplace(std::string(operation), Operation{}).first;
  Operation& op = it->second;
  ++op.by_status[status];
  if (bucket < op.latency_buckets.size()) ++op.latency_buckets[bucket];
  ++op.count;
  op.duration_us_sum += duration_us;
  op.request_bytes += request_body_bytes;
  op.response_bytes += response_body_bytes;
}

Metrics::Metrics()
    : start_time_seconds_(std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()) {}

Metrics::Listener& Metrics::AddListener(std::string name) {
  std::lock_guard lock(mu_);
  return listeners_.emplace_back(std::move(name));
}

void Metrics::AddSource(Source source) {
  std::lock_guard lock(mu_);
  sources_.push_back(std::move(source));
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void AppendFamilyHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  // Counts as integers ("1000000", not fmt's shortest "1e+06"): exact up to 2^53.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    fmt::format_to(std::back_inserter(out), "{}\n", static_cast<int64_t>(value));
  } else {
    fmt::format_to(std::back_inserter(out), "{}\n", value);
  }
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  // A consistent copy of each listener's operations, taken once, so that a request finishing
  // while we write cannot make _count disagree with the buckets.
  struct Snapshot {
    std::string label;  // listener="s3"
    std::map<std::string, Listener::Operation, std::less<>> operations;
    int64_t open = 0;
    uint64_t refused = 0;
    uint64_t evicted = 0;
    int64_t busy_workers = 0;
  };
  std::vector<Snapshot> snapshots;
  for (const Listener& l : listeners_) {
    Snapshot s;
    s.label = "listener=\"" + EscapeLabelValue(l.name_) + "\"";
    {
      std::lock_guard listener_lock(l.mu_);
      s.operations = l.operations_;
    }
    s.open = l.open_connections_.load(std::memory_order_relaxed);
    s.refused = l.refused_connections_.load(std::memory_order_relaxed);
    s.evicted = l.evicted_connections_.load(std::memory_order_relaxed);
    s.busy_workers = l.busy_workers_.load(std::memory_order_relaxed);
    snapshots.push_back(std::move(s));
  }
  auto op_label = [](const Snapshot& s, const std::string& op) {
    return s.label + ",operation=\"" + EscapeLabelValue(op) + "\"";
  };

  std::string out;
  out.reserve(16384);
  AppendFamilyHeader(out, "logbucket_build_info", "gauge", "The running version (always 1).");
  AppendSample(out, "logbucket_build_info", "version=\"" LOGBUCKET_VERSION "\"", 1);
  AppendFamilyHeader(out, "logbucket_start_time_seconds", "gauge",
                     "When this process started, in seconds since the Unix epoch.");
  AppendSample(out, "logbucket_start_time_seconds", "", static_cast<double>(start_time_seconds_));

  AppendFamilyHeader(out, "logbucket_http_requests_total", "counter",
                     "Requests answered, by listener, operation and HTTP status.");
  for (const Snapshot& s : snapshots) {
    for (const auto& [name, op] : s.operations) {
      for (const auto& [status, count] : op.by_status) {
        AppendSample(out, "logbucket_http_requests_total",
                     op_label(s, name) + ",status=\"" + std::to_string(status) + "\"",
                     static_cast<double>(count));
      }
    }
  }
  AppendFamilyHeader(out, "logbucket_http_request_duration_seconds", "histogram",
                     "Time from a request's header being read until its response was ready "
                     "to send (receiving an upload is included, sending a download is not).");
  for (const Snapshot& s : snapshots) {
    for (const auto& [name, op] : s.operations) {
      std::string labels = op_label(s, name);
      uint64_t cumulative = 0;
      for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
        cumulative += op.latency_buckets[i];
        AppendSample(out, "logbucket_http_request_duration_seconds_bucket",
                     labels + fmt::format(",le=\"{}\"", kLatencyBucketsSeconds[i]),
                     static_cast<double>(cumulative));
      }
      AppendSample(out, "logbucket_http_request_duration_seconds_bucket", labels + ",le=\"+Inf\"",
                   static_cast<double>(op.count));
      AppendSample(out, "logbucket_http_request_duration_seconds_sum", labels,
                   static_cast<double>(op.duration_us_sum) / 1e6);
      AppendSample(out, "logbucket_http_request_duration_seconds_count", labels,
                   static_cast<double>(op.count));
    }
  }
  auto bytes_family = [&](const char* family, const char* help,
                          uint64_t Listener::Operation::*field) {
    AppendFamilyHeader(out, family, "counter", help);
    for (const Snapshot& s : snapshots) {
      for (const auto& [name, op] : s.operations) {
        AppendSample(out, family, op_label(s, name), static_cast<double>(op.*field));
      }
    }
  };
  bytes_family("logbucket_http_request_body_bytes_total",
               "Request body bytes announced by Content-Length (uploads).",
               &Listener::Operation::request_bytes);
  bytes_family("logbucket_http_response_body_bytes_total",
               "Response body bytes sent (or being sent).", &Listener::Operation::response_bytes);
  AppendFamilyHeader(out, "logbucket_http_open_connections", "gauge",
                     "Connections open now (at most http.max_connections per listener).");
  for (const Snapshot& s : snapshots) {
    AppendSample(out, "logbucket_http_open_connections", s.label, static_cast<double>(s.open));
  }
  AppendFamilyHeader(out, "logbucket_http_refused_connections_total", "counter",
                     "Connections answered 503 SlowDown because the listener was full.");
  for (const Snapshot& s : snapshots) {
    AppendSample(out, "logbucket_http_refused_connections_total", s.label,
                 static_cast<double>(s.refused));
  }
  AppendFamilyHeader(out, "logbucket_http_evicted_connections_total", "counter",
                     "Waiting connections (idle keep-alives, request heads still arriving) "
                     "closed to admit a new connection at http.max_connections.");
  for (const Snapshot& s : snapshots) {
    AppendSample(out, "logbucket_http_evicted_connections_total", s.label,
                 static_cast<double>(s.evicted));
  }
  AppendFamilyHeader(out, "logbucket_http_busy_workers", "gauge",
                     "Worker threads running a request now (uploads, slow pages); a response "
                     "that does not fit the socket is sent by the event loop, not a worker.");
  for (const Snapshot& s : snapshots) {
    AppendSample(out, "logbucket_http_busy_workers", s.label, static_cast<double>(s.busy_workers));
  }
  AppendFamilyHeader(out, "logbucket_escaped_exceptions_total", "counter",
                     "Exceptions stopped at a thread entry (a bug or an exhausted resource: the "
                     "request or task it happened in failed, the process kept running).");
  for (size_t i = 0; i < static_cast<size_t>(ThreadEntry::kCount); ++i) {
    auto where = static_cast<ThreadEntry>(i);
    AppendSample(out, "logbucket_escaped_exceptions_total",
                 "where=\"" + std::string(ThreadEntryName(where)) + "\"",
                 static_cast<double>(EscapedExceptions(where)));
  }
  for (const Source& source : sources_) source(out);
  return out;
}

}  // namespace logbucket::http
