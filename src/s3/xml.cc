#include "s3/xml.h"

#include <pugixml.hpp>

#include "common/encoding.h"

namespace logbucket::s3 {
namespace {

constexpr size_t kMaxDeleteObjects = 1000;

}  // namespace

namespace {

Result<pugi::xml_document*> Load(pugi::xml_document& doc, std::string_view body) {
  return LoadXml(doc, body);
}
pugi::xml_node Child(const pugi::xml_node& node, std::string_view name) {
  return XmlChild(node, name);
}
std::string_view LocalName(const pugi::xml_node& node) { return XmlLocalName(node); }

}  // namespace

Result<DeleteRequest> ParseDeleteRequest(std::string_view body) {
  pugi::xml_document doc;
  auto loaded = Load(doc, body);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (LocalName(root) != "Delete") {
    return Error(ErrorCode::kMalformedXML, "The root element must be Delete.");
  }
  DeleteRequest request;
  if (pugi::xml_node quiet = Child(root, "Quiet")) {
    std::string_view v = quiet.text().get();
    request.quiet = EqualsIgnoreCase(TrimWhitespace(v), "true");
  }
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element || LocalName(c) != "Object") continue;
    pugi::xml_node key = Child(c, "Key");
    if (!key) return Error(ErrorCode::kMalformedXML, "Every Object needs a Key.");
    DeleteRequest::Entry entry{key.text().get(), {}, {}, {}, {}};
    if (pugi::xml_node v = Child(c, "VersionId")) entry.version_id = v.text().get();
    if (pugi::xml_node v = Child(c, "ETag")) entry.etag = v.text().get();
    if (pugi::xml_node v = Child(c, "LastModifiedTime")) entry.last_modified = v.text().get();
    if (pugi::xml_node v = Child(c, "Size")) entry.size = v.text().get();
    request.objects.push_back(std::move(entry));
    if (request.objects.size() > kMaxDeleteObjects) {
      return Error(ErrorCode::kMalformedXML, "A Delete request may name at most 1000 keys.");
    }
  }
  if (request.objects.empty()) {
    return Error(ErrorCode::kMalformedXML, "A Delete request must name at least one key.");
  }
  return request;
}

Result<CompleteRequest> ParseCompleteRequest(std::string_view body) {
  pugi::xml_document doc;
  auto loaded = Load(doc, body);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (LocalName(root) != "CompleteMultipartUpload") {
    return Error(ErrorCode::kMalformedXML, "The root element must be CompleteMultipartUpload.");
  }
  CompleteRequest request;
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element || LocalName(c) != "Part") continue;
    pugi::xml_node number = Child(c, "PartNumber");
    pugi::xml_node etag = Child(c, "ETag");
    auto n = ParseDecimal(TrimWhitespace(number.text().get()));
    if (!number || !etag || !n || *n < 1 || *n > 10000) {
      return Error(ErrorCode::kMalformedXML, "Every Part needs a PartNumber (1-10000) and ETag.");
    }
    std::string tag(TrimWhitespace(etag.text().get()));
    if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"')
      tag = tag.substr(1, tag.size() - 2);
    request.parts.push_back({static_cast<int>(*n), std::move(tag)});
    if (request.parts.size() > 10000) {
      return Error(ErrorCode::kMalformedXML, "At most 10000 parts.");
    }
  }
  if (request.parts.empty()) {
    return Error(ErrorCode::kMalformedXML, "You must specify at least one part.");
  }
  return request;
}

Result<CreateBucketRequest> ParseCreateBucketRequest(std::string_view body) {
  CreateBucketRequest request;
  if (TrimWhitespace(body).empty()) return request;
  pugi::xml_document doc;
  auto loaded = Load(doc, body);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (LocalName(root) != "CreateBucketConfiguration") {
    return Error(ErrorCode::kMalformedXML, "The root element must be CreateBucketConfiguration.");
  }
  if (pugi::xml_node loc = Child(root, "LocationConstraint")) {
    request.location_constraint = std::string(TrimWhitespace(loc.text().get()));
  }
  return request;
}

}  // namespace logbucket::s3
