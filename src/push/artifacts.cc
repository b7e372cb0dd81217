#include "push/artifacts.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>
#include <unordered_set>

#include "common/encoding.h"
#include "logs/ansi.h"
#include "platform/file_util.h"

namespace logbucket::push {
namespace {

std::string DisplayPath(std::string path) {
  if (!IsValidUtf8(path)) {
    for (char& c : path) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return path;
}

// Whether a file's first 4 KiB are UTF-8 text without NUL (a character cut by the sample's end
// does not count against it).
bool LooksLikeText(const std::string& path) {
  platform::ScopedFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return false;
  char buffer[4096];
  ssize_t n = ::pread(in.get(), buffer, sizeof buffer, 0);
  if (n < 0) return false;
  std::string_view head(buffer, static_cast<size_t>(n));
  if (head.find('\0') != std::string_view::npos) return false;
  if (head.size() == sizeof buffer) {
    for (size_t back = 1; back <= 3 && back <= head.size(); ++back) {
      auto c = static_cast<unsigned char>(head[head.size() - back]);
      if ((c & 0xc0) == 0x80) continue;         // a continuation byte: look further back
      if (c >= 0xc0) head.remove_suffix(back);  // the lead byte of a possibly cut character
      break;
    }
  }
  return IsValidUtf8(head);
}

}  // namespace

std::string ArtifactContentType(const std::string& path) {
  static const std::pair<const char*, const char*> kByExtension[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".svg", "image/svg+xml"},
      {".webp", "image/webp"},
      {".pdf", "application/pdf"},
      {".json", "application/json"},
      {".xml", "application/xml"},
      {".csv", "text/csv; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".log", "text/plain; charset=utf-8"},
      {".gz", "application/gzip"},
      {".tgz", "application/gzip"},
      {".zip", "application/zip"},
      {".tar", "application/x-tar"},
      {".root", "application/octet-stream"},
  };
  std::string name = path.substr(path.rfind('/') + 1);
  std::string lower = AsciiLower(name);
  for (const auto& [extension, type] : kByExtension) {
    if (lower.ends_with(extension)) return type;
  }
  return LooksLikeText(path) ? "text/plain; charset=utf-8" : "application/octet-stream";
}

Result<Artifacts> CollectArtifacts(const ArtifactOptions& flags, size_t max_name_bytes) {
  namespace fs = std::filesystem;
  Artifacts out;
  auto add = [&](const fs::path& file, std::string name) -> Status {
    if (!IsValidUtf8(name) || name.size() > max_name_bytes) {
      out.skipped.push_back(
          {DisplayPath(file.string()), name.size() > max_name_bytes
                                           ? "its name is longer than an S3 key allows"
                                           : "its name is not UTF-8, which S3 keys must be"});
      return Status::Ok();
    }
    std::error_code ec;
    uint64_t size = fs::file_size(file, ec);
    if (ec) return Error(ErrorCode::kInvalidArgument, file.string() + ": " + ec.message());
    if (size > flags.artifact_max_bytes) {
      out.skipped.push_back(
          {DisplayPath(file.string()), std::to_string(size) + " bytes, over the " +
                                           std::to_string(flags.artifact_max_bytes) +
                                           "-byte limit (--artifact-max-bytes)"});
      return Status::Ok();
    }
    if (out.files.size() == flags.artifact_max_count) {
      return Error(ErrorCode::kInvalidArgument, "--artifacts: more than " +
                                                    std::to_string(flags.artifact_max_count) +
                                                    " files (--artifact-max-count)");
    }
    for (const Artifact& a : out.files) {
      if (a.name == name) {
        return Error(ErrorCode::kInvalidArgument, "--artifacts: " + a.file + " and " +
                                                      file.string() + " would both be artifacts/" +
                                                      name);
      }
    }
    out.files.push_back({file.string(), std::move(name), size});
    return Status::Ok();
  };
  for (const std::string& root : flags.artifacts) {
    std::error_code ec;
    fs::file_status status = fs::status(root, ec);
    if (ec || !fs::exists(status)) {
      return Error(ErrorCode::kInvalidArgument, "--artifacts '" + root + "': no such file");
    }
    if (fs::is_regular_file(status)) {
      LB_RETURN_IF_ERROR(add(root, fs::path(root).filename().string()));
      continue;
    }
    if (!fs::is_directory(status)) {
      return Error(ErrorCode::kInvalidArgument,
                   "--artifacts '" + root + "': neither a file nor a directory");
    }
    std::vector<fs::path> files;
    fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      fs::file_status entry = it->status(ec);  // follows a link to see what it points at
      if (ec) break;
      if (fs::is_regular_file(entry)) {
        files.push_back(it->path());
      } else if (it->is_symlink() || !fs::is_directory(entry)) {
        out.skipped.push_back({DisplayPath(it->path().string()),
                               it->is_symlink() && fs::is_directory(entry) ? "a link to a directory"
                                                                           : "not a regular file"});
      }
    }
    if (ec)
      return Error(ErrorCode::kInvalidArgument, "--artifacts '" + root + "': " + ec.message());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      LB_RETURN_IF_ERROR(add(file, file.lexically_relative(root).generic_string()));
    }
  }
  return out;
}

}  // namespace logbucket::push
