#include "policy/policy.h"

#include <algorithm>
#include <cmath>

#include "common/encoding.h"
#include "common/net.h"
#include "policy/statement.h"

namespace logbucket::policy {
namespace {

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
