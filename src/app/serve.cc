// `logbucket serve`: config → store → S3 service → listener; signals; graceful drain.
#include <signal.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "app/connection.h"
#include "app/listeners.h"
#include "app/reload.h"
#include "app/supervise.h"
#include "app/web_frontend.h"
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
namespace {

struct ServeFlags {
  std::string config_file;
  std::string data_dir;
  std::string s3_listen;
  std::string region;
  std::vector<std::string> domains;
  std::vector<std::string> trusted_proxies;
  int64_t lifecycle_day_seconds = 0;
  int64_t lifecycle_interval_seconds = -1;
  int64_t lifecycle_clock_offset_seconds = 0;
  bool quiet_access_log = false;
  std::string web_listen;
  bool no_web = false;
  bool insecure_no_auth = false;
  std::string auth_mode;
  std::vector<std::string> require_roles;
  std::vector<std::string> auth_trusted_proxies;
  std::string auth_proxy_kind;
  std::string public_url;
  std::string web_tls_cert;
  std::string web_tls_key;
  std::string store_url;
  std::string endpoint;
  bool anonymous = false;
  std::string profile;
  int64_t cache_max_bytes = 0;
  int64_t metadata_ttl_ms = -1;
  std::string ca_bundle;
};

std::string AdminEnv(const store::User& user, const std::string& region,
                     const std::string& endpoint) {
  return "AWS_ACCESS_KEY_ID=" + user.access_key + "\nAWS_SECRET_ACCESS_KEY=" + user.secret_key +
         "\nAWS_DEFAULT_REGION=" + region + "\nAWS_ENDPOINT_URL=" + endpoint + "\n";
}

// `serve --store s3://BUCKET --endpoint URL`: the viewer alone, over a bucket elsewhere; no S3
// listener, no janitor (the bucket's own lifecycle rules apply), no users.
void Reload(const ServeFlags& flags, config::Config& running, const LiveParts& parts);

int RunRemoteViewer(const ServeFlags& flags, config::Config& cfg, sigset_t& signals) {
  if (cfg.web.listen.empty()) {
    std::fprintf(stderr, "logbucket serve: --store without the viewer (--no-web) serves nothing\n");
    return 2;
  }
  store::RemoteStoreOptions o;
  auto bucket = store::ParseS3Url(cfg.store.url);
  if (!bucket) {
    std::fprintf(stderr, "logbucket serve: --store: %s\n", bucket.error().message().c_str());
    return 2;
  }
  o.bucket = *bucket;
  o.client.endpoint = cfg.store.endpoint;
  o.client.region = cfg.store.region;
  o.client.virtual_host = cfg.store.virtual_host;
  o.cache_dir = cfg.data_dir + "/remote-cache";
  o.cache_max_bytes = static_cast<uint64_t>(cfg.store.cache_max_bytes);
  o.metadata_ttl_ms = cfg.store.metadata_ttl_ms;
  auto ca = ResolveCaBundle(cfg.store.ca_bundle, "store.ca_bundle");
  if (!ca) {
    std::fprintf(stderr, "logbucket serve: %s\n", ca.error().message().c_str());
    return 2;
  }
  o.client.http.ca_file = *ca;
  store::RemoteStoreCounters counters;  // outlives the store and the metrics page
  o.counters = &counters;
  if (!cfg.store.anonymous) {
    auto credentials = s3client::ResolveCredentials("", "", cfg.store.profile, cfg.store.region);
    if (!credentials) {
      std::fprintf(stderr, "logbucket serve: %s\n", credentials.error().message().c_str());
      return 2;
    }
    o.client.credentials = *credentials;
  }
  if (Status s = platform::MakeDirs(cfg.data_dir, 0700); !s.ok()) {
    std::fprintf(stderr, "logbucket serve: --data %s: %s\n", cfg.data_dir.c_str(),
                 s.message().c_str());
    return 1;
  }
  auto store = store::OpenRemoteStore(o);
  if (!store) {
    std::fprintf(stderr, "logbucket serve: --store %s at %s: %s\n", cfg.store.url.c_str(),
                 cfg.store.endpoint.c_str(), store.error().message().c_str());
    return 1;
  }
  MetricsPage metrics_page(cfg);
  metrics_page.metrics().AddSource(
      [&counters](std::string& out) { AppendRemoteStoreMetrics(counters, out); });
  metrics_page.metrics().AddSource(
      [&cfg](std::string& out) { AppendDataDirMetrics(cfg.data_dir, out); });
  http::ServerOptions server_options = ListenerOptions(cfg, metrics_page.metrics());
  WebFrontend web;
  if (int code = ListenWeb(cfg, **store, server_options, metrics_page, web); code != 0) {
    return code;
  }
  AddViewerMetrics(metrics_page.metrics(), web);
  web.server->Start();
  std::printf("logbucket log viewer at %s/ over %s at %s (%s; cache %s/remote-cache)\n",
              web.url.c_str(), cfg.store.url.c_str(), cfg.store.endpoint.c_str(),
              o.client.credentials ? "signed requests" : "anonymous", cfg.data_dir.c_str());
  std::fflush(stdout);
  LiveParts parts{&metrics_page, nullptr, nullptr, &web};
  WaitAndDrain(signals, cfg.http.drain_seconds, {web.server.get()},
               [&] { Reload(flags, cfg, parts); });
  Log().info("stopped");
  return 0;
}

// Every connection is a descriptor (two behind TLS), and so is every open blob: the soft limit
// systemd and shells give (1024) is below http.max_connections on both listeners. Raised to the
// hard limit, with a warning when even that is short.
void RaiseFileLimit(const config::Config& cfg) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  auto want = static_cast<rlim_t>(cfg.http.max_connections) * 3 + 256;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < want) {
    Log().warn(
        "open files limit is {} (hard): below what http.max_connections = {} on two listeners "
        "needs (~{}); raise LimitNOFILE / ulimit -Hn",
        static_cast<uint64_t>(limit.rlim_cur), cfg.http.max_connections,
        static_cast<uint64_t>(want));
  }
}

// The configuration file, then $LOGBUCKET_DATA, then the flags, validated: at start, and again
// on SIGHUP (the flags keep winning over the file).
Result<config::Config> LoadServeConfig(const ServeFlags& flags) {
  config::Config cfg;
  if (!flags.config_file.empty()) {
    Status s = config::LoadTomlFile(flags.config_file, cfg);
    if (!s.ok()) return Error(ErrorCode::kInvalidArgument, "--config: " + s.message());
  }
  if (const char* env = std::getenv("LOGBUCKET_DATA")) cfg.data_dir = env;
  if (!flags.data_dir.empty()) cfg.data_dir = flags.data_dir;
  if (!flags.s3_listen.empty()) cfg.s3.listen = flags.s3_listen;
  if (!flags.region.empty()) cfg.s3.region = flags.region;
  if (!flags.domains.empty()) cfg.s3.domains = flags.domains;
  if (!flags.trusted_proxies.empty()) cfg.s3.trusted_proxies = flags.trusted_proxies;
  if (flags.lifecycle_day_seconds > 0) cfg.lifecycle_day_seconds = flags.lifecycle_day_seconds;
  if (flags.lifecycle_interval_seconds >= 0) {
    cfg.lifecycle_interval_seconds = flags.lifecycle_interval_seconds;
  }
  if (flags.lifecycle_clock_offset_seconds != 0) {
    cfg.lifecycle_clock_offset_seconds = flags.lifecycle_clock_offset_seconds;
  }
  if (flags.quiet_access_log) cfg.http.access_log = false;
  if (!flags.web_listen.empty()) cfg.web.listen = flags.web_listen;
  if (flags.no_web) cfg.web.listen.clear();
  if (flags.insecure_no_auth) cfg.web.insecure_no_auth = true;
  if (!flags.auth_mode.empty()) cfg.auth.mode = flags.auth_mode;
  if (!flags.require_roles.empty()) cfg.auth.require_roles = flags.require_roles;
  if (!flags.auth_trusted_proxies.empty()) cfg.auth.trusted_proxies = flags.auth_trusted_proxies;
  if (!flags.auth_proxy_kind.empty()) cfg.auth.proxy_kind = flags.auth_proxy_kind;
  if (!flags.public_url.empty()) cfg.web.public_url = flags.public_url;
  if (!flags.web_tls_cert.empty()) cfg.web.tls_cert_file = flags.web_tls_cert;
  if (!flags.web_tls_key.empty()) cfg.web.tls_key_file = flags.web_tls_key;
  if (!flags.store_url.empty()) cfg.store.url = flags.store_url;
  if (!flags.endpoint.empty()) cfg.store.endpoint = flags.endpoint;
  if (!flags.region.empty()) cfg.store.region = flags.region;
  if (flags.anonymous) cfg.store.anonymous = true;
  if (!flags.profile.empty()) cfg.store.profile = flags.profile;
  if (flags.cache_max_bytes > 0) cfg.store.cache_max_bytes = flags.cache_max_bytes;
  if (flags.metadata_ttl_ms >= 0) cfg.store.metadata_ttl_ms = flags.metadata_ttl_ms;
  if (!flags.ca_bundle.empty()) cfg.store.ca_bundle = flags.ca_bundle;
  LB_RETURN_IF_ERROR(config::Validate(cfg));
  return cfg;
}

// SIGHUP: the configuration read again; what changed is applied or named (app/reload.h).
void Reload(const ServeFlags& flags, config::Config& running, const LiveParts& parts) {
  auto next = LoadServeConfig(flags);
  if (!next) {
    Log().error("reload: {}; the running configuration stays", next.error().message());
    return;
  }
  Log().warn("reload: {}", DescribeReload(ApplyReload(running, *next, parts)));
}

int RunServe(const ServeFlags& flags) {
  auto loaded = LoadServeConfig(flags);
  if (!loaded) {
    std::fprintf(stderr, "logbucket serve: %s\n", loaded.error().message().c_str());
    return 2;
  }
  config::Config cfg = std::move(*loaded);
  Log().set_level(spdlog::level::from_str(cfg.log_level));

  // Block the signals we wait for before any thread starts, so they all inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reload (app/reload.h)
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit(cfg);

  if (!cfg.store.url.empty()) return RunRemoteViewer(flags, cfg, signals);

  store::LocalStoreOptions store_options;
  store_options.data_dir = cfg.data_dir;
  store_options.min_free_bytes = cfg.s3.min_free_bytes;
  store_options.reserve_bytes = cfg.s3.reserve_bytes;
  auto store = store::OpenLocalStore(store_options);
  if (!store) {
    std::fprintf(stderr, "logbucket serve: --data %s: %s\n", cfg.data_dir.c_str(),
                 store.error().message().c_str());
    return 1;
  }
  const auto& report = (*store)->recovery_report();
  if (report.missing_blobs > 0) {
    Log().error(
        "recovery: {} objects or parts have lost their body file under {}/blobs (they answer "
        "500 until rewritten); the disk or someone removed files",
        report.missing_blobs, cfg.data_dir);
  }
  if (report.temp_files_removed > 0 || report.orphan_blobs_removed > 0) {
    Log().warn(
        "recovery: removed {} partly received object bodies (requests cut off by the last stop) "
        "and {} unreferenced blobs",
        report.temp_files_removed, report.orphan_blobs_removed);
  }

  auto hp = config::ParseHostPort(cfg.s3.listen);
  MetricsPage metrics_page(cfg);
  metrics_page.metrics().AddSource(
      [&cfg](std::string& out) { AppendDataDirMetrics(cfg.data_dir, out); });
  http::ServerOptions server_options = ListenerOptions(cfg, metrics_page.metrics());
  server_options.host = hp->host;
  server_options.port = hp->port;
  server_options.max_body_bytes =
      cfg.s3.max_object_bytes + (cfg.s3.max_object_bytes / 8) + (1 << 20);
  server_options.name = "s3";
  // A proxy in front of the S3 port carries everyone's requests: its connections are not capped.
  for (const auto& p : cfg.s3.trusted_proxies)
    server_options.uncapped_peers.push_back(*ParseCidr(p));

  s3::ServiceOptions service_options;
  service_options.s3 = cfg.s3;
  service_options.metrics_page = [&metrics_page](const http::Request& r) {
    return metrics_page.Serve(r);
  };
  s3::Service service(service_options, **store, **store);
  http::Server server(server_options, [&service](http::Request& r) { return service.Handle(r); });
  if (Status s = server.Listen(); !s.ok()) {
    std::fprintf(stderr, "logbucket serve: --s3-listen %s: %s\n", cfg.s3.listen.c_str(),
                 s.message().c_str());
    return 1;
  }
  std::string endpoint = EndpointUrl(cfg.s3.listen, server.port());

  // First start on an empty data dir: create the admin key pair and admin.env.
  std::string env_path = cfg.data_dir + "/admin.env";
  auto users = (*store)->ListUsers();
  if (!users) {
    std::fprintf(stderr, "logbucket serve: %s\n", users.error().message().c_str());
    return 1;
  }
  bool created_admin = false;
  if (users->empty()) {
    auto admin = (*store)->AddUser("admin", /*admin=*/true);
    if (!admin) {
      std::fprintf(stderr, "logbucket serve: creating the admin user: %s\n",
                   admin.error().message().c_str());
      return 1;
    }
    users->push_back(*admin);
    created_admin = true;
  }
  const store::User* admin = nullptr;
  for (const store::User& u : *users) {
    if (u.admin && (admin == nullptr || u.name == "admin")) admin = &u;
  }
  if (admin != nullptr) {
    // Rewritten at every start so the endpoint line follows --s3-listen.
    Status s = platform::WriteFileAtomic(env_path, AdminEnv(*admin, cfg.s3.region, endpoint), 0600);
    if (!s.ok()) Log().warn("could not write {}: {}", env_path, s.message());
  }

  s3::JanitorOptions janitor_options;
  janitor_options.day_ms = cfg.lifecycle_day_seconds * 1000;
  janitor_options.interval_ms =
      cfg.lifecycle_interval_seconds > 0
          ? cfg.lifecycle_interval_seconds * 1000
          : std::clamp<int64_t>(cfg.lifecycle_day_seconds * 1000 / 4, 1000, 3600 * 1000);
  janitor_options.clock_offset_ms = cfg.lifecycle_clock_offset_seconds * 1000;
  s3::Janitor janitor(**store, janitor_options);
  janitor.Start();

  // The build index hears of every committed change to an object (after the viewer exists).
  auto index_hook = std::make_shared<builds::IndexerHook>();
  (*store)->SetObjectListener([index_hook](const std::string& bucket, const std::string& key) {
    index_hook->Notify(bucket, key);
  });
  WebFrontend web;
  if (int code = ListenWeb(cfg, **store, server_options, metrics_page, web); code != 0) {
    return code;
  }
  index_hook->Attach(web.indexer.get());
  struct DetachFirst {  // before `web` (and its indexer) goes
    builds::IndexerHook& hook;
    ~DetachFirst() { hook.Detach(); }
  } detach_first{*index_hook};
  AddViewerMetrics(metrics_page.metrics(), web);
  http::Server* web_server = web.server.get();
  const std::string& web_url = web.url;

  server.Start();
  if (web_server) web_server->Start();
  std::printf("logbucket is serving S3 at %s (data: %s)\n", endpoint.c_str(), cfg.data_dir.c_str());
  if (web_server) std::printf("logbucket log viewer at %s/\n", web_url.c_str());
  if (admin != nullptr) {
    std::printf("%s admin credentials (also in %s):\n", created_admin ? "Created" : "Existing",
                env_path.c_str());
    std::printf(
        "  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n  AWS_DEFAULT_REGION=%s\n"
        "  AWS_ENDPOINT_URL=%s\n",
        admin->access_key.c_str(), admin->secret_key.c_str(), cfg.s3.region.c_str(),
        endpoint.c_str());
    std::printf(
        "Try (awscli before 2.13 ignores AWS_ENDPOINT_URL, so it is passed explicitly):\n"
        "  set -a; . %s; set +a\n"
        "  aws --endpoint-url \"$AWS_ENDPOINT_URL\" s3 mb s3://alice-build-logs\n"
        "  aws --endpoint-url \"$AWS_ENDPOINT_URL\" s3 cp fullLog.txt "
        "s3://alice-build-logs/test.txt\n"
        "  s3cmd --access_key=\"$AWS_ACCESS_KEY_ID\" --secret_key=\"$AWS_SECRET_ACCESS_KEY\" "
        "--host=%s --host-bucket=%s --no-ssl ls\n",
        env_path.c_str(), endpoint.substr(7).c_str(), endpoint.substr(7).c_str());
  }
  std::fflush(stdout);

  LiveParts parts{&metrics_page, &service, &server, &web};
  WaitAndDrain(signals, cfg.http.drain_seconds, {&server, web_server},
               [&] { Reload(flags, cfg, parts); });
  janitor.Stop();
  Log().info("stopped");
  return 0;
}

}  // namespace

void RegisterServe(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the embedded S3 store");
  cmd->add_option("--config", flags->config_file, "TOML configuration file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", flags->data_dir, "data directory (default ./data)");
  cmd->add_option("--s3-listen", flags->s3_listen,
                  "S3 listener HOST:PORT (default 127.0.0.1:9000)");
  cmd->add_option("--region", flags->region, "region name (default us-east-1)");
  cmd->add_option("--domain", flags->domains,
                  "domain for virtual-hosted-style requests (<bucket>.<domain>); repeatable");
  cmd->add_option("--trusted-proxy", flags->trusted_proxies,
                  "CIDR of a proxy whose X-Forwarded-For is trusted; repeatable");
  cmd->add_option("--lifecycle-day-seconds", flags->lifecycle_day_seconds,
                  "length of one lifecycle day in seconds (tests)");
  cmd->add_option("--lifecycle-interval-seconds", flags->lifecycle_interval_seconds,
                  "time between lifecycle janitor passes (default: a quarter day, at most 1 h)");
  cmd->add_option("--lifecycle-clock-offset-seconds", flags->lifecycle_clock_offset_seconds,
                  "the janitor acts as if it were this much later (testing expiry)");
  cmd->add_flag("--no-access-log", flags->quiet_access_log, "do not log one line per request");
  cmd->add_option("--web-listen", flags->web_listen,
                  "log viewer listener HOST:PORT (default 127.0.0.1:8080)");
  cmd->add_flag("--no-web", flags->no_web, "do not start the log viewer");
  cmd->add_flag("--insecure-no-auth", flags->insecure_no_auth,
                "allow the viewer on a non-loopback address without sign-in (only behind an "
                "authenticating proxy)");
  cmd->add_option("--auth", flags->auth_mode,
                  "viewer sign-in: none (loopback only), proxy (identity headers from "
                  "--auth-trusted-proxy), oidc (OpenID Connect, [auth.oidc] in --config)")
      ->check(CLI::IsMember({"none", "proxy", "oidc"}));
  cmd->add_option("--require-role", flags->require_roles,
                  "role a signed-in user needs (repeat for alternatives), e.g. alice-member");
  cmd->add_option("--auth-trusted-proxy", flags->auth_trusted_proxies,
                  "CIDR of the authenticating proxy whose identity headers are believed");
  cmd->add_option("--auth-proxy-kind", flags->auth_proxy_kind,
                  "the authenticating proxy, whose own headers alone carry the identity: "
                  "mod_auth_openidc (default) or oauth2-proxy")
      ->check(CLI::IsMember({"mod_auth_openidc", "oauth2-proxy"}));
  cmd->add_option("--web-tls-cert", flags->web_tls_cert,
                  "serve the viewer over TLS with this PEM certificate chain (with --web-tls-key)");
  cmd->add_option("--web-tls-key", flags->web_tls_key, "the viewer's TLS private key (PEM)");
  cmd->add_option("--store", flags->store_url,
                  "serve the viewer over a bucket of another S3 endpoint (s3://BUCKET) instead "
                  "of the embedded store");
  cmd->add_option("--endpoint", flags->endpoint, "with --store: the S3 endpoint URL");
  cmd->add_flag("--anonymous", flags->anonymous,
                "with --store: unsigned requests (the bucket policy allows this address)");
  cmd->add_option("--profile", flags->profile,
                  "with --store: credentials profile (default: AWS_* variables, then default)");
  cmd->add_option("--cache-max-bytes", flags->cache_max_bytes,
                  "with --store: disk cache for downloaded logs, in bytes (default 10 GiB)");
  cmd->add_option("--metadata-ttl-ms", flags->metadata_ttl_ms,
                  "with --store: reuse an object's HEAD answer this long (default 2000; 0 = "
                  "ask every time)");
  cmd->add_option("--ca-bundle", flags->ca_bundle,
                  "with --store: PEM file of the CAs to trust for an https endpoint (default: "
                  "$AWS_CA_BUNDLE, else the system's)");
  cmd->add_option("--public-url", flags->public_url,
                  "where browsers reach the viewer, e.g. https://logs.example.org (oidc redirect "
                  "URI base; https makes cookies Secure)");
  cmd->callback([flags, &exit_code] { exit_code = RunServe(*flags); });
}

}  // namespace logbucket::app
