// Authorisation pieces of the S3 API that are not request handling: the IAM action of each
// operation, caches of parsed bucket documents (policy JSON, lifecycle XML) keyed by their text,
// and a bounded log of recent access decisions for `logbucket verify` (the explain endpoint).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lifecycle/lifecycle.h"
#include "policy/policy.h"
#include "s3/router.h"

namespace logbucket::s3 {

// "s3:GetObject" for GetObject and HeadObject, "s3:ListBucket" for ListObjects(V2) and
// HeadBucket, ... as AWS documents; empty for operations without a bucket-level check.
std::string_view IamAction(Operation op);
// Object-level operations are checked against arn:aws:s3:::BUCKET/KEY, others against the
// bucket ARN.
bool IsObjectOperation(Operation op);

// Parsed documents by bucket, reused while the stored text is unchanged (policies are evaluated
// on every request; parsing 20 KB of JSON each time would dominate small GETs).
template <typename T>
class DocumentCache {
 public:
  std::shared_ptr<const T> Find(const std::string& bucket, const std::string& text) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(bucket);
    if (it == entries_.end() || it->second.text != text) return nullptr;
    return it->second.parsed;
  }
  void Insert(const std::string& bucket, const std::string& text, std::shared_ptr<const T> parsed) {
    std::lock_guard lock(mu_);
    if (entries_.size() > 10000) entries_.clear();
    entries_[bucket] = {text, std::move(parsed)};
  }

 private:
  struct Entry {
    std::string text;
    std::shared_ptr<const T> parsed;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// The last N access decisions that involved a bucket policy or a denial, by request id.
class DecisionLog {
 public:
  static constexpr size_t kCapacity = 1024;
  void Record(std::string request_id, std::string explanation);
  std::optional<std::string> Find(std::string_view request_id);

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> ring_;
  size_t next_ = 0;
};

}  // namespace logbucket::s3
