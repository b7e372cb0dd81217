// Bucket lifecycle configuration in AWS's XML: parse + validate, write back, and decide when an
// object expires. Pure; the janitor (s3/janitor.h) applies it to a store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace logbucket::lifecycle {

inline constexpr size_t kMaxRules = 1000;
inline constexpr size_t kMaxRuleIdLength = 255;
inline constexpr int64_t kDayMs = 86400LL * 1000;

struct Tag {
  std::string key;
  std::string value;
};

struct Filter {
  std::string prefix;
  std::vector<Tag> tags;  // all must be on the object
  std::optional<uint64_t> size_greater_than;
  std::optional<uint64_t> size_less_than;
};

struct Rule {
  std::string id;
  bool enabled = true;
  // How the filter was written, so GET returns the same shape: <Prefix> directly in the rule
  // (the 2006 form), <Filter> (with <And> when several conditions), or nothing.
  enum class Form { kNone, kLegacyPrefix, kFilter } form = Form::kNone;
  bool filter_and = false;
  Filter filter;
  std::optional<int> expiration_days;
  std::optional<int64_t> expiration_date_ms;
  bool expired_object_delete_marker = false;  // accepted; unversioned buckets have no markers
  std::optional<int> abort_incomplete_days;
  std::optional<int> noncurrent_days;  // accepted; unversioned buckets have no old versions
};

struct Configuration {
  std::vector<Rule> rules;
};

// MalformedXML / InvalidArgument / InvalidRequest / NotImplemented with a message naming the
// rule and element.
Result<Configuration> Parse(std::string_view xml);
std::string ToXml(const Configuration& config);

bool Matches(const Rule& rule, std::string_view key, uint64_t size, const std::vector<Tag>& tags);

struct Expiry {
  int64_t at_ms = 0;
  std::string rule_id;
};

// When an object expires under `config`: the earliest applicable enabled rule. With day_ms of
// one real day, "Days" count from creation and round up to the next midnight UTC, as AWS does;
// a shorter test day (lifecycle.day_seconds) expires exactly creation + days × day_ms.
std::optional<Expiry> ObjectExpiry(const Configuration& config, std::string_view key, uint64_t size,
                                   const std::vector<Tag>& tags, int64_t last_modified_ms,
                                   int64_t day_ms);

// The x-amz-expiration value for a response: expiry-date="Fri, 23 Dec 2012 00:00:00 GMT",
// rule-id="id". Always in real days (as AWS and Ceph RGW report it, whatever the test day).
std::optional<std::string> ExpirationHeader(const Configuration& config, std::string_view key,
                                            uint64_t size, const std::vector<Tag>& tags,
                                            int64_t last_modified_ms);

// Object tags as stored (the x-amz-tagging form: "k1=v1&k2=v2", URL-encoded).
std::vector<Tag> ParseTagSet(std::string_view urlencoded);
std::string EncodeTagSet(const std::vector<Tag>& tags);
// S3's rules: at most 10 tags, unique keys of 1-128 and values of at most 256 characters
// (InvalidTag otherwise). Parses the x-amz-tagging header form strictly.
Result<std::vector<Tag>> ParseTaggingHeader(std::string_view urlencoded);
// <Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging> (PutObjectTagging).
Result<std::vector<Tag>> ParseTaggingXml(std::string_view xml);
std::string TaggingXml(std::vector<Tag> tags);

}  // namespace logbucket::lifecycle
