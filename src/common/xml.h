// XML without surprises: a tiny writer (everything escaped; S3's namespace on the root unless
// asked not to) and pugixml loading that refuses DTDs (so no external or expanding entities),
// with element lookup that ignores namespace prefixes. Used by the S3 API, bucket documents
// (lifecycle, CORS, ACLs) and the S3 client.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace pugi {
class xml_document;
class xml_node;
}  // namespace pugi

namespace logbucket {

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

// Loads a request body, refusing DTDs (MalformedXML on any problem).
Result<pugi::xml_document*> LoadXml(pugi::xml_document& doc, std::string_view body);
// Element lookup that ignores namespace prefixes ("s3:Key" and "Key" both match).
pugi::xml_node XmlChild(const pugi::xml_node& node, std::string_view name);
std::string_view XmlLocalName(const pugi::xml_node& node);

}  // namespace logbucket
