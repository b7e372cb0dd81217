// Bucket policies in the AWS policy grammar: parse + validate (MalformedPolicy with a message
// that points at the offending part), evaluate (explicit Deny > Allow > implicit deny) and
// explain (which statements decided, and why the others did not apply). Pure: no I/O, no
// store; the S3 service supplies the request context.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace logbucket::policy {

// AWS's limit for a bucket policy document.
inline constexpr size_t kMaxPolicyBytes = 20 * 1024;

// Who asks, what for, on what, under which conditions.
struct Request {
  bool anonymous = true;
  std::string user;      // user name when authenticated
  std::string action;    // "s3:GetObject"
  std::string resource;  // "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key"
  // Condition keys ("aws:SourceIp", "s3:prefix", ...; compared case-insensitively), each with
  // one or more values. A key that is not here is "missing" in the AWS sense.
  std::vector<std::pair<std::string, std::vector<std::string>>> keys;

  void Set(std::string key, std::string value) {
    keys.emplace_back(std::move(key), std::vector<std::string>());
    keys.back().second.push_back(std::move(value));
  }
  const std::vector<std::string>* Find(std::string_view key) const;
  // "anonymous" or "user/NAME", for explanations.
  std::string PrincipalText() const;
};

enum class Decision { kAllow, kExplicitDeny, kImplicitDeny };
std::string_view DecisionName(Decision decision);  // "allow", "explicit deny", "implicit deny"

// One statement's part in a decision.
struct StatementOutcome {
  std::string name;   // the Sid, or "Statement[i]" (0-based) when it has none
  bool allow = true;  // its Effect
  bool applied = false;
  std::string reason;  // why it applied, or the first element that did not match
};

struct Explanation {
  Decision decision = Decision::kImplicitDeny;
  // The statements that made the decision (the applying Deny statements, or the applying Allow
  // statements), then those that were about this action and resource but did not apply.
  std::vector<StatementOutcome> deciding;
  std::vector<StatementOutcome> near_misses;

  // One line: "implicit deny: no statement allows s3:GetObject on ... for anonymous; 'Read'
  // did not apply: aws:SourceIp 10.0.0.9 is not in IpAddress [10.1.0.0/16]".
  std::string ToString(const Request& request) const;
};

struct ParseOptions {
  // When set, resources must be able to name this bucket or its objects (AWS refuses a policy
  // that only talks about other buckets).
  std::string bucket;
  // When set, `arn:aws:iam:::user/NAME` principals must name an existing user (AWS refuses
  // unknown principals, which turns a typo into an error instead of a silent non-match).
  std::function<bool(std::string_view user)> user_exists;
};

class Policy {
 public:
  // Parses and validates a policy document. Errors are MalformedPolicy (InvalidPolicyDocument
  // for documents over kMaxPolicyBytes is also MalformedPolicy, as S3 answers).
  static Result<Policy> Parse(std::string_view json, const ParseOptions& options = {});

  Explanation Evaluate(const Request& request) const;

  // True when some Allow statement grants anything to everyone ("*" or {"AWS": "*"}, or a
  // NotPrincipal) without a condition that pins the caller (aws:SourceIp, aws:username, ...):
  // GetBucketPolicyStatus's IsPublic.
  bool IsPublic() const;

  size_t statement_count() const;

  struct Impl;

 private:
  explicit Policy(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// The decision for `request` and the statements that made it (Policy::Evaluate by its
// DESIGN.md name).
inline Explanation Explain(const Policy& policy, const Request& request) {
  return policy.Evaluate(request);
}

// AWS wildcard match: '*' any run of characters (also '/'), '?' exactly one.
bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case = false);

}  // namespace logbucket::policy
