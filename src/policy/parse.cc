#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/net.h"
#include "policy/statement.h"

namespace logbucket::policy {
namespace {

constexpr int kMaxJsonDepth = 16;

using nlohmann::json;

Status Malformed(std::string message) {
  return Error(ErrorCode::kMalformedPolicy, std::move(message));
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

}  // namespace

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

}  // namespace logbucket::policy
