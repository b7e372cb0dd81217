// Where each line of a log starts, built in one memchr pass and extendable chunk by chunk (so a
// streamed object is indexed while it is read). Lines split on '\n' only: a CRLF ends a line
// once, a bare '\r' never splits (it is a progress-bar redraw within the line). Line numbers
// are 0-based here; the viewer shows them 1-based.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace logbucket::logs {

// The number of '\n' bytes in [data, data + size), eight bytes at a time (~10 GB/s): line
// numbers of search hits and error candidates come from it.
uint64_t CountNewlines(const char* data, size_t size);

class LineIndex {
 public:
  // Feeds the next bytes of the log.
  void Append(std::string_view chunk);
  // Number of lines so far; a final line without '\n' counts, an empty log has none.
  uint64_t line_count() const;
  uint64_t total_bytes() const { return total_; }
  // Byte range [begin, end) of line `n`, without its '\n' (a trailing '\r' stays: renderers
  // drop it). Requires n < line_count().
  struct Range {
    uint64_t begin = 0;
    uint64_t end = 0;
  };
  Range Line(uint64_t n) const;

 private:
  std::vector<uint64_t> starts_{0};  // start offset of every line begun so far
  uint64_t total_ = 0;
};

}  // namespace logbucket::logs
