// The check's artifacts (ROOT files, plots, JSON reports …): which files --artifacts names, which
// are skipped and why, and the content type each is stored with.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace logbucket::push {

struct ArtifactOptions {
  std::vector<std::string> artifacts;  // files or directories
  uint64_t artifact_max_bytes = 100ULL << 20;
  size_t artifact_max_count = 10000;
};

// An artifact of the check (ROOT files, plots, JSON reports …), uploaded as
// <check>/artifacts/<name>.
struct Artifact {
  std::string file;  // local path
  std::string name;  // its path under artifacts/, '/'-separated
  uint64_t size = 0;
};

struct SkippedArtifact {
  std::string file;  // for people: a name that is not UTF-8 has its non-ASCII bytes as '?'
  std::string reason;
};

struct Artifacts {
  std::vector<Artifact> files;
  std::vector<SkippedArtifact> skipped;
};

// The content type an artifact is stored with, so browsers show it inline: by extension, else
// text/plain when the first 4 KiB look like UTF-8 text, else application/octet-stream.
std::string ArtifactContentType(const std::string& path);

// The files named by --artifacts: a file stands for itself (its base name), a directory for
// every file below it (paths relative to it). Symbolic links to files are followed, links to
// directories are not (no loops). Files over the size cap are skipped with a reason, so one
// oversized plot never keeps the log from being uploaded. So are names no S3 key can hold (not
// UTF-8, or longer than `max_name_bytes`, what the 1024-byte key limit leaves after the prefix).
Result<Artifacts> CollectArtifacts(const ArtifactOptions& flags, size_t max_name_bytes);

}  // namespace logbucket::push
