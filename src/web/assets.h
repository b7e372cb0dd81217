// The viewer's static files (src/web/assets/), embedded in the binary at build time.
#pragma once

#include <string_view>
#include <vector>

namespace logbucket::web {

struct Asset {
  std::string_view name;  // file name, e.g. "viewer.js"
  std::string_view data;
};

const std::vector<Asset>& Assets();

}  // namespace logbucket::web
