// What `logbucket push` says while it uploads. On a terminal: one line, redrawn at most ten
// times a second, with the bytes sent of the whole push, its rate and time left, and the file
// being sent with its own share and time left. In a CI log (no terminal): nothing while bytes
// move, one line per finished file (its size, time and rate): a log of the log upload stays
// short and readable.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace logbucket::push {

class Progress {
 public:
  enum class Mode { kQuiet, kTerminal, kLines };

  Progress(Mode mode, uint64_t total_bytes, std::FILE* out = stderr,
           const Clock* clock = &SystemClock::Instance());

  // A file (named by its key) starts; `bytes` is its size.
  void Begin(const std::string& key, uint64_t bytes);
  // `bytes` more of it were acknowledged by the server (a PUT, or a part).
  void Add(const std::string& key, uint64_t bytes);
  // It is complete (a multipart upload's completion answered).
  void Finish(const std::string& key);

 private:
  struct File {
    uint64_t size = 0;
    uint64_t done = 0;
    int64_t started_ms = 0;
  };
  void DrawLocked(int64_t now_ms, bool force);

  const Mode mode_;
  const uint64_t total_;
  std::FILE* const out_;
  const Clock* const clock_;
  const int64_t start_ms_;
  std::mutex mu_;
  uint64_t done_ = 0;
  int64_t drawn_ms_ = -1000;
  size_t drawn_width_ = 0;
  std::map<std::string, File> files_;
  std::string current_;  // the file the terminal line names
};

// "12.3 MB", "1.0 GB"; "5 s", "2 min 5 s", "1 h 4 min".
std::string FormatBytes(double bytes);
std::string FormatSeconds(double seconds);

}  // namespace logbucket::push
