// The policy language's internal model, shared by parsing (parse.cc) and evaluation
// (evaluate.cc): statements, principals, conditions and their operators, and the vocabulary
// (vocabulary.cc) both check against. Included only by policy/*.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/net.h"
#include "policy/policy.h"

namespace logbucket::policy {

inline constexpr std::string_view kS3ArnPrefix = "arn:aws:s3:::";

enum class Op {
  kStringEquals,
  kStringNotEquals,
  kStringEqualsIgnoreCase,
  kStringNotEqualsIgnoreCase,
  kStringLike,
  kStringNotLike,
  kNumericEquals,
  kNumericNotEquals,
  kNumericLessThan,
  kNumericLessThanEquals,
  kNumericGreaterThan,
  kNumericGreaterThanEquals,
  kDateEquals,
  kDateNotEquals,
  kDateLessThan,
  kDateLessThanEquals,
  kDateGreaterThan,
  kDateGreaterThanEquals,
  kBool,
  kBinaryEquals,
  kIpAddress,
  kNotIpAddress,
  kArnEquals,
  kArnLike,
  kArnNotEquals,
  kArnNotLike,
  kNull,
};

struct OpInfo {
  std::string_view name;
  Op op;
  bool negated;
};

inline constexpr OpInfo kOps[] = {
    {"StringEquals", Op::kStringEquals, false},
    {"StringNotEquals", Op::kStringNotEquals, true},
    {"StringEqualsIgnoreCase", Op::kStringEqualsIgnoreCase, false},
    {"StringNotEqualsIgnoreCase", Op::kStringNotEqualsIgnoreCase, true},
    {"StringLike", Op::kStringLike, false},
    {"StringNotLike", Op::kStringNotLike, true},
    {"NumericEquals", Op::kNumericEquals, false},
    {"NumericNotEquals", Op::kNumericNotEquals, true},
    {"NumericLessThan", Op::kNumericLessThan, false},
    {"NumericLessThanEquals", Op::kNumericLessThanEquals, false},
    {"NumericGreaterThan", Op::kNumericGreaterThan, false},
    {"NumericGreaterThanEquals", Op::kNumericGreaterThanEquals, false},
    {"DateEquals", Op::kDateEquals, false},
    {"DateNotEquals", Op::kDateNotEquals, true},
    {"DateLessThan", Op::kDateLessThan, false},
    {"DateLessThanEquals", Op::kDateLessThanEquals, false},
    {"DateGreaterThan", Op::kDateGreaterThan, false},
    {"DateGreaterThanEquals", Op::kDateGreaterThanEquals, false},
    {"Bool", Op::kBool, false},
    {"BinaryEquals", Op::kBinaryEquals, false},
    {"IpAddress", Op::kIpAddress, false},
    {"NotIpAddress", Op::kNotIpAddress, true},
    {"ArnEquals", Op::kArnEquals, false},
    {"ArnLike", Op::kArnLike, false},
    {"ArnNotEquals", Op::kArnNotEquals, true},
    {"ArnNotLike", Op::kArnNotLike, true},
    {"Null", Op::kNull, false},
};

enum class SetQualifier { kNone, kForAnyValue, kForAllValues };

struct Condition {
  std::string text;  // "IpAddress aws:SourceIp", for explanations
  OpInfo op;
  SetQualifier qualifier = SetQualifier::kNone;
  bool if_exists = false;
  std::string key;       // lower case
  std::string key_text;  // as written, for explanations
  std::vector<std::string> values;
  std::vector<Cidr> cidrs;      // IpAddress / NotIpAddress
  std::vector<double> numbers;  // Numeric*
  std::vector<int64_t> dates;   // Date*, Unix ms
};

struct PrincipalSet {
  bool everyone = false;
  std::vector<std::string> users;    // user names of this store's account
  bool account_root = false;         // arn:aws:iam:::root: every user of this store
  std::vector<std::string> foreign;  // principals of other accounts (never match here)
};

struct Statement {
  std::string name;
  bool allow = true;
  bool not_principal = false;
  PrincipalSet principals;
  bool not_action = false;
  std::vector<std::string> actions;  // patterns including "s3:", lower case
  bool not_resource = false;
  std::vector<std::string> resources;  // ARN patterns (case-sensitive)
  std::vector<Condition> conditions;
};

// Every S3 action name (without "s3:"), lower-cased, so a typo is refused instead of silently
// never matching. Wildcard actions are checked to match at least one of these.
const std::set<std::string, std::less<>>& KnownActions();

// S3 condition keys we know; "aws:" global keys are all accepted (unknown ones are simply
// never present in a request, which the operators' missing-key rules handle).
bool KnownS3ConditionKey(std::string_view lower_key);

// Dates in conditions: ISO 8601 (as in aws:CurrentTime) or Unix seconds (aws:EpochTime).
std::optional<int64_t> ParseConditionDate(std::string_view text);

std::optional<double> ParseNumber(std::string_view text);

struct Policy::Impl {
  std::vector<Statement> statements;
  bool version_2012 = false;
};

}  // namespace logbucket::policy
