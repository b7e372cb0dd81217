#include "app/listeners.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "app/connection.h"
#include "auth/gate.h"
#include "auth/oidc.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/net.h"
#include "config/config.h"
#include "http/metrics.h"
#include "http/server/server.h"
#include "platform/file_util.h"
#include "s3/janitor.h"
#include "s3/service.h"
#include "s3client/client.h"
#include "store/local/local_store.h"
#include "store/remote/remote_store.h"
#include "web/viewer.h"

namespace logbucket::app {

std::string EndpointUrl(const std::string& listen, uint16_t port, bool tls) {
  auto hp = config::ParseHostPort(listen);
  std::string host = hp ? hp->host : "127.0.0.1";
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

void AppendDataDirMetrics(const std::string& data_dir, std::string& out) {
  struct statvfs fs {};
  if (::statvfs(data_dir.c_str(), &fs) != 0) return;
  const double block = static_cast<double>(fs.f_frsize);
  const std::string labels = "path=\"" + http::EscapeLabelValue(data_dir) + "\"";
  http::AppendFamilyHeader(out, "logbucket_data_dir_size_bytes", "gauge",
                           "Size of the file system holding the data directory.");
  http::AppendSample(out, "logbucket_data_dir_size_bytes", labels,
                     block * static_cast<double>(fs.f_blocks));
  http::AppendFamilyHeader(out, "logbucket_data_dir_free_bytes", "gauge",
                           "Bytes available to logbucket on that file system.");
  http::AppendSample(out, "logbucket_data_dir_free_bytes", labels,
                     block * static_cast<double>(fs.f_bavail));
  http::AppendFamilyHeader(out, "logbucket_data_dir_free_inodes", "gauge",
                           "Inodes available on that file system (each large object is a file).");
  http::AppendSample(out, "logbucket_data_dir_free_inodes", labels,
                     static_cast<double>(fs.f_favail));
}

http::ServerOptions ListenerOptions(const config::Config& cfg, http::Metrics& metrics) {
  http::ServerOptions o;
  o.metrics = &metrics;
  o.max_connections = cfg.http.max_connections;
  o.idle_timeout_seconds = cfg.http.idle_timeout_seconds;
  o.io_timeout_seconds = cfg.http.io_timeout_seconds;
  o.header_timeout_seconds = cfg.http.header_timeout_seconds;
  o.min_body_rate = cfg.http.min_body_rate;
  o.max_connections_per_client = cfg.http.max_connections_per_client;
  o.max_header_bytes = cfg.http.max_header_bytes;
  o.access_log = cfg.http.access_log;
  return o;
}

void AppendRemoteStoreMetrics(const store::RemoteStoreCounters& c, std::string& out) {
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    const std::atomic<uint64_t>& value;
  };
  const Family families[] = {
      {"logbucket_remote_cache_hits_total", "counter", "Object bodies opened from the cache.",
       c.cache_hits},
      {"logbucket_remote_cache_downloads_total", "counter",
       "Object bodies downloaded whole into the cache.", c.downloads},
      {"logbucket_remote_cache_downloaded_bytes_total", "counter",
       "Bytes downloaded into the cache.", c.downloaded_bytes},
      {"logbucket_remote_cache_download_failures_total", "counter",
       "Download attempts that failed (each is tried up to 3 times).", c.download_failures},
      {"logbucket_remote_ranged_reads_total", "counter",
       "Ranged GETs of objects larger than the cache cap.", c.ranged_reads},
      {"logbucket_remote_cache_evictions_total", "counter",
       "Cached bodies removed to stay under the cap.", c.evictions},
      {"logbucket_remote_cache_evicted_bytes_total", "counter", "Bytes removed from the cache.",
       c.evicted_bytes},
      {"logbucket_remote_cache_bytes", "gauge",
       "Bytes in the cache after the latest eviction pass.", c.cached_bytes},
  };
  for (const Family& f : families) {
    http::AppendFamilyHeader(out, f.name, f.type, f.help);
    http::AppendSample(out, f.name, "",
                       static_cast<double>(f.value.load(std::memory_order_relaxed)));
  }
}

}  // namespace logbucket::app
