#include "policy/policy.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/encoding.h"
#include "common/net.h"

namespace logbucket::policy {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 16;
constexpr std::string_view kS3ArnPrefix = "arn:aws:s3:::";

// Every S3 action name (without "s3:"), lower-cased, so a typo is refused instead of silently
// never matching. Wildcard actions are checked to match at least one of these.
const std::set<std::string, std::less<>>& KnownActions() {
  static const auto* actions = [] {
    auto* s = new std::set<std::string, std::less<>>();
    for (const char* name : {"AbortMultipartUpload",
                             "BypassGovernanceRetention",
                             "CreateBucket",
                             "DeleteBucket",
                             "DeleteBucketOwnershipControls",
                             "DeleteBucketPolicy",
                             "DeleteBucketWebsite",
                             "DeleteObject",
                             "DeleteObjectTagging",
                             "DeleteObjectVersion",
                             "DeleteObjectVersionTagging",
                             "GetAccelerateConfiguration",
                             "GetAnalyticsConfiguration",
                             "GetBucketAcl",
                             "GetBucketCORS",
                             "GetBucketLocation",
                             "GetBucketLogging",
                             "GetBucketNotification",
                             "GetBucketObjectLockConfiguration",
                             "GetBucketOwnershipControls",
                             "GetBucketPolicy",
                             "GetBucketPolicyStatus",
                             "GetBucketPublicAccessBlock",
                             "GetBucketRequestPayment",
                             "GetBucketTagging",
                             "GetBucketVersioning",
                             "GetBucketWebsite",
                             "GetEncryptionConfiguration",
                             "GetIntelligentTieringConfiguration",
                             "GetInventoryConfiguration",
                             "GetLifecycleConfiguration",
                             "GetMetricsConfiguration",
                             "GetObject",
                             "GetObjectAcl",
                             "GetObjectAttributes",
                             "GetObjectLegalHold",
                             "GetObjectRetention",
                             "GetObjectTagging",
                             "GetObjectTorrent",
                             "GetObjectVersion",
                             "GetObjectVersionAcl",
                             "GetObjectVersionAttributes",
                             "GetObjectVersionForReplication",
                             "GetObjectVersionTagging",
                             "GetObjectVersionTorrent",
                             "GetReplicationConfiguration",
                             "ListAllMyBuckets",
                             "ListBucket",
                             "ListBucketMultipartUploads",
                             "ListBucketVersions",
                             "ListMultipartUploadParts",
                             "ObjectOwnerOverrideToBucketOwner",
                             "PutAccelerateConfiguration",
                             "PutAnalyticsConfiguration",
                             "PutBucketAcl",
                             "PutBucketCORS",
                             "PutBucketLogging",
                             "PutBucketNotification",
                             "PutBucketObjectLockConfiguration",
                             "PutBucketOwnershipControls",
                             "PutBucketPolicy",
                             "PutBucketPublicAccessBlock",
                             "PutBucketRequestPayment",
                             "PutBucketTagging",
                             "PutBucketVersioning",
                             "PutBucketWebsite",
                             "PutEncryptionConfiguration",
                             "PutIntelligentTieringConfiguration",
                             "PutInventoryConfiguration",
                             "PutLifecycleConfiguration",
                             "PutMetricsConfiguration",
                             "PutObject",
                             "PutObjectAcl",
                             "PutObjectLegalHold",
                             "PutObjectRetention",
                             "PutObjectTagging",
                             "PutObjectVersionAcl",
                             "PutObjectVersionTagging",
                             "PutReplicationConfiguration",
                             "ReplicateDelete",
                             "ReplicateObject",
                             "ReplicateTags",
                             "RestoreObject"}) {
      s->insert(AsciiLower(name));
    }
    return s;
  }();
  return *actions;
}

// S3 condition keys we know; "aws:" global keys are all accepted (unknown ones are simply
// never present in a request, which the operators' missing-key rules handle).
bool KnownS3ConditionKey(std::string_view lower_key) {
  static const std::set<std::string, std::less<>> keys = {
      "s3:prefix",
      "s3:delimiter",
      "s3:max-keys",
      "s3:authtype",
      "s3:signatureversion",
      "s3:signatureage",
      "s3:x-amz-content-sha256",
      "s3:x-amz-acl",
      "s3:x-amz-copy-source",
      "s3:x-amz-metadata-directive",
      "s3:x-amz-server-side-encryption",
      "s3:x-amz-server-side-encryption-aws-kms-key-id",
      "s3:x-amz-server-side-encryption-customer-algorithm",
      "s3:if-match",
      "s3:if-none-match",
      "s3:objectcreationoperation",
      "s3:x-amz-object-ownership",
      "s3:resourceaccount",
      "s3:accesspointnetworkorigin",
      "s3:dataaccesspointaccount",
      "s3:dataaccesspointarn",
      "s3:x-amz-storage-class",
      "s3:x-amz-grant-read",
      "s3:x-amz-grant-write",
      "s3:x-amz-grant-read-acp",
      "s3:x-amz-grant-write-acp",
      "s3:x-amz-grant-full-control",
      "s3:locationconstraint",
      "s3:versionid",
      "s3:tlsversion",
      "s3:requestobjecttagkeys",
      "s3:object-lock-mode",
      "s3:object-lock-remaining-retention-days",
      "s3:object-lock-retain-until-date",
      "s3:object-lock-legal-hold",
  };
  if (keys.count(lower_key) > 0) return true;
  return lower_key.starts_with("s3:existingobjecttag/") ||
         lower_key.starts_with("s3:requestobjecttag/");
}

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

constexpr OpInfo kOps[] = {
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

Status Malformed(std::string message) {
  return Error(ErrorCode::kMalformedPolicy, std::move(message));
}

// Dates in conditions: ISO 8601 (as in aws:CurrentTime) or Unix seconds (aws:EpochTime).
std::optional<int64_t> ParseConditionDate(std::string_view text) {
  if (!text.empty() &&
      std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9'); })) {
    auto seconds = ParseDecimal(text);
    if (!seconds) return std::nullopt;
    return *seconds * 1000;
  }
  return ParseIso8601(text);
}

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 40) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// The JSON scalar a condition value or principal may be, as text.
std::optional<std::string> ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) return v.dump();
  return std::nullopt;
}

// A string or a non-empty array of strings.
Result<std::vector<std::string>> StringList(const json& v, const std::string& where) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array() || v.empty()) {
    return Malformed(where + " must be a string or a non-empty list of strings");
  }
  for (const json& item : v) {
    if (!item.is_string()) return Malformed(where + " must contain only strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

// True when some string starting with `prefix` matches `pattern` (the rest of a pattern can
// always be satisfied by some suffix).
bool PatternCanMatchPrefix(std::string_view pattern, std::string_view prefix) {
  std::vector<bool> states(pattern.size() + 1, false);
  auto close = [&](std::vector<bool>& s) {
    for (size_t j = 0; j < pattern.size(); ++j) {
      if (s[j] && pattern[j] == '*') s[j + 1] = true;
    }
  };
  states[0] = true;
  close(states);
  for (char c : prefix) {
    std::vector<bool> next(pattern.size() + 1, false);
    for (size_t j = 0; j < pattern.size(); ++j) {
      if (!states[j]) continue;
      if (pattern[j] == '*')
        next[j] = true;
      else if (pattern[j] == '?' || pattern[j] == c)
        next[j + 1] = true;
    }
    close(next);
    states.swap(next);
    if (std::none_of(states.begin(), states.end(), [](bool b) { return b; })) return false;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(const ParseOptions& options) : options_(options) {}

  Result<std::vector<Statement>> ParseDocument(const json& doc) {
    if (!doc.is_object()) return Malformed("Policies must be a JSON object");
    for (const auto& [name, value] : doc.items()) {
      if (name != "Version" && name != "Id" && name != "Statement") {
        return Malformed("Unknown field " + name +
                         " in the policy (expected Version, Id, Statement)");
      }
    }
    if (auto v = doc.find("Version"); v != doc.end()) {
      if (!v->is_string() ||
          (v->get<std::string>() != "2012-10-17" && v->get<std::string>() != "2008-10-17")) {
        return Malformed("Version must be \"2012-10-17\" or \"2008-10-17\"");
      }
      version_2012_ = v->get<std::string>() == "2012-10-17";
    }
    if (auto id = doc.find("Id"); id != doc.end() && !id->is_string()) {
      return Malformed("Id must be a string");
    }
    auto st = doc.find("Statement");
    if (st == doc.end()) return Malformed("Missing required field Statement");
    std::vector<Statement> out;
    if (st->is_object()) {
      auto s = ParseStatement(*st, 0);
      if (!s) return s.error();
      out.push_back(std::move(*s));
    } else if (st->is_array() && !st->empty()) {
      for (size_t i = 0; i < st->size(); ++i) {
        auto s = ParseStatement((*st)[i], i);
        if (!s) return s.error();
        out.push_back(std::move(*s));
      }
    } else {
      return Malformed("Statement must be an object or a non-empty list of objects");
    }
    std::set<std::string> sids;
    for (const Statement& s : out) {
      if (s.name.starts_with("Statement[")) continue;
      if (!sids.insert(s.name).second) {
        return Malformed("Statement IDs (Sid) in a single policy must be unique: \"" + s.name +
                         "\" appears twice");
      }
    }
    return out;
  }

  bool version_2012() const { return version_2012_; }

 private:
  Result<Statement> ParseStatement(const json& s, size_t index) {
    std::string where = "Statement[" + std::to_string(index) + "]";
    if (!s.is_object()) return Malformed(where + " must be an object");
    Statement out;
    out.name = where;
    for (const auto& [name, value] : s.items()) {
      static const std::set<std::string> known = {"Sid",          "Effect",      "Principal",
                                                  "NotPrincipal", "Action",      "NotAction",
                                                  "Resource",     "NotResource", "Condition"};
      if (known.count(name) == 0) return Malformed(where + ": unknown field " + name);
    }
    if (auto sid = s.find("Sid"); sid != s.end()) {
      if (!sid->is_string()) return Malformed(where + ": Sid must be a string");
      std::string text = sid->get<std::string>();
      if (!text.empty()) {
        out.name = text;
        where += " (Sid \"" + text + "\")";
      }
    }
    auto effect = s.find("Effect");
    if (effect == s.end()) return Malformed(where + ": missing required field Effect");
    if (!effect->is_string() ||
        (effect->get<std::string>() != "Allow" && effect->get<std::string>() != "Deny")) {
      return Malformed(where + ": Effect must be \"Allow\" or \"Deny\"");
    }
    out.allow = effect->get<std::string>() == "Allow";

    LB_RETURN_IF_ERROR(ExactlyOne(s, "Principal", "NotPrincipal", where));
    out.not_principal = s.contains("NotPrincipal");
    if (out.not_principal && out.allow) {
      // "Allow everyone but X" grants to the whole world, anonymous included: AWS refuses it
      // (NotPrincipal is for Deny only), and so do we.
      return Malformed(where + ": NotPrincipal can only be used with \"Effect\": \"Deny\"");
    }
    auto principal = ParsePrincipal(s.at(out.not_principal ? "NotPrincipal" : "Principal"),
                                    where + (out.not_principal ? ": NotPrincipal" : ": Principal"));
    if (!principal) return principal.error();
    out.principals = std::move(*principal);

    LB_RETURN_IF_ERROR(ExactlyOne(s, "Action", "NotAction", where));
    out.not_action = s.contains("NotAction");
    std::string action_field = out.not_action ? "NotAction" : "Action";
    auto actions = StringList(s.at(action_field), where + ": " + action_field);
    if (!actions) return actions.error();
    for (std::string& a : *actions) {
      std::string lower = AsciiLower(a);
      if (lower != "*" && lower != "s3:*") {
        if (!lower.starts_with("s3:")) {
          return Malformed(where + ": Policy has invalid action \"" + a +
                           "\" (bucket policies name s3: actions)");
        }
        std::string_view name = std::string_view(lower).substr(3);
        bool any = false;
        for (const std::string& known : KnownActions()) {
          if (WildcardMatch(name, known)) {
            any = true;
            break;
          }
        }
        if (!any) return Malformed(where + ": Policy has invalid action \"" + a + "\"");
      }
      out.actions.push_back(lower == "*" ? "s3:*" : lower);
    }

    LB_RETURN_IF_ERROR(ExactlyOne(s, "Resource", "NotResource", where));
    out.not_resource = s.contains("NotResource");
    std::string resource_field = out.not_resource ? "NotResource" : "Resource";
    auto resources = StringList(s.at(resource_field), where + ": " + resource_field);
    if (!resources) return resources.error();
    for (std::string& r : *resources) {
      if (r != "*" && !r.starts_with(kS3ArnPrefix)) {
        return Malformed(where + ": Policy has invalid resource \"" + r +
                         "\" (expected arn:aws:s3:::BUCKET or arn:aws:s3:::BUCKET/KEY)");
      }
      if (!options_.bucket.empty() && r != "*" && !out.not_resource) {
        std::string_view pattern = std::string_view(r).substr(kS3ArnPrefix.size());
        if (!WildcardMatch(pattern, options_.bucket) &&
            !PatternCanMatchPrefix(pattern, options_.bucket + "/")) {
          return Malformed(where + ": Policy has invalid resource \"" + r +
                           "\": it names neither bucket " + options_.bucket + " nor its objects");
        }
      }
      out.resources.push_back(r);
    }

    if (auto cond = s.find("Condition"); cond != s.end()) {
      auto conditions = ParseConditions(*cond, where + ": Condition");
      if (!conditions) return conditions.error();
      out.conditions = std::move(*conditions);
    }
    return out;
  }

  static Status ExactlyOne(const json& s, const char* a, const char* b, const std::string& where) {
    bool has_a = s.contains(a), has_b = s.contains(b);
    if (has_a && has_b) {
      return Malformed(where + ": " + a + " and " + b + " cannot both be given");
    }
    if (!has_a && !has_b) return Malformed(where + ": missing required field " + a);
    return Status::Ok();
  }

  Result<PrincipalSet> ParsePrincipal(const json& p, const std::string& where) {
    PrincipalSet out;
    if (p.is_string()) {
      if (p.get<std::string>() != "*") {
        return Malformed(where + " must be \"*\" or {\"AWS\": ...}");
      }
      out.everyone = true;
      return out;
    }
    if (!p.is_object() || p.empty()) {
      return Malformed(where + " must be \"*\" or an object such as {\"AWS\": [...]}");
    }
    for (const auto& [type, value] : p.items()) {
      if (type != "AWS") {
        return Malformed(where + ": principal type \"" + type +
                         "\" is not supported (use \"AWS\" with user ARNs)");
      }
      auto list = StringList(value, where + ".AWS");
      if (!list) return list.error();
      for (const std::string& entry : *list) LB_RETURN_IF_ERROR(AddPrincipal(entry, where, out));
    }
    return out;
  }

  Status AddPrincipal(const std::string& entry, const std::string& where, PrincipalSet& out) {
    if (entry == "*") {
      out.everyone = true;
      return Status::Ok();
    }
    // A bare 12-digit account id means that account's root.
    if (entry.size() == 12 && std::all_of(entry.begin(), entry.end(), ::isdigit)) {
      out.foreign.push_back(entry);
      return Status::Ok();
    }
    constexpr std::string_view kIam = "arn:aws:iam::";
    if (!entry.starts_with(kIam)) {
      return Malformed(where + ": Invalid principal in policy: \"" + entry +
                       "\" (expected \"*\", arn:aws:iam:::user/NAME or arn:aws:iam::ACCOUNT:root)");
    }
    std::string_view rest = std::string_view(entry).substr(kIam.size());
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return Malformed(where + ": Invalid principal in policy: \"" + entry + "\"");
    }
    std::string_view account = rest.substr(0, colon);
    std::string_view resource = rest.substr(colon + 1);
    if (resource == "root") {
      if (account.empty())
        out.account_root = true;
      else
        out.foreign.push_back(entry);
      return Status::Ok();
    }
    if (!resource.starts_with("user/") || resource.size() == 5) {
      return Malformed(where + ": Invalid principal in policy: \"" + entry +
                       "\" (only user/NAME and root principals exist here)");
    }
    std::string user(resource.substr(resource.rfind('/') + 1));
    if (!account.empty()) {
      out.foreign.push_back(entry);
      return Status::Ok();
    }
    if (options_.user_exists && !options_.user_exists(user)) {
      return Malformed(where + ": Invalid principal in policy: no user \"" + user + "\"");
    }
    out.users.push_back(user);
    return Status::Ok();
  }

  Result<std::vector<Condition>> ParseConditions(const json& c, const std::string& where) {
    if (!c.is_object()) return Malformed(where + " must be an object");
    std::vector<Condition> out;
    for (const auto& [op_name, block] : c.items()) {
      Condition base;
      std::string_view name = op_name;
      if (name.starts_with("ForAnyValue:")) {
        base.qualifier = SetQualifier::kForAnyValue;
        name.remove_prefix(12);
      } else if (name.starts_with("ForAllValues:")) {
        base.qualifier = SetQualifier::kForAllValues;
        name.remove_prefix(13);
      }
      if (name.ends_with("IfExists") && name != "IfExists") {
        base.if_exists = true;
        name.remove_suffix(8);
      }
      const OpInfo* info = nullptr;
      for (const OpInfo& o : kOps) {
        if (o.name == name) info = &o;
      }
      if (info == nullptr || (info->op == Op::kNull && (base.if_exists))) {
        return Malformed(where + ": Invalid Condition type : " + op_name);
      }
      base.op = *info;
      if (!block.is_object() || block.empty()) {
        return Malformed(where + "." + op_name + " must be an object of condition keys");
      }
      for (const auto& [key, value] : block.items()) {
        std::string here = where + "." + op_name + "." + key;
        Condition cond = base;
        cond.key = AsciiLower(key);
        cond.key_text = key;
        cond.text = op_name + " " + key;
        size_t colon = cond.key.find(':');
        std::string ns = colon == std::string::npos ? "" : cond.key.substr(0, colon);
        if (ns != "aws" && !(ns == "s3" && KnownS3ConditionKey(cond.key))) {
          return Malformed(here + ": Policy has an invalid condition key \"" + key + "\"");
        }
        std::vector<const json*> items;
        if (value.is_array()) {
          if (value.empty()) return Malformed(here + ": the list of values is empty");
          for (const json& v : value) items.push_back(&v);
        } else {
          items.push_back(&value);
        }
        for (const json* v : items) {
          auto text = ScalarText(*v);
          if (!text)
            return Malformed(here + ": condition values must be strings, numbers or booleans");
          LB_RETURN_IF_ERROR(AddConditionValue(cond, *text, here));
        }
        out.push_back(std::move(cond));
      }
    }
    return out;
  }

  static Status AddConditionValue(Condition& cond, const std::string& value,
                                  const std::string& here) {
    switch (cond.op.op) {
      case Op::kIpAddress:
      case Op::kNotIpAddress: {
        auto cidr = ParseCidr(value);
        if (!cidr) return Malformed(here + ": \"" + value + "\" is not an IP address or CIDR");
        cond.cidrs.push_back(*cidr);
        break;
      }
      case Op::kNumericEquals:
      case Op::kNumericNotEquals:
      case Op::kNumericLessThan:
      case Op::kNumericLessThanEquals:
      case Op::kNumericGreaterThan:
      case Op::kNumericGreaterThanEquals: {
        auto n = ParseNumber(value);
        if (!n) return Malformed(here + ": \"" + value + "\" is not a number");
        cond.numbers.push_back(*n);
        break;
      }
      case Op::kDateEquals:
      case Op::kDateNotEquals:
      case Op::kDateLessThan:
      case Op::kDateLessThanEquals:
      case Op::kDateGreaterThan:
      case Op::kDateGreaterThanEquals: {
        auto d = ParseConditionDate(value);
        if (!d)
          return Malformed(here + ": \"" + value + "\" is not an ISO 8601 date or epoch time");
        cond.dates.push_back(*d);
        break;
      }
      case Op::kBool:
      case Op::kNull:
        if (!EqualsIgnoreCase(value, "true") && !EqualsIgnoreCase(value, "false")) {
          return Malformed(here + ": \"" + value + "\" is not true or false");
        }
        break;
      default:
        break;
    }
    cond.values.push_back(value);
    return Status::Ok();
  }

  const ParseOptions& options_;
  bool version_2012_ = false;
};

// Policy variables (Version 2012-10-17): ${aws:username} and friends from the request, and the
// escapes ${*} ${?} ${$}. A variable whose key is missing makes the string unmatchable.
std::optional<std::string> Substitute(std::string_view text, const Request& request,
                                      bool for_pattern) {
  if (text.find("${") == std::string_view::npos) return std::string(text);
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "${") == 0) {
      size_t end = text.find('}', i);
      if (end == std::string_view::npos) {
        out.append(text.substr(i));
        break;
      }
      std::string_view name = text.substr(i + 2, end - i - 2);
      if (name == "*" || name == "?" || name == "$") {
        // In a pattern the literal must not act as a wildcard; WildcardMatch has no escape,
        // so a literal '*' or '?' there can only match itself by luck. Keep it simple and
        // exact: these escapes only ever appear in hand-written policies.
        out.push_back(name[0]);
      } else {
        const std::vector<std::string>* v = request.Find(name);
        if (v == nullptr || v->empty()) return std::nullopt;
        out.append(v->front());
      }
      i = end + 1;
    } else {
      out.push_back(text[i++]);
    }
  }
  (void)for_pattern;
  return out;
}

bool PrincipalMatches(const PrincipalSet& p, const Request& r) {
  if (p.everyone) return true;
  if (r.anonymous) return false;
  if (p.account_root) return true;
  return std::find(p.users.begin(), p.users.end(), r.user) != p.users.end();
}

// The ordering test of a Numeric*/Date* operator (the Not… forms are negated by the caller).
template <typename T>
bool Compare(Op op, T request_value, T policy_value) {
  switch (op) {
    case Op::kNumericLessThan:
    case Op::kDateLessThan:
      return request_value < policy_value;
    case Op::kNumericLessThanEquals:
    case Op::kDateLessThanEquals:
      return request_value <= policy_value;
    case Op::kNumericGreaterThan:
    case Op::kDateGreaterThan:
      return request_value > policy_value;
    case Op::kNumericGreaterThanEquals:
    case Op::kDateGreaterThanEquals:
      return request_value >= policy_value;
    default:
      return request_value == policy_value;
  }
}

bool MatchOne(const Condition& c, size_t i, std::string_view v) {
  switch (c.op.op) {
    case Op::kStringEquals:
    case Op::kStringNotEquals:
    case Op::kArnEquals:
    case Op::kArnNotEquals:
    case Op::kBinaryEquals:
      return v == c.values[i];
    case Op::kStringEqualsIgnoreCase:
    case Op::kStringNotEqualsIgnoreCase:
      return EqualsIgnoreCase(v, c.values[i]);
    case Op::kStringLike:
    case Op::kStringNotLike:
    case Op::kArnLike:
    case Op::kArnNotLike:
      return WildcardMatch(c.values[i], v);
    case Op::kNumericEquals:
    case Op::kNumericNotEquals:
    case Op::kNumericLessThan:
    case Op::kNumericLessThanEquals:
    case Op::kNumericGreaterThan:
    case Op::kNumericGreaterThanEquals: {
      auto n = ParseNumber(v);
      return n && Compare(c.op.op, *n, c.numbers[i]);
    }
    case Op::kDateEquals:
    case Op::kDateNotEquals:
    case Op::kDateLessThan:
    case Op::kDateLessThanEquals:
    case Op::kDateGreaterThan:
    case Op::kDateGreaterThanEquals: {
      auto d = ParseConditionDate(v);
      return d && Compare(c.op.op, *d, c.dates[i]);
    }
    case Op::kBool:
      return EqualsIgnoreCase(v, c.values[i]);
    case Op::kIpAddress:
    case Op::kNotIpAddress: {
      auto ip = ParseIp(v);
      return ip && CidrContains(c.cidrs[i], *ip);
    }
    case Op::kNull:
      return false;
  }
  return false;
}

std::string ValuesText(const Condition& c) {
  std::string out = "[";
  for (size_t i = 0; i < c.values.size(); ++i) {
    if (i > 0) out += ", ";
    out += c.values[i];
  }
  return out + "]";
}

// Evaluates one condition; on false, `why` says what did not hold.
bool EvaluateCondition(const Condition& c, const Request& r, bool version_2012, std::string& why) {
  const std::vector<std::string>* values = r.Find(c.key);
  if (c.op.op == Op::kNull) {
    bool want_missing = EqualsIgnoreCase(c.values.front(), "true");
    bool missing = values == nullptr || values->empty();
    if (missing == want_missing) return true;
    why = c.text + (missing ? " is missing" : " is present");
    return false;
  }
  if (values == nullptr || values->empty()) {
    if (c.if_exists || c.qualifier == SetQualifier::kForAllValues) return true;
    if (c.qualifier == SetQualifier::kNone && c.op.negated) return true;
    why = c.text + ": the request has no " + c.key_text;
    return false;
  }
  // Policy variables in string values (2012-10-17 only).
  Condition substituted;
  const Condition* cond = &c;
  if (version_2012) {
    bool any = std::any_of(c.values.begin(), c.values.end(),
                           [](const std::string& v) { return v.find("${") != std::string::npos; });
    if (any) {
      substituted = c;
      for (std::string& v : substituted.values) {
        auto s = Substitute(v, r, true);
        v = s ? *s : std::string("\x01unmatchable");
      }
      cond = &substituted;
    }
  }
  auto holds_for = [&](std::string_view v) {
    bool any = false;
    for (size_t i = 0; i < cond->values.size() && !any; ++i) any = MatchOne(*cond, i, v);
    return c.op.negated ? !any : any;
  };
  bool result;
  if (c.qualifier == SetQualifier::kForAllValues) {
    result = std::all_of(values->begin(), values->end(), holds_for);
  } else {
    result = std::any_of(values->begin(), values->end(), holds_for);
  }
  if (!result) {
    std::string got;
    for (size_t i = 0; i < values->size(); ++i) got += (i > 0 ? ", " : "") + (*values)[i];
    why = c.key_text + " " + got + " does not satisfy " + c.text + " " + ValuesText(c);
  }
  return result;
}

}  // namespace

struct Policy::Impl {
  std::vector<Statement> statements;
  bool version_2012 = false;
};

const std::vector<std::string>* Request::Find(std::string_view key) const {
  for (const auto& [k, v] : keys) {
    if (EqualsIgnoreCase(k, key)) return &v;
  }
  return nullptr;
}

std::string Request::PrincipalText() const { return anonymous ? "anonymous" : "user/" + user; }

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAllow:
      return "allow";
    case Decision::kExplicitDeny:
      return "explicit deny";
    case Decision::kImplicitDeny:
      break;
  }
  return "implicit deny";
}

bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  // Iterative glob with single-star backtracking: linear in practice, no recursion.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  auto eq = [&](char a, char b) {
    if (!ignore_case) return a == b;
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' || (pattern[p] != '*' && eq(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<Policy> Policy::Parse(std::string_view text, const ParseOptions& options) {
  if (text.size() > kMaxPolicyBytes) {
    return Malformed("Policies must be no larger than 20 KB (this one is " +
                     std::to_string(text.size()) + " bytes)");
  }
  if (TrimWhitespace(text).empty()) return Malformed("The policy is empty");
  // Reject deep nesting and duplicate keys while parsing (a duplicate "Effect" would make the
  // document mean different things to different readers).
  std::vector<std::set<std::string>> keys;
  std::string problem;
  json doc;
  try {
    doc = json::parse(
        text,
        [&](int depth, json::parse_event_t event, json& parsed) {
          if (depth > kMaxJsonDepth) {
            problem =
                "The policy is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
            throw std::runtime_error(problem);
          }
          if (event == json::parse_event_t::object_start) keys.emplace_back();
          if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
          if (event == json::parse_event_t::key && !keys.empty()) {
            std::string k = parsed.get<std::string>();
            if (!keys.back().insert(k).second) {
              problem = "Duplicate field \"" + k + "\" in one JSON object";
              throw std::runtime_error(problem);
            }
          }
          return true;
        },
        /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." → keep the tail.
    size_t at = what.find("] ");
    return Malformed("The policy is not valid JSON: " +
                     (at == std::string::npos ? what : what.substr(at + 2)));
  } catch (const std::runtime_error&) {
    return Malformed(problem);
  }
  Parser parser(options);
  auto statements = parser.ParseDocument(doc);
  if (!statements) return statements.error();
  auto impl = std::make_shared<Impl>();
  impl->statements = std::move(*statements);
  impl->version_2012 = parser.version_2012();
  return Policy(std::move(impl));
}

size_t Policy::statement_count() const { return impl_->statements.size(); }

Explanation Policy::Evaluate(const Request& r) const {
  Explanation out;
  std::vector<StatementOutcome> allows, denies;
  std::string action = AsciiLower(r.action);
  for (const Statement& s : impl_->statements) {
    StatementOutcome o{s.name, s.allow, false, {}};
    bool action_match = std::any_of(s.actions.begin(), s.actions.end(),
                                    [&](const std::string& a) { return WildcardMatch(a, action); });
    if (action_match == s.not_action) continue;  // not about this action: not even a near miss
    bool resource_match = false;
    for (const std::string& pattern : s.resources) {
      std::optional<std::string> p =
          impl_->version_2012 ? Substitute(pattern, r, true) : std::optional<std::string>(pattern);
      if (p && (*p == "*" || WildcardMatch(*p, r.resource))) {
        resource_match = true;
        break;
      }
    }
    if (resource_match == s.not_resource) continue;
    bool principal_match = PrincipalMatches(s.principals, r);
    if (principal_match == s.not_principal) {
      o.reason = (s.not_principal ? "NotPrincipal includes " : "Principal does not include ") +
                 r.PrincipalText();
      out.near_misses.push_back(std::move(o));
      continue;
    }
    bool conditions_hold = true;
    for (const Condition& c : s.conditions) {
      if (!EvaluateCondition(c, r, impl_->version_2012, o.reason)) {
        conditions_hold = false;
        break;
      }
    }
    if (!conditions_hold) {
      out.near_misses.push_back(std::move(o));
      continue;
    }
    o.applied = true;
    o.reason = std::string(s.allow ? "allows " : "denies ") + r.action + " to " +
               r.PrincipalText() + (s.conditions.empty() ? "" : " (conditions hold)");
    (s.allow ? allows : denies).push_back(std::move(o));
  }
  if (!denies.empty()) {
    out.decision = Decision::kExplicitDeny;
    out.deciding = std::move(denies);
  } else if (!allows.empty()) {
    out.decision = Decision::kAllow;
    out.deciding = std::move(allows);
  }
  return out;
}

std::string Explanation::ToString(const Request& r) const {
  std::string out(DecisionName(decision));
  auto list = [](const std::vector<StatementOutcome>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i > 0 ? ", '" : "'") + v[i].name + "'";
    return s;
  };
  if (decision == Decision::kImplicitDeny) {
    out += ": no statement allows " + r.action + " on " + r.resource + " for " + r.PrincipalText();
  } else {
    out += " by " + list(deciding) + " (" + r.action + " on " + r.resource + " for " +
           r.PrincipalText() + ")";
  }
  for (const StatementOutcome& m : near_misses) {
    out += "; '" + m.name + "' (" + (m.allow ? "Allow" : "Deny") + ") did not apply: " + m.reason;
  }
  return out;
}

bool Policy::IsPublic() const {
  // AWS's rule: a grant to everyone is public unless a condition pins fixed values of keys that
  // identify the caller.
  static const std::set<std::string, std::less<>> pinning = {"aws:sourceip",
                                                             "aws:sourcearn",
                                                             "aws:sourcevpc",
                                                             "aws:sourcevpce",
                                                             "aws:sourceaccount",
                                                             "aws:sourceowner",
                                                             "aws:principalaccount",
                                                             "aws:principalarn",
                                                             "aws:principalorgid",
                                                             "aws:userid",
                                                             "aws:username",
                                                             "s3:dataaccesspointarn",
                                                             "s3:dataaccesspointaccount"};
  for (const Statement& s : impl_->statements) {
    if (!s.allow) continue;
    bool everyone = s.not_principal || s.principals.everyone;
    if (!everyone) continue;
    bool pinned = std::any_of(s.conditions.begin(), s.conditions.end(), [](const Condition& c) {
      if (pinning.count(c.key) == 0 || c.op.negated || c.if_exists) return false;
      if (c.op.op == Op::kIpAddress) {
        // A condition allowing the whole Internet pins nothing.
        return std::none_of(c.cidrs.begin(), c.cidrs.end(),
                            [](const Cidr& cidr) { return cidr.prefix_bits < 8; });
      }
      return c.op.op == Op::kStringEquals || c.op.op == Op::kArnEquals ||
             c.op.op == Op::kStringEqualsIgnoreCase;
    });
    if (!pinned) return true;
  }
  return false;
}

}  // namespace logbucket::policy
