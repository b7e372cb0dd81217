// `logbucket bench`: a SigV4-signed load generator for any S3 endpoint (PUT/GET/LIST), and the
// raw durable-write reference loop (create + write + fsync + rename + fsync dir) that the
// embedded store's PUT path is measured against.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "config/config.h"
#include "http/client/connection.h"
#include "platform/file_util.h"
#include "sigv4/sigv4.h"

namespace logbucket::app {
namespace {

struct BenchFlags {
  std::string endpoint;
  std::string bucket = "bench";
  std::string op = "get";
  std::string size_text = "4KiB";
  int connections = 16;
  double duration_s = 10;
  int objects = 64;
  std::string prefix = "bench/";
  std::string dir;  // fsync-loop
  std::string access_key;
  std::string secret_key;
  std::string region;
  bool json = false;
};

Result<uint64_t> ParseSize(const std::string& text) {
  static const std::pair<const char*, uint64_t> kUnits[] = {{"GiB", 1ULL << 30},
                                                            {"MiB", 1ULL << 20},
                                                            {"KiB", 1ULL << 10},
                                                            {"G", 1000000000ULL},
                                                            {"M", 1000000ULL},
                                                            {"K", 1000ULL},
                                                            {"B", 1}};
  for (const auto& [suffix, factor] : kUnits) {
    std::string_view s(suffix);
    if (text.size() > s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) {
      auto n = ParseDecimal(std::string_view(text).substr(0, text.size() - s.size()));
      if (n) return static_cast<uint64_t>(*n) * factor;
    }
  }
  auto n = ParseDecimal(text);
  if (!n)
    return Error(ErrorCode::kInvalidArgument, "--size: '" + text + "' is not a size like 4KiB");
  return static_cast<uint64_t>(*n);
}

struct WorkerStats {
  uint64_t requests = 0;
  uint64_t errors = 0;
  uint64_t bytes = 0;
  std::vector<double> latencies_ms;
  std::string first_error;
};

// All workers' figures in one, latencies sorted for percentiles.
WorkerStats Merge(const std::vector<WorkerStats>& stats) {
  WorkerStats total;
  for (const WorkerStats& s : stats) {
    total.requests += s.requests;
    total.errors += s.errors;
    total.bytes += s.bytes;
    if (total.first_error.empty()) total.first_error = s.first_error;
    total.latencies_ms.insert(total.latencies_ms.end(), s.latencies_ms.begin(),
                              s.latencies_ms.end());
  }
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  return total;
}

double Percentile(const WorkerStats& merged, double p) {
  const auto& l = merged.latencies_ms;
  return l.empty() ? 0.0 : l[static_cast<size_t>(p * static_cast<double>(l.size() - 1))];
}

struct Target {
  std::string host;
  uint16_t port = 0;
  std::string host_header;
};

Result<Target> ParseEndpoint(const std::string& endpoint) {
  std::string rest = endpoint;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else {
    return Error(ErrorCode::kInvalidArgument, "--endpoint must be http://HOST:PORT");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto hp = config::ParseHostPort(rest.find(':') == std::string::npos ? rest + ":80" : rest);
  if (!hp) return Error(ErrorCode::kInvalidArgument, "--endpoint: " + hp.error().message());
  return Target{hp->host, hp->port, rest};
}

// One signed request on a connection.
Result<http::client::ClientResponse> Signed(http::client::Connection& conn, const Target& target,
                                            const sigv4::ClientCredentials& creds,
                                            std::string_view method, const std::string& path,
                                            const std::string& query, std::string_view body,
                                            bool keep_body) {
  Headers headers{{"host", target.host_header}};
  sigv4::SignHeaders(method, path, query, headers, sigv4::kUnsignedPayload, creds,
                     SystemClock::Instance().NowMs());
  std::string request_target = query.empty() ? path : path + "?" + query;
  return conn.RoundTrip(method, request_target, headers, body, keep_body);
}

int RunFsyncLoop(const BenchFlags& f, uint64_t size) {
  if (f.dir.empty()) {
    std::fprintf(stderr, "logbucket bench: --dir is required for --op fsync-loop\n");
    return 2;
  }
  if (Status s = platform::MakeDirs(f.dir); !s.ok()) {
    std::fprintf(stderr, "logbucket bench: --dir %s: %s\n", f.dir.c_str(), s.message().c_str());
    return 1;
  }
  std::string payload(size, 'x');
  std::atomic<bool> stop{false};
  std::vector<WorkerStats> stats(f.connections);
  std::vector<std::thread> threads;
  threads.reserve(f.connections);
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < f.connections; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; !stop; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        std::string final_path = f.dir + "/f" + std::to_string(t) + "-" + std::to_string(i % 1000);
        std::string temp = final_path + ".tmp";
        int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        bool ok = fd >= 0 && platform::WriteAll(fd, payload, temp).ok() && ::fsync(fd) == 0;
        if (fd >= 0) ::close(fd);
        ok = ok && ::rename(temp.c_str(), final_path.c_str()) == 0 &&
             platform::FsyncPath(f.dir).ok();
        auto t1 = std::chrono::steady_clock::now();
        stats[t].requests++;
        if (!ok) stats[t].errors++;
        stats[t].bytes += size;
        stats[t].latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(f.duration_s));
  stop = true;
  for (auto& th : threads) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WorkerStats total = Merge(stats);
  auto pct = [&](double p) { return Percentile(total, p); };
  std::printf(
      f.json ? "{\"op\":\"fsync-loop\",\"size\":%llu,\"threads\":%d,\"seconds\":%.2f,"
               "\"ops\":%llu,\"errors\":%llu,\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n"
             : "op=fsync-loop size=%llu threads=%d seconds=%.2f ops=%llu errors=%llu "
               "ops/s=%.1f p50=%.3fms p99=%.3fms\n",
      static_cast<unsigned long long>(size), f.connections, elapsed,
      static_cast<unsigned long long>(total.requests),
      static_cast<unsigned long long>(total.errors), total.requests / elapsed, pct(0.5), pct(0.99));
  platform::RemoveTree(f.dir);
  return total.errors == 0 ? 0 : 1;
}

int RunBench(BenchFlags f) {
  auto size = ParseSize(f.size_text);
  if (!size) {
    std::fprintf(stderr, "logbucket bench: %s\n", size.error().message().c_str());
    return 2;
  }
  if (f.connections < 1 || f.connections > 4096) {
    std::fprintf(stderr, "logbucket bench: --connections must be 1..4096\n");
    return 2;
  }
  if (f.op == "fsync-loop") return RunFsyncLoop(f, *size);
  if (f.op != "get" && f.op != "put" && f.op != "list") {
    std::fprintf(stderr, "logbucket bench: --op must be put, get, list or fsync-loop\n");
    return 2;
  }
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  if (f.endpoint.empty()) f.endpoint = env("AWS_ENDPOINT_URL");
  if (f.access_key.empty()) f.access_key = env("AWS_ACCESS_KEY_ID");
  if (f.secret_key.empty()) f.secret_key = env("AWS_SECRET_ACCESS_KEY");
  if (f.region.empty()) f.region = env("AWS_DEFAULT_REGION");
  if (f.region.empty()) f.region = "us-east-1";
  if (f.endpoint.empty() || f.access_key.empty() || f.secret_key.empty()) {
    std::fprintf(stderr,
                 "logbucket bench: needs --endpoint and credentials (flags or "
                 "AWS_ENDPOINT_URL/AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n");
    return 2;
  }
  auto target = ParseEndpoint(f.endpoint);
  if (!target) {
    std::fprintf(stderr, "logbucket bench: %s\n", target.error().message().c_str());
    return 2;
  }
  sigv4::ClientCredentials creds{f.access_key, f.secret_key, f.region};
  std::string payload(*size, '\0');
  std::mt19937_64 rng(42);
  for (char& c : payload) c = static_cast<char>('a' + rng() % 26);

  // Set-up: the bucket, and the objects GET reads.
  {
    http::client::Connection conn(target->host, target->port);
    auto r = Signed(conn, *target, creds, "PUT", "/" + f.bucket, "", "", false);
    if (!r || (r->status != 200 && r->status != 409)) {
      std::fprintf(stderr, "logbucket bench: cannot create bucket %s: %s\n", f.bucket.c_str(),
                   r ? std::to_string(r->status).c_str() : r.error().message().c_str());
      return 1;
    }
    if (f.op == "get" || f.op == "list") {
      for (int i = 0; i < f.objects; ++i) {
        auto p =
            Signed(conn, *target, creds, "PUT",
                   "/" + f.bucket + "/" + f.prefix + "obj" + std::to_string(i), "", payload, false);
        if (!p || p->status != 200) {
          std::fprintf(stderr, "logbucket bench: set-up PUT failed\n");
          return 1;
        }
      }
    }
  }

  std::atomic<bool> stop{false};
  std::vector<WorkerStats> stats(f.connections);
  std::vector<std::thread> threads;
  threads.reserve(f.connections);
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < f.connections; ++t) {
    threads.emplace_back([&, t] {
      http::client::Connection conn(target->host, target->port);
      WorkerStats& s = stats[t];
      std::mt19937 pick(static_cast<unsigned>(t));
      for (uint64_t i = 0; !stop; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        Result<http::client::ClientResponse> r = Error(ErrorCode::kInternalError);
        if (f.op == "get") {
          r = Signed(conn, *target, creds, "GET",
                     "/" + f.bucket + "/" + f.prefix + "obj" + std::to_string(pick() % f.objects),
                     "", "", false);
        } else if (f.op == "put") {
          r = Signed(conn, *target, creds, "PUT",
                     "/" + f.bucket + "/" + f.prefix + "c" + std::to_string(t) + "-" +
                         std::to_string(i % 1000),
                     "", payload, false);
        } else {
          r = Signed(conn, *target, creds, "GET", "/" + f.bucket,
                     "list-type=2&max-keys=1000&prefix=" + UriEncode(f.prefix, false), "", false);
        }
        auto t1 = std::chrono::steady_clock::now();
        s.requests++;
        if (!r || r->status >= 300) {
          if (s.first_error.empty()) {
            s.first_error = r ? "HTTP " + std::to_string(r->status) : r.error().message();
          }
          s.errors++;
          continue;
        }
        s.bytes += f.op == "put" ? payload.size() : r->body_bytes;
        s.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(f.duration_s));
  stop = true;
  for (auto& th : threads) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WorkerStats total = Merge(stats);
  auto pct = [&](double p) { return Percentile(total, p); };
  double ok = static_cast<double>(total.requests - total.errors);
  std::printf(f.json ? "{\"op\":\"%s\",\"size\":%llu,\"connections\":%d,\"seconds\":%.2f,"
                       "\"requests\":%llu,\"errors\":%llu,\"req_per_s\":%.1f,\"mb_per_s\":%.2f,"
                       "\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n"
                     : "op=%s size=%llu connections=%d seconds=%.2f requests=%llu errors=%llu "
                       "req/s=%.1f MB/s=%.2f p50=%.3fms p99=%.3fms\n",
              f.op.c_str(), static_cast<unsigned long long>(*size), f.connections, elapsed,
              static_cast<unsigned long long>(total.requests),
              static_cast<unsigned long long>(total.errors), ok / elapsed,
              total.bytes / elapsed / 1e6, pct(0.5), pct(0.99));
  if (total.errors > 0) {
    std::fprintf(stderr, "logbucket bench: %llu errors, first: %s\n",
                 static_cast<unsigned long long>(total.errors), total.first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void RegisterBench(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand("bench",
                                     "SigV4-signed load generator (PUT/GET/LIST) and the "
                                     "raw fsync reference loop");
  cmd->add_option("--endpoint", f->endpoint, "S3 endpoint http://HOST:PORT (env AWS_ENDPOINT_URL)");
  cmd->add_option("--bucket", f->bucket, "bucket to use (created if missing)");
  cmd->add_option("--op", f->op, "put, get, list or fsync-loop");
  cmd->add_option("--size", f->size_text, "object size, e.g. 4KiB, 8MiB");
  cmd->add_option("--connections", f->connections, "concurrent connections (threads)");
  cmd->add_option("--duration", f->duration_s, "seconds to run");
  cmd->add_option("--objects", f->objects, "objects written in set-up for get/list");
  cmd->add_option("--prefix", f->prefix, "key prefix");
  cmd->add_option("--dir", f->dir, "directory for --op fsync-loop");
  cmd->add_option("--access-key", f->access_key, "access key (env AWS_ACCESS_KEY_ID)");
  cmd->add_option("--secret-key", f->secret_key, "secret key (env AWS_SECRET_ACCESS_KEY)");
  cmd->add_option("--region", f->region, "region for signing (env AWS_DEFAULT_REGION)");
  cmd->add_flag("--json", f->json, "one JSON line instead of text");
  cmd->callback([f, &exit_code] { exit_code = RunBench(*f); });
}

}  // namespace logbucket::app
