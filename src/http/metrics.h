// What the HTTP listeners did, for a Prometheus scraper (`GET /_metrics`, docs/OPERATIONS.md):
// requests by listener, operation and status, their latency, bytes in and out, open and refused
// connections. One Metrics per process, shared by its listeners; other parts (the remote store's
// cache) add their own families through sources. The text is Prometheus' exposition format
// 0.0.4: one HELP and TYPE per family, every sample of a family together.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace logbucket::http {

// Latency buckets (seconds): a GET of a cached page is a millisecond or two, a 500 MB first
// index a second or more.
inline constexpr std::array<double, 12> kLatencyBucketsSeconds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

class Metrics {
 public:
  // One listener's counters. Requests are grouped by operation, a name from a fixed set the
  // handlers choose ("GetObject", "lines", …): never a key, a bucket or anything a client
  // spells, so the number of series stays bounded.
  class Listener {
   public:
    explicit Listener(std::string name) : name_(std::move(name)) {}
    void ConnectionOpened() { open_connections_.fetch_add(1, std::memory_order_relaxed); }
    void ConnectionClosed() { open_connections_.fetch_sub(1, std::memory_order_relaxed); }
    void ConnectionRefused() { refused_connections_.fetch_add(1, std::memory_order_relaxed); }
    // A waiting connection (idle keep-alive, or a request head still arriving) closed to admit a
    // new one at the connection limit.
    void ConnectionEvicted() { evicted_connections_.fetch_add(1, std::memory_order_relaxed); }
    void WorkerStarted() { busy_workers_.fetch_add(1, std::memory_order_relaxed); }
    void WorkerFinished() { busy_workers_.fetch_sub(1, std::memory_order_relaxed); }
    void RecordRequest(std::string_view operation, int status, uint64_t request_body_bytes,
                       uint64_t response_body_bytes, int64_t duration_us);

   private:
    friend class Metrics;
    struct Operation {
      std::map<int, uint64_t> by_status;
      std::array<uint64_t, kLatencyBucketsSeconds.size()> latency_buckets{};  // not cumulative
      uint64_t count = 0;
      int64_t duration_us_sum = 0;
      uint64_t request_bytes = 0;
      uint64_t response_bytes = 0;
    };
    std::string name_;
    std::atomic<int64_t> open_connections_{0};
    std::atomic<uint64_t> refused_connections_{0};
    std::atomic<uint64_t> evicted_connections_{0};
    std::atomic<int64_t> busy_workers_{0};
    mutable std::mutex mu_;
    std::map<std::string, Operation, std::less<>> operations_;
  };

  Metrics();
  // The address stays valid for the Metrics' lifetime.
  Listener& AddListener(std::string name);
  // Appends whole families (HELP, TYPE, samples) to the exposition.
  using Source = std::function<void(std::string& out)>;
  void AddSource(Source source);
  // The exposition text, served as "text/plain; version=0.0.4".
  std::string Render() const;

 private:
  int64_t start_time_seconds_;
  mutable std::mutex mu_;
  std::deque<Listener> listeners_;
  std::vector<Source> sources_;
};

// Helpers for sources: a family's HELP and TYPE lines, and a sample.
void AppendFamilyHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help);
void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value);

// A label value escaped for the exposition format (backslash, quote, newline).
std::string EscapeLabelValue(std::string_view value);

}  // namespace logbucket::http
