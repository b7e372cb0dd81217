// HTTP header list as plain values (lower-case names, in arrival order); shared by sigv4 and
// http so neither depends on the other.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logbucket {

struct Header {
  std::string name;  // lower case
  std::string value;
};

using Headers = std::vector<Header>;

// First value of a header (name in lower case), or nullopt.
inline std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (h.name == name) return std::string_view(h.value);
  }
  return std::nullopt;
}

// A decoded query parameter; has_value distinguishes "?acl" from "?acl=".
struct QueryParam {
  std::string key;
  std::string value;
};
using QueryParams = std::vector<QueryParam>;

inline const QueryParam* FindQuery(const QueryParams& params, std::string_view key) {
  for (const QueryParam& p : params) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

}  // namespace logbucket
