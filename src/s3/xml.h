// XML for the S3 API: a tiny writer for responses (everything escaped) and pugixml-based
// readers for the request bodies we accept. pugixml never loads DTDs or external entities.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace pugi {
class xml_document;
class xml_node;
}  // namespace pugi

namespace logbucket::s3 {

class XmlWriter {
 public:
  explicit XmlWriter(std::string_view root, bool with_namespace = true);
  XmlWriter& Open(std::string_view name);
  XmlWriter& Close(std::string_view name);
  XmlWriter& Element(std::string_view name, std::string_view text);
  std::string Finish();

 private:
  std::string out_;
  std::string root_;
};

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

// Loads a request body, refusing DTDs (MalformedXML on any problem).
Result<pugi::xml_document*> LoadXml(pugi::xml_document& doc, std::string_view body);
// Element lookup that ignores namespace prefixes ("s3:Key" and "Key" both match).
pugi::xml_node XmlChild(const pugi::xml_node& node, std::string_view name);
std::string_view XmlLocalName(const pugi::xml_node& node);

Result<DeleteRequest> ParseDeleteRequest(std::string_view body);
Result<CompleteRequest> ParseCompleteRequest(std::string_view body);
Result<CreateBucketRequest> ParseCreateBucketRequest(std::string_view body);

}  // namespace logbucket::s3
