#include "s3/cors.h"

#include <algorithm>
#include <array>
#include <pugixml.hpp>

#include "common/encoding.h"
#include "s3/xml.h"

namespace logbucket::s3::cors {
namespace {

constexpr std::array<std::string_view, 5> kMethods = {"GET", "PUT", "POST", "DELETE", "HEAD"};

// Match against a pattern with at most one '*' (Parse refuses more), which stands for any run
// of characters: a prefix and a suffix test, linear in the pattern whatever the text.
bool WildcardMatch(std::string_view pattern, std::string_view text) {
  size_t star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == text;
  std::string_view prefix = pattern.substr(0, star);
  std::string_view suffix = pattern.substr(star + 1);
  return text.size() >= prefix.size() + suffix.size() && text.substr(0, prefix.size()) == prefix &&
         text.substr(text.size() - suffix.size()) == suffix;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

}  // namespace

Result<Configuration> Parse(std::string_view xml) {
  if (xml.size() > kMaxConfigurationBytes) {
    return Error(ErrorCode::kInvalidRequest, "A CORS configuration is at most 64 KB.");
  }
  pugi::xml_document doc;
  auto loaded = LoadXml(doc, xml);
  if (!loaded) return loaded.error();
  pugi::xml_node root = doc.document_element();
  if (XmlLocalName(root) != "CORSConfiguration") {
    return Error(ErrorCode::kMalformedXML, "the root element must be CORSConfiguration");
  }
  Configuration config;
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element) continue;
    if (XmlLocalName(node) != "CORSRule") {
      return Error(ErrorCode::kMalformedXML, "CORSConfiguration holds CORSRule elements only");
    }
    Rule rule;
    for (pugi::xml_node field : node.children()) {
      if (field.type() != pugi::node_element) continue;
      std::string_view name = XmlLocalName(field);
      std::string text = field.text().get();
      if (name == "ID") {
        rule.id = text;
      } else if (name == "AllowedMethod") {
        if (std::find(kMethods.begin(), kMethods.end(), text) == kMethods.end()) {
          return Error(
              ErrorCode::kInvalidRequest,
              "Found unsupported HTTP method in CORS config. Unsupported method is " + text);
        }
        rule.allowed_methods.push_back(text);
      } else if (name == "AllowedOrigin") {
        if (std::count(text.begin(), text.end(), '*') > 1) {
          return Error(ErrorCode::kInvalidRequest,
                       "AllowedOrigin \"" + text + "\" can not have more than one wildcard.");
        }
        rule.allowed_origins.push_back(text);
      } else if (name == "AllowedHeader") {
        if (std::count(text.begin(), text.end(), '*') > 1) {
          return Error(ErrorCode::kInvalidRequest,
                       "AllowedHeader \"" + text + "\" can not have more than one wildcard.");
        }
        rule.allowed_headers.push_back(AsciiLower(text));
      } else if (name == "ExposeHeader") {
        rule.expose_headers.push_back(text);
      } else if (name == "MaxAgeSeconds") {
        auto seconds = ParseDecimal(text);
        if (!seconds) return Error(ErrorCode::kMalformedXML, "MaxAgeSeconds must be a number");
        rule.max_age_seconds = *seconds;
      } else {
        return Error(ErrorCode::kMalformedXML, "unknown CORSRule element " + std::string(name));
      }
    }
    if (rule.allowed_methods.empty() || rule.allowed_origins.empty()) {
      return Error(ErrorCode::kMalformedXML,
                   "a CORSRule needs at least one AllowedMethod and one AllowedOrigin");
    }
    config.rules.push_back(std::move(rule));
    if (config.rules.size() > kMaxRules) {
      return Error(ErrorCode::kInvalidRequest, "A CORS configuration holds at most 100 rules.");
    }
  }
  if (config.rules.empty()) {
    return Error(ErrorCode::kMalformedXML, "CORSConfiguration needs at least one CORSRule");
  }
  return config;
}

std::string ToXml(const Configuration& config) {
  XmlWriter xml("CORSConfiguration");
  for (const Rule& rule : config.rules) {
    xml.Open("CORSRule");
    if (!rule.id.empty()) xml.Element("ID", rule.id);
    for (const auto& h : rule.allowed_headers) xml.Element("AllowedHeader", h);
    for (const auto& m : rule.allowed_methods) xml.Element("AllowedMethod", m);
    for (const auto& o : rule.allowed_origins) xml.Element("AllowedOrigin", o);
    for (const auto& h : rule.expose_headers) xml.Element("ExposeHeader", h);
    if (rule.max_age_seconds) xml.Element("MaxAgeSeconds", std::to_string(*rule.max_age_seconds));
    xml.Close("CORSRule");
  }
  return xml.Finish();
}

const Rule* Match(const Configuration& config, std::string_view origin, std::string_view method,
                  const std::vector<std::string>& request_headers) {
  for (const Rule& rule : config.rules) {
    if (std::find(rule.allowed_methods.begin(), rule.allowed_methods.end(), method) ==
        rule.allowed_methods.end()) {
      continue;
    }
    if (std::none_of(rule.allowed_origins.begin(), rule.allowed_origins.end(),
                     [&](const std::string& o) { return WildcardMatch(o, origin); })) {
      continue;
    }
    bool headers_ok =
        std::all_of(request_headers.begin(), request_headers.end(), [&](const std::string& header) {
          return std::any_of(rule.allowed_headers.begin(), rule.allowed_headers.end(),
                             [&](const std::string& p) { return WildcardMatch(p, header); });
        });
    if (headers_ok) return &rule;
  }
  return nullptr;
}

void AddHeaders(const Rule& rule, std::string_view origin,
                const std::vector<std::string>& request_headers, Headers& out) {
  const bool any_origin = std::find(rule.allowed_origins.begin(), rule.allowed_origins.end(),
                                    "*") != rule.allowed_origins.end();
  out.push_back({"access-control-allow-origin", any_origin ? "*" : std::string(origin)});
  out.push_back({"access-control-allow-methods", Join(rule.allowed_methods)});
  if (!any_origin) out.push_back({"access-control-allow-credentials", "true"});
  if (!request_headers.empty()) {
    out.push_back({"access-control-allow-headers", Join(request_headers)});
  }
  if (!rule.expose_headers.empty()) {
    out.push_back({"access-control-expose-headers", Join(rule.expose_headers)});
  }
  if (rule.max_age_seconds) {
    out.push_back({"access-control-max-age", std::to_string(*rule.max_age_seconds)});
  }
}

std::optional<std::vector<std::string>> SplitHeaderList(std::string_view value) {
  std::vector<std::string> out;
  for (std::string_view item : Split(value, ',')) {
    item = TrimWhitespace(item);
    if (item.empty()) continue;
    if (out.size() == kMaxRequestHeaders) return std::nullopt;
    out.push_back(AsciiLower(item));
  }
  return out;
}

}  // namespace logbucket::s3::cors
