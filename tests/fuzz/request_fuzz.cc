// Request-line material from the network: query strings, paths, Host headers, dates, and the
// router that turns them into an operation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "s3/router.h"
#include "sigv4/sigv4.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Layout: method \n host \n path?query
  auto lines = logbucket::Split(in, '\n');
  if (lines.size() < 3) return 0;
  std::string_view target = lines[2];
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view raw_query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  auto query = logbucket::sigv4::ParseQuery(raw_query);
  if (!query) return 0;
  (void)logbucket::sigv4::CanonicalQuery(*query);
  (void)logbucket::sigv4::CanonicalUri(path);
  static const std::vector<std::string> kDomains = {"s3.example.org"};
  logbucket::Headers headers = {{"x-amz-copy-source", std::string(lines[1])}};
  (void)logbucket::s3::Route({lines[0], lines[1], path, &*query, &headers, &kDomains});
  (void)logbucket::ParseHttpDate(lines[1]);
  (void)logbucket::ParseAmzDate(lines[1]);
  (void)logbucket::Base64Decode(lines[1]);
  return 0;
}
