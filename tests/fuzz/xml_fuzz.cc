// The XML request bodies we accept (DeleteObjects, CompleteMultipartUpload, CreateBucket).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "s3/xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto d = logbucket::s3::ParseDeleteRequest(body);
  if (d && (d->objects.empty() || d->objects.size() > 1000)) __builtin_trap();
  auto c = logbucket::s3::ParseCompleteRequest(body);
  if (c && c->parts.empty()) __builtin_trap();
  (void)logbucket::s3::ParseCreateBucketRequest(body);
  return 0;
}
