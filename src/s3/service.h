// The S3 REST API over a Store: authentication (SigV4), authorisation (owner/admin for now),
// request bodies (plain, aws-chunked, checksums), and one handler per operation. Errors become
// S3 XML error responses here, exactly once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/net.h"
#include "config/config.h"
#include "http/handler.h"
#include "store/store.h"

namespace logbucket::s3 {

struct ServiceOptions {
  config::S3Config s3;
  uint64_t min_part_bytes = 5ULL << 20;  // S3's minimum for all but the last part
  const Clock* clock = &SystemClock::Instance();
  // GET /_metrics (path style): the composition root's metrics page, which decides who may read
  // it; unset = NotImplemented.
  std::function<http::Response(const http::Request&)> metrics_page;
};

class Service {
 public:
  Service(ServiceOptions options, store::Store& store, store::UserDirectory& users);
  ~Service();
  http::Response Handle(http::Request& request);
  // s3.trusted_proxies, changed by a configuration reload: whose X-Forwarded-For (the client
  // address policies see) and X-Forwarded-Proto are believed.
  void SetTrustedProxies(std::vector<Cidr> proxies);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace logbucket::s3
