#include "store/local/rows.h"

#include "common/encoding.h"

namespace logbucket::store {

std::string EncodeHeaders(const Headers& headers) {
  std::string out;
  for (const Header& h : headers) {
    out += h.name;
    out.push_back('\0');
    out += h.value;
    out.push_back('\0');
  }
  return out;
}

Headers DecodeHeaders(std::string_view data) {
  Headers out;
  while (!data.empty()) {
    size_t a = data.find('\0');
    if (a == std::string_view::npos) break;
    size_t b = data.find('\0', a + 1);
    if (b == std::string_view::npos) break;
    out.push_back({std::string(data.substr(0, a)), std::string(data.substr(a + 1, b - a - 1))});
    data.remove_prefix(b + 1);
  }
  return out;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return {};
}

std::string EncodeParts(const std::vector<uint64_t>& sizes, const std::vector<std::string>& sums) {
  std::string out;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(sizes[i]);
    if (i < sums.size() && !sums[i].empty()) {
      out.push_back(':');
      out += sums[i];
    }
  }
  return out;
}

void DecodeParts(std::string_view text, ObjectInfo& info) {
  if (text.empty()) return;
  bool any_checksum = false;
  for (std::string_view part : Split(text, ',')) {
    size_t colon = part.find(':');
    info.part_sizes.push_back(
        static_cast<uint64_t>(ParseDecimal(part.substr(0, colon)).value_or(0)));
    std::string sum =
        colon == std::string_view::npos ? std::string() : std::string(part.substr(colon + 1));
    any_checksum = any_checksum || !sum.empty();
    info.part_checksums.push_back(std::move(sum));
  }
  if (!any_checksum) info.part_checksums.clear();
}

ObjectInfo ReadObjectRow(const Stmt& s, const std::string& bucket, BodyRef* body) {
  ObjectInfo info;
  info.bucket = bucket;
  info.key = s.ColText(0);
  if (body != nullptr) {
    body->blob = s.ColText(1);
    body->inline_id = s.ColInt(12);
  }
  info.size = static_cast<uint64_t>(s.ColInt(2));
  info.etag = s.ColText(3);
  info.last_modified_ms = s.ColInt(4);
  info.headers = DecodeHeaders(s.ColText(5));
  info.checksum.algorithm = static_cast<ChecksumAlgorithm>(s.ColInt(6));
  info.checksum.value = s.ColText(7);
  info.checksum.type = s.ColText(8);
  info.parts_count = static_cast<int>(s.ColInt(9));
  info.owner = s.ColText(10);
  DecodeParts(s.ColText(11), info);
  return info;
}

}  // namespace logbucket::store
