#include "logs/line_index.h"

#include <cstring>

namespace logbucket::logs {

void LineIndex::Append(std::string_view chunk) {
  const char* p = chunk.data();
  const char* end = p + chunk.size();
  while (p < end) {
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
    if (nl == nullptr) break;
    p = static_cast<const char*>(nl) + 1;
    starts_.push_back(total_ + static_cast<uint64_t>(p - chunk.data()));
  }
  total_ += chunk.size();
}

uint64_t LineIndex::line_count() const {
  // starts_ holds one entry per '\n' plus the first line; the last entry begins a line only if
  // bytes follow it.
  uint64_t complete = starts_.size() - 1;
  return starts_.back() < total_ ? complete + 1 : complete;
}

LineIndex::Range LineIndex::Line(uint64_t n) const {
  uint64_t begin = starts_[n];
  uint64_t end = n + 1 < starts_.size() ? starts_[n + 1] - 1 : total_;
  return {begin, end};
}

}  // namespace logbucket::logs
