// Fields of JSON someone else wrote (a summary.json any uploader may replace, another server's
// answer): the value when the field is there with the expected type, else the fallback.
// nlohmann's json::value() throws on a type mismatch, and an exception is the wrong answer to
// "this file says something odd".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace logbucket {

// The field, or null when `j` is not an object or has no such field.
inline const nlohmann::json* JsonField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

inline std::string JsonString(const nlohmann::json& j, const char* key, std::string fallback = {}) {
  const nlohmann::json* f = JsonField(j, key);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::move(fallback);
}

inline uint64_t JsonUnsigned(const nlohmann::json& j, const char* key, uint64_t fallback = 0) {
  const nlohmann::json* f = JsonField(j, key);
  if (f == nullptr) return fallback;
  if (f->is_number_unsigned()) return f->get<uint64_t>();
  if (f->is_number_integer() && f->get<int64_t>() >= 0)
    return static_cast<uint64_t>(f->get<int64_t>());
  return fallback;
}

inline bool JsonBool(const nlohmann::json& j, const char* key, bool fallback = false) {
  const nlohmann::json* f = JsonField(j, key);
  return f != nullptr && f->is_boolean() ? f->get<bool>() : fallback;
}

}  // namespace logbucket
