// Internal to store/local: how objects, headers and multipart part lists are encoded in the
// metadata rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/headers.h"
#include "store/local/sqlite.h"
#include "store/store.h"

namespace logbucket::store {

std::string EncodeHeaders(const Headers& headers);

Headers DecodeHeaders(std::string_view data);

// The smallest string greater than every string that starts with `prefix` ("" = none).
std::string PrefixSuccessor(std::string prefix);

inline constexpr const char* kObjectColumns =
    "key, blob, size, etag, last_modified_ms, headers, checksum_algorithm, checksum, "
    "checksum_type, parts_count, owner, part_sizes, body";

// Where an object's bytes are: a blob file (blobs/ab/cd/<blob>), or, for small objects, a row of
// the bodies table (inline_id > 0), written in the same transaction as the object row.
struct BodyRef {
  std::string blob;
  int64_t inline_id = 0;
  bool is_inline() const { return inline_id > 0; }
};

// Part sizes as decimal numbers separated by ',' ("" for single-part objects).
// A multipart object's parts: "size[:checksum]" each, comma-separated (base64 has neither ','
// nor ':'; rows written before part checksums were kept hold sizes only).
std::string EncodeParts(const std::vector<uint64_t>& sizes, const std::vector<std::string>& sums);

void DecodeParts(std::string_view text, ObjectInfo& info);

ObjectInfo ReadObjectRow(const Stmt& s, const std::string& bucket, BodyRef* body);

}  // namespace logbucket::store
