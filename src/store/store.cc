#include "store/store.h"

#include <fmt/format.h>

#include "common/encoding.h"

namespace logbucket::store {

Status ValidateBucketName(const std::string& name) {
  auto bad = [&](const char* why) {
    return Error(ErrorCode::kInvalidBucketName,
                 "The specified bucket is not valid: " + std::string(why));
  };
  if (name.size() < 3 || name.size() > 63) return bad("length must be 3 to 63 characters");
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return bad("only lower-case letters, digits, '.' and '-' are allowed");
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) {
    return bad("must begin and end with a letter or digit");
  }
  if (name.find("..") != std::string::npos || name.find(".-") != std::string::npos ||
      name.find("-.") != std::string::npos) {
    return bad("adjacent periods or period-dash are not allowed");
  }
  auto parts = Split(name, '.');
  if (parts.size() == 4) {
    bool all_digits = true;
    for (auto p : parts) all_digits = all_digits && ParseDecimal(p).has_value();
    if (all_digits) return bad("must not be formatted as an IP address");
  }
  return Status::Ok();
}

Status ValidateKey(const std::string& key) {
  if (key.empty()) return Error(ErrorCode::kInvalidArgument, "The key must not be empty.");
  if (key.size() > kMaxKeyBytes) return Error(ErrorCode::kKeyTooLongError);
  if (key.find('\0') != std::string::npos || !IsValidUtf8(key)) {
    return Error(ErrorCode::kInvalidArgument, "Object key is not valid UTF-8 or contains NUL.");
  }
  // XML 1.0 cannot carry the other C0 controls, not even as character references: one such key
  // would make every ListObjects answer of its bucket unreadable to strict parsers (s3cmd).
  // Tab, line feed and carriage return it can carry, so those stay allowed.
  for (char c : key) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("Object key contains the control character 0x{:02X}, which XML "
                               "listings cannot carry.",
                               static_cast<unsigned>(byte)));
    }
  }
  return Status::Ok();
}

namespace {

std::string_view NormalizeEtag(std::string_view value) {
  value = TrimWhitespace(value);
  if (value.substr(0, 2) == "W/") value.remove_prefix(2);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

}  // namespace

bool EtagListMatches(std::string_view list, std::string_view etag) {
  for (std::string_view candidate : Split(list, ',')) {
    std::string_view c = NormalizeEtag(candidate);
    if (c == "*" || c == NormalizeEtag(etag)) return true;
  }
  return false;
}

Status CheckPrecondition(const Precondition& p, const ObjectInfo* current) {
  if (current == nullptr && p.missing_ok) return Status::Ok();
  if (p.if_match) {
    if (current == nullptr) return Error(ErrorCode::kNoSuchKey);
    if (!EtagListMatches(*p.if_match, current->etag)) return Error(ErrorCode::kPreconditionFailed);
  }
  if (p.if_none_match && current != nullptr && EtagListMatches(*p.if_none_match, current->etag)) {
    return Error(ErrorCode::kPreconditionFailed);
  }
  if (current != nullptr) {
    if (p.if_size && *p.if_size != current->size) return Error(ErrorCode::kPreconditionFailed);
    if (p.if_modified_s && *p.if_modified_s != current->last_modified_ms / 1000) {
      return Error(ErrorCode::kPreconditionFailed);
    }
  }
  return Status::Ok();
}

std::string MultipartEtag(const std::vector<std::string>& part_md5_hex) {
  std::string concatenated;
  concatenated.reserve(part_md5_hex.size() * 16);
  for (const std::string& hex : part_md5_hex) concatenated += HexDecode(hex).value_or("");
  return HexEncode(Md5(concatenated)) + "-" + std::to_string(part_md5_hex.size());
}

}  // namespace logbucket::store
