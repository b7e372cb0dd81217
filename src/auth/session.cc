#include "auth/session.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/hash.h"

namespace logbucket::auth {

SessionCodec::SessionCodec(std::string secret) : secret_(std::move(secret)) {}

std::string SessionCodec::Seal(const Identity& identity) const {
  nlohmann::json j = {{"sub", identity.subject},   {"name", identity.name},
                      {"email", identity.email},   {"roles", identity.roles},
                      {"exp", identity.expires_s}, {"v", 1}};
  while (true) {
    std::string payload = Base64UrlEncode(j.dump());
    std::string value = payload + "." + Base64UrlEncode(HmacSha256(secret_, payload));
    if (value.size() <= kMaxSessionCookieBytes || j["roles"].empty()) return value;
    j["roles"].erase(j["roles"].size() - 1);
  }
}

std::string SessionCodec::DeriveKey(std::string_view purpose) const {
  return HmacSha256(secret_, purpose);
}

Result<Identity> SessionCodec::Open(std::string_view cookie, int64_t now_s) const {
  if (cookie.size() > kMaxSessionCookieBytes) {
    return Error(ErrorCode::kAccessDenied, "session cookie larger than 4096 bytes");
  }
  size_t dot = cookie.find('.');
  if (dot == std::string_view::npos) return Error(ErrorCode::kAccessDenied, "malformed session");
  std::string_view payload = cookie.substr(0, dot);
  auto mac = Base64UrlDecode(cookie.substr(dot + 1));
  if (!mac || !ConstantTimeEquals(*mac, HmacSha256(secret_, payload))) {
    return Error(ErrorCode::kAccessDenied, "session signature does not verify");
  }
  auto json = Base64UrlDecode(payload);
  if (!json) return Error(ErrorCode::kAccessDenied, "malformed session");
  nlohmann::json j = nlohmann::json::parse(*json, nullptr, false);
  if (!j.is_object() || j.value("v", 0) != 1 || !j["sub"].is_string() ||
      !j["exp"].is_number_integer() || !j["roles"].is_array()) {
    return Error(ErrorCode::kAccessDenied, "malformed session");
  }
  Identity id;
  id.subject = j["sub"].get<std::string>();
  id.name = j.value("name", "");
  id.email = j.value("email", "");
  id.expires_s = j["exp"].get<int64_t>();
  for (const auto& r : j["roles"]) {
    if (r.is_string()) id.roles.push_back(r.get<std::string>());
  }
  if (id.expires_s <= now_s) return Error(ErrorCode::kAccessDenied, std::string(kSessionExpired));
  return id;
}

std::vector<std::string> SplitRoles(std::string_view text) {
  std::vector<std::string> roles;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ',' && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) roles.emplace_back(text.substr(start, i - start));
  }
  return roles;
}

std::vector<std::string> RolesAtClaimPath(std::string_view claims_json, std::string_view path) {
  nlohmann::json j = nlohmann::json::parse(claims_json, nullptr, false);
  const nlohmann::json* at = &j;
  size_t start = 0;
  while (true) {
    if (!at->is_object()) return {};
    // A claim name may itself contain dots (URL-style claims): the whole rest first.
    if (auto whole = at->find(std::string(path.substr(start))); whole != at->end()) {
      at = &*whole;
      break;
    }
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) return {};
    auto next = at->find(std::string(path.substr(start, dot - start)));
    if (next == at->end()) return {};
    at = &*next;
    start = dot + 1;
  }
  if (at->is_string()) return SplitRoles(at->get<std::string>());
  std::vector<std::string> roles;
  if (at->is_array()) {
    for (const auto& r : *at) {
      if (r.is_string()) roles.push_back(r.get<std::string>());
    }
  }
  return roles;
}

bool HasAnyRole(const Identity& identity, const std::vector<std::string>& required) {
  if (required.empty()) return true;
  return std::any_of(required.begin(), required.end(), [&](const std::string& role) {
    return std::find(identity.roles.begin(), identity.roles.end(), role) != identity.roles.end();
  });
}

}  // namespace logbucket::auth
