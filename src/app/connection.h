// Where and as whom an S3 command talks: the flags every command that talks S3 shares
// (admin commands, push) and the client options they resolve to.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/status.h"
#include "s3client/client.h"

namespace logbucket::app {

// Where and as whom: shared by every command that talks S3.
struct Connection {
  std::string endpoint;
  std::string region;
  std::string access_key;
  std::string secret_key;
  std::string profile;
  bool anonymous = false;
  bool virtual_host = false;
  std::string bucket;
  std::string source_address;
  std::string ca_bundle;  // empty: $AWS_CA_BUNDLE, else the system's CAs
};

void AddConnectionOptions(CLI::App* cmd, Connection& c, bool needs_bucket);

// Endpoint from the flag or $AWS_ENDPOINT_URL, region from the flag or $AWS_DEFAULT_REGION,
// credentials from the flags, the environment or the profile (none with --anonymous).
Result<s3client::ClientOptions> ClientOptionsFor(const Connection& c);

// The CA bundle to trust: `flag` (named `flag_name` in errors), else $AWS_CA_BUNDLE, else ""
// (the system's). A file that cannot be read is an error naming where it came from.
Result<std::string> ResolveCaBundle(const std::string& flag, std::string_view flag_name);

}  // namespace logbucket::app
