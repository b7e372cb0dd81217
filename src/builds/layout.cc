#include "builds/layout.h"

#include <algorithm>

#include "common/encoding.h"

namespace logbucket::builds {
namespace {

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsHex(std::string_view s) {
  return s.size() >= 7 && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

KeyFacts ParseCiKey(std::string_view key) {
  KeyFacts f;
  auto parts = Split(key, '/');
  if (parts.size() < 6) return f;
  size_t n = parts.size();
  // <org>/<repo>/<pr>/<sha|latest>/<check>/<file>: the check may itself contain slashes;
  // <check>/artifacts/<path> are the check's artifacts (`push --artifacts`).
  // Branch builds have the branch's name where a PR has its number.
  if (parts[2].empty() || !(parts[3] == "latest" || IsHex(parts[3]))) return f;
  f.repo = std::string(parts[0]) + "/" + std::string(parts[1]);
  (IsDigits(parts[2]) ? f.pr : f.branch) = std::string(parts[2]);
  f.commit = std::string(parts[3]);
  size_t file_from = n - 1;
  for (size_t i = 4; i < file_from; ++i) {
    if (i > 4 && parts[i] == "artifacts") {
      file_from = i;
      break;
    }
    if (!f.check.empty()) f.check += '/';
    f.check += std::string(parts[i]);
  }
  for (size_t i = file_from; i < n; ++i) {
    if (!f.file.empty()) f.file += '/';
    f.file += std::string(parts[i]);
  }
  return f;
}

bool IsBuildLog(const KeyFacts& facts) {
  return !facts.repo.empty() && (facts.file == "fullLog.txt" || facts.file == "fullLog.txt.gz");
}

}  // namespace logbucket::builds
