// One Config aggregate, filled from the TOML file, then the environment, then flags, and
// validated once. Every key is documented in docs/configuration.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace logbucket::config {

struct S3Config {
  std::string listen = "127.0.0.1:9000";     // host:port of the S3 listener
  std::string region = "us-east-1";          // returned by GetBucketLocation, used in admin.env
  std::vector<std::string> domains;          // virtual-hosted style: <bucket>.<domain>
  std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-For is believed
  uint64_t max_object_bytes = 5ULL << 30;    // single PUT / part limit (S3: 5 GiB)
  uint64_t max_xml_bytes = 2ULL << 20;       // request XML bodies (Delete of 1000 keys < 1 MiB)
  // Uploads are refused (507 StorageFull) while the data directory's file system has less free.
  uint64_t min_free_bytes = 256ULL << 20;
  // Preallocated DATA/reserve, given up when a commit finds the disk full (deletes still work).
  uint64_t reserve_bytes = 64ULL << 20;
};

struct HttpConfig {
  int max_connections = 1024;     // concurrent connections (one thread each)
  int idle_timeout_seconds = 60;  // keep-alive idle time before closing
  int io_timeout_seconds = 120;   // a read or write making no progress for this long
  // Slow clients: a request head must arrive whole within this (from a connection's opening or
  // a later request's first byte); 0 = no limit beyond io_timeout_seconds.
  int header_timeout_seconds = 20;
  // A request body must average at least this many bytes/s after header_timeout_seconds of
  // grace; 0 = no minimum.
  uint32_t min_body_rate = 500;
  // Connections one client address may hold open (0 = only max_connections); the listener's
  // trusted proxies (s3.trusted_proxies, auth.trusted_proxies) are not capped.
  int max_connections_per_client = 256;
  int drain_seconds = 30;                 // SIGTERM: wait this long for in-flight requests
  uint32_t max_header_bytes = 64 * 1024;  // request line + headers
  bool access_log = true;                 // one line per request to stderr
  // Who may read GET /_metrics (Prometheus) on either listener: the scraper's own address.
  std::vector<std::string> metrics_allow = {"127.0.0.0/8", "::1"};
};

struct WebConfig {
  std::string listen = "127.0.0.1:8080";  // host:port of the log viewer; "" = no viewer
  // auth.mode = "none" beyond loopback: anyone who reaches it reads everything; explicit opt-in.
  bool insecure_no_auth = false;
  std::string site_name = "logbucket";
  int cache_entries = 16;  // indexed logs kept in memory
  // Disk for decompressed copies of .gz logs (unlinked files in the cache directory), in total.
  uint64_t gunzip_cache_bytes = 2ULL << 30;
  // Where browsers reach the viewer (https://alice-logs.example.org); the OIDC redirect URI is
  // built from it, and an https:// URL makes every cookie Secure.
  std::string public_url;
  // TLS on the viewer's listener: PEM certificate chain and key (both or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Sign-in for the web viewer (docs/configuration.md [auth]).
struct AuthConfig {
  std::string mode = "none";                 // none | proxy | oidc
  std::vector<std::string> require_roles;    // any one of them; empty = any signed-in user
  std::string roles_claim = "cern_roles";    // dotted claim path: groups, realm_access.roles
  std::vector<std::string> trusted_proxies;  // proxy mode: CIDRs whose identity headers count
  // proxy mode: which proxy signs users in; identity comes only from its own headers.
  // "mod_auth_openidc" (OIDC_CLAIM_sub/_name/_email/_<roles_claim>), "oauth2-proxy"
  // (X-Forwarded-User/-Preferred-Username/-Email/-Groups), or "custom" (the four below).
  std::string proxy_kind = "mod_auth_openidc";
  std::string proxy_user_header;  // custom: required
  std::string proxy_name_header;  // custom: optional
  std::string proxy_email_header;
  std::string proxy_roles_header;  // custom: required
  // proxy mode: where "sign out" leads, the proxy's own logout (mod_auth_openidc:
  // <redirect_uri>?logout=<url>; oauth2-proxy: /oauth2/sign_out); empty = no sign-out link.
  std::string proxy_sign_out_url;
  // Sessions (oidc mode): secret shared by every frontend of one site (>= 32 bytes), or a file
  // holding it; neither set = DATA_DIR/web-session.key, created on first start (0600).
  std::string session_secret;
  std::string session_secret_file;
  int64_t session_seconds = 12 * 3600;
  // oidc mode: the provider and this client's registration there.
  std::string oidc_issuer;
  std::string oidc_client_id;
  std::string oidc_client_secret;  // or oidc_client_secret_file, or $LOGBUCKET_OIDC_CLIENT_SECRET
  std::string oidc_client_secret_file;
  std::string oidc_token_auth_method = "client_secret_basic";  // or client_secret_post
  std::vector<std::string> oidc_scopes = {"openid", "profile", "email"};
  int64_t oidc_clock_skew_seconds = 60;
  int64_t oidc_jwks_refetches_per_minute = 5;  // limit on re-fetching keys for unknown kids
  std::string oidc_ca_file;  // PEM CAs for the provider's https; "" = the system's
};

// `serve --store s3://BUCKET`: the viewer over another S3 endpoint instead of the embedded store.
struct RemoteStoreConfig {
  std::string url;       // s3://BUCKET; empty = the embedded store
  std::string endpoint;  // https://s3.cern.ch
  std::string region = "us-east-1";
  bool anonymous = false;     // no credentials even when some are found (IP-policy readers)
  std::string profile;        // ~/.aws/credentials profile; default: env, then "default"
  bool virtual_host = false;  // <bucket>.<host> addressing
  std::string ca_bundle;      // PEM CAs for an https endpoint; "" = $AWS_CA_BUNDLE, else system
  int64_t cache_max_bytes = 10LL << 30;  // downloaded logs kept on disk (LRU)
  int64_t metadata_ttl_ms = 2000;        // HEAD answers reused this long
};

// The build index (builds/): the PR board, recurring failures, the last green build.
struct BuildsConfig {
  bool enabled = true;  // with the viewer; its file is <data_dir>/builds.sqlite (a cache)
  int64_t crawl_interval_seconds = 600;  // a full pass over the bucket(s); 0: at start only
  // The indexer's store requests per second; 0: unlimited; -1 (automatic): unlimited over the
  // embedded store (local reads), 50 over `serve --store` (a shared endpoint).
  int64_t requests_per_second = -1;
  std::vector<std::string> buckets;  // empty: every bucket
  int64_t window_days = 7;           // recurring failures: the default window
};

struct Config {
  std::string data_dir = "./data";  // embedded store's directory
  S3Config s3;
  HttpConfig http;
  WebConfig web;
  AuthConfig auth;
  RemoteStoreConfig store;
  BuildsConfig builds;
  int64_t lifecycle_day_seconds = 86400;       // one lifecycle "day" (tests shorten it)
  int64_t lifecycle_interval_seconds = 0;      // janitor period; 0 = min(1 h, a quarter day)
  int64_t lifecycle_clock_offset_seconds = 0;  // janitor acts this much in the future (tests)
  std::string log_level = "info";  // [log] level: trace … off; changed by a reload (SIGHUP)
};

// Parses a TOML file into `config` (keys not in the file keep their values).
Status LoadTomlFile(const std::string& path, Config& config);
// Parses TOML text (for tests and the documented example).
Status LoadTomlString(const std::string& text, Config& config);
// Checks ranges and formats; returns InvalidArgument naming the key.
Status Validate(const Config& config);

// "host:port" → parts; IPv6 as "[::1]:9000".
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
Result<HostPort> ParseHostPort(const std::string& text);

}  // namespace logbucket::config
