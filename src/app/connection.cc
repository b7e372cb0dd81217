#include "app/connection.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace logbucket::app {

void AddConnectionOptions(CLI::App* cmd, Connection& c, bool needs_bucket) {
  cmd->add_option("--endpoint", c.endpoint,
                  "S3 endpoint URL (default: $AWS_ENDPOINT_URL, else http://127.0.0.1:9000)");
  cmd->add_option("--region", c.region,
                  "signing region (default: $AWS_DEFAULT_REGION or us-east-1)");
  cmd->add_option("--access-key", c.access_key,
                  "access key (default: $AWS_ACCESS_KEY_ID or profile)");
  cmd->add_option("--secret-key", c.secret_key,
                  "secret key (default: $AWS_SECRET_ACCESS_KEY or profile)");
  cmd->add_option("--profile", c.profile, "profile in ~/.aws/credentials");
  cmd->add_flag("--anonymous", c.anonymous, "send unsigned requests");
  cmd->add_flag("--virtual-host", c.virtual_host,
                "address buckets as <bucket>.<endpoint host> (default: path style)");
  cmd->add_option("--source-address", c.source_address,
                  "send from this local address (to check an IP-based policy from a given "
                  "interface)");
  cmd->add_option("--ca-bundle", c.ca_bundle,
                  "PEM file of the CAs to trust for an https endpoint (default: $AWS_CA_BUNDLE, "
                  "else the system's)");
  if (needs_bucket) cmd->add_option("--bucket,-b", c.bucket, "bucket name")->required();
}

Result<std::string> ResolveCaBundle(const std::string& flag, std::string_view flag_name) {
  std::string path = flag;
  std::string source(flag_name);
  if (path.empty()) {
    const char* env = std::getenv("AWS_CA_BUNDLE");
    if (env == nullptr || *env == '\0') return std::string();
    path = env;
    source = "AWS_CA_BUNDLE";
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return Error(ErrorCode::kInvalidArgument, source + " " + path + ": " + std::strerror(errno));
  }
  return path;
}

Result<s3client::ClientOptions> ClientOptionsFor(const Connection& c) {
  s3client::ClientOptions o;
  o.endpoint = c.endpoint;
  if (o.endpoint.empty()) {
    const char* env = std::getenv("AWS_ENDPOINT_URL");
    o.endpoint = env != nullptr && *env != '\0' ? env : "http://127.0.0.1:9000";
  }
  if (!o.endpoint.starts_with("http://") && !o.endpoint.starts_with("https://")) {
    return Error(ErrorCode::kInvalidArgument,
                 "--endpoint " + o.endpoint + ": must start with http:// or https://");
  }
  o.region = c.region;
  if (o.region.empty()) {
    const char* r = std::getenv("AWS_DEFAULT_REGION");
    if (r == nullptr) r = std::getenv("AWS_REGION");
    o.region = r != nullptr && *r != '\0' ? r : "us-east-1";
  }
  o.virtual_host = c.virtual_host;
  o.http.source_address = c.source_address;
  auto ca = ResolveCaBundle(c.ca_bundle, "--ca-bundle");
  if (!ca) return ca.error();
  o.http.ca_file = *ca;
  if (!c.anonymous) {
    auto creds = s3client::ResolveCredentials(c.access_key, c.secret_key, c.profile, o.region);
    if (!creds) return creds.error();
    o.credentials = *creds;
  }
  return o;
}

}  // namespace logbucket::app
