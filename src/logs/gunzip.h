// Streaming gzip decoding for `.gz` logs (CI systems often upload them compressed). Bounded:
// a decompression bomb stops at `max_output` bytes instead of filling memory or disk.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "common/status.h"

namespace logbucket::logs {

class GzipDecoder {
 public:
  explicit GzipDecoder(uint64_t max_output = UINT64_MAX);
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Decodes `input`, handing the output to `sink` in pieces. Concatenated gzip members are
  // decoded one after another, as gzip(1) does. Returns an error for corrupt data; returns OK
  // but sets limit_reached() when max_output is hit (the rest is ignored).
  Status Feed(std::string_view input, const std::function<void(std::string_view)>& sink);
  // Errors if the stream ended inside a member (a truncated upload).
  Status Finish() const;
  bool limit_reached() const { return limit_reached_; }
  uint64_t output_bytes() const { return produced_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  uint64_t max_output_;
  uint64_t produced_ = 0;
  bool limit_reached_ = false;
};

// True when `path` (an object key or file name) ends in ".gz".
bool IsGzipName(std::string_view path);

}  // namespace logbucket::logs
