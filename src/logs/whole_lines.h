// Internal: turns chunks of any size into blocks of whole lines, carrying a line that straddles
// chunks. Shared by the analyzer, the searcher and the diff, which scan a block at a time.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace logbucket::logs {

class WholeLines {
 public:
  enum class Cut {
    // Every line comes cut to its first max_line_bytes (and its '\n'), whether it came in one
    // chunk or straddled many: what the reader reads does not depend on how the chunks fell.
    kEveryLine,
    // Only a line that straddles chunks is cut (a line within one chunk is passed on in place,
    // so a reader that reports byte offsets keeps them; dropped() says how many bytes the cut
    // line lost). With max_line_bytes at least the chunk size, that is every longer line.
    kCarriedLines,
  };

  // With `max_line_bytes` (at least 1), the reader's memory is bounded however long a line is.
  explicit WholeLines(size_t max_line_bytes = std::string::npos, Cut cut = Cut::kEveryLine)
      : max_line_(max_line_bytes), cut_mode_(cut) {}

  // During on_block: the bytes the block's (one, carried) line lost to the cut; 0 otherwise.
  uint64_t dropped() const { return dropped_; }

  // Calls on_block(block) for the whole lines `bytes` completes; every block but the one from
  // Flush ends with '\n'.
  template <typename OnBlock>
  void Feed(std::string_view bytes, OnBlock&& on_block) {
    if (!carry_.empty()) {
      size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos) {
        Carry(bytes);
        return;
      }
      Carry(bytes.substr(0, nl));
      carry_.push_back('\n');
      on_block(std::string_view(carry_));  // one line, already cut
      carry_.clear();
      dropped_ = 0;
      bytes.remove_prefix(nl + 1);
    }
    size_t last_nl = bytes.rfind('\n');
    if (last_nl == std::string_view::npos) {
      Carry(bytes);
      return;
    }
    Emit(bytes.substr(0, last_nl + 1), on_block);
    Carry(bytes.substr(last_nl + 1));
    // A multi-MB line once must not pin its buffer for the rest of the log.
    if (carry_.capacity() > (1u << 20) && carry_.size() < (1u << 16)) carry_.shrink_to_fit();
  }

  // The final line when the log does not end with '\n'.
  template <typename OnBlock>
  void Flush(OnBlock&& on_block) {
    if (carry_.empty()) return;
    on_block(std::string_view(carry_));
    carry_.clear();
    dropped_ = 0;
  }

 private:
  // Whole lines, each cut to max_line_ bytes. Cheap when none is longer (most blocks): a line
  // longer than max_line_ holds an aligned window of max_line_/2 bytes without '\n', so one
  // memchr per window tells; only a block that has such a window is copied line by line.
  template <typename OnBlock>
  void Emit(std::string_view block, OnBlock&& on_block) {
    if (cut_mode_ == Cut::kCarriedLines || block.size() <= max_line_ || !MayHaveLongLine(block)) {
      on_block(block);
      return;
    }
    cut_.clear();
    for (size_t pos = 0; pos < block.size();) {
      size_t nl = block.find('\n', pos);
      size_t end = nl == std::string_view::npos ? block.size() : nl;
      cut_.append(block.substr(pos, std::min(end - pos, max_line_)));
      if (nl != std::string_view::npos) cut_.push_back('\n');
      pos = end + 1;
    }
    on_block(std::string_view(cut_));
    if (cut_.capacity() > (4u << 20)) std::string().swap(cut_);
  }

  bool MayHaveLongLine(std::string_view block) const {
    const size_t window = std::max<size_t>(max_line_ / 2, 1);
    for (size_t at = 0; at + window <= block.size(); at += window) {
      if (std::memchr(block.data() + at, '\n', window) == nullptr) return true;
    }
    return false;
  }

  void Carry(std::string_view bytes) {
    size_t room = carry_.size() < max_line_ ? max_line_ - carry_.size() : 0;
    carry_.append(bytes.substr(0, room));
    if (bytes.size() > room) dropped_ += bytes.size() - room;
  }

  size_t max_line_;
  Cut cut_mode_;
  uint64_t dropped_ = 0;  // of the line being carried
  std::string carry_;
  std::string cut_;  // a block with its long lines cut (Emit)
};

}  // namespace logbucket::logs
