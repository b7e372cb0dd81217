#include "common/xml.h"

#include <pugixml.hpp>

#include "common/encoding.h"

namespace logbucket {

Result<pugi::xml_document*> LoadXml(pugi::xml_document& doc, std::string_view body) {
  // parse_doctype keeps a DOCTYPE node so we can refuse it: request bodies never need a DTD,
  // and entity tricks (billion laughs, external entities) start there.
  // parse_ws_pcdata_single keeps an element whose whole text is blank (<Key> </Key>: the key
  // " "; <Prefix> </Prefix>: not the empty prefix, which would match every key).
  pugi::xml_parse_result r =
      doc.load_buffer(body.data(), body.size(),
                      pugi::parse_default | pugi::parse_doctype | pugi::parse_ws_pcdata_single,
                      pugi::encoding_utf8);
  if (!r) {
    return Error(ErrorCode::kMalformedXML,
                 std::string("The XML you provided was not well-formed: ") + r.description());
  }
  for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) {
    if (n.type() == pugi::node_doctype) {
      return Error(ErrorCode::kMalformedXML, "Document type declarations are not allowed.");
    }
  }
  return &doc;
}

pugi::xml_node XmlChild(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    std::string_view n = c.name();
    size_t colon = n.find(':');
    if (colon != std::string_view::npos) n = n.substr(colon + 1);
    if (n == name) return c;
  }
  return {};
}

std::string_view XmlLocalName(const pugi::xml_node& node) {
  std::string_view n = node.name();
  size_t colon = n.find(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

XmlWriter::XmlWriter(std::string_view root, bool with_namespace) : root_(root) {
  out_.reserve(1024);
  out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<";
  out_ += root;
  if (with_namespace) out_ += " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";
  out_ += ">";
}

XmlWriter& XmlWriter::Open(std::string_view name) {
  out_ += "<";
  out_ += name;
  out_ += ">";
  return *this;
}

XmlWriter& XmlWriter::Close(std::string_view name) {
  out_ += "</";
  out_ += name;
  out_ += ">";
  return *this;
}

XmlWriter& XmlWriter::Element(std::string_view name, std::string_view text) {
  Open(name);
  out_ += XmlEscape(text);
  return Close(name);
}

std::string XmlWriter::Finish() {
  Close(root_);
  return std::move(out_);
}

}  // namespace logbucket
