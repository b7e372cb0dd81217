// The S3 API's request bodies we accept (DeleteObjects, CompleteMultipartUpload, CreateBucket),
// read with common/xml.h.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/xml.h"

namespace logbucket::s3 {

struct DeleteRequest {
  bool quiet = false;
  struct Entry {
    std::string key;
    std::string version_id;
    // Conditional deletes (S3 since 2024): the object's ETag, its Last-Modified (as written)
    // and its size must be these.
    std::optional<std::string> etag;
    std::optional<std::string> last_modified;
    std::optional<std::string> size;
  };
  std::vector<Entry> objects;
};

struct CompleteRequest {
  struct Entry {
    int part_number = 0;
    std::string etag;  // quotes stripped
  };
  std::vector<Entry> parts;
};

struct CreateBucketRequest {
  std::string location_constraint;
};

Result<DeleteRequest> ParseDeleteRequest(std::string_view body);
Result<CompleteRequest> ParseCompleteRequest(std::string_view body);
Result<CreateBucketRequest> ParseCreateBucketRequest(std::string_view body);

}  // namespace logbucket::s3
