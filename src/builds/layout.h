// The CI's bucket layout: <org>/<repo>/<pr or branch>/<sha or "latest">/<check>/<file>, the
// check's artifacts under <check>/artifacts/. What the viewer titles pages with and what the
// build index reads a build's identity from.
#pragma once

#include <string>
#include <string_view>

namespace logbucket::builds {

// Facts from a CI key; all empty when the key is not one.
struct KeyFacts {
  std::string repo;    // org/repo
  std::string pr;      // a pull request's number, or
  std::string branch;  // a branch's name (branch builds)
  std::string commit;  // sha or "latest"
  std::string check;
  std::string file;  // the name in the check's folder, e.g. fullLog.txt or artifacts/plot.png
};
KeyFacts ParseCiKey(std::string_view key);

// A check's build log: fullLog.txt, or fullLog.txt.gz.
bool IsBuildLog(const KeyFacts& facts);

}  // namespace logbucket::builds
