// Internal: turns chunks of any size into blocks of whole lines, carrying a line that straddles
// chunks. Shared by the analyzer and the searcher, which both scan a block at a time.
#pragma once

#include <string>
#include <string_view>

namespace logbucket::logs {

class WholeLines {
 public:
  // Calls on_block(block) for the whole lines `bytes` completes; every block but the one from
  // Flush ends with '\n'.
  template <typename OnBlock>
  void Feed(std::string_view bytes, OnBlock&& on_block) {
    if (!carry_.empty()) {
      size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos) {
        carry_.append(bytes);
        return;
      }
      carry_.append(bytes.substr(0, nl + 1));
      on_block(std::string_view(carry_));
      carry_.clear();
      bytes.remove_prefix(nl + 1);
    }
    size_t last_nl = bytes.rfind('\n');
    if (last_nl == std::string_view::npos) {
      carry_.assign(bytes);
      return;
    }
    on_block(bytes.substr(0, last_nl + 1));
    carry_.assign(bytes.substr(last_nl + 1));
    // A multi-MB line once must not pin its buffer for the rest of the log.
    if (carry_.capacity() > (1u << 20) && carry_.size() < (1u << 16)) carry_.shrink_to_fit();
  }

  // The final line when the log does not end with '\n'.
  template <typename OnBlock>
  void Flush(OnBlock&& on_block) {
    if (carry_.empty()) return;
    on_block(std::string_view(carry_));
    carry_.clear();
  }

 private:
  std::string carry_;
};

}  // namespace logbucket::logs
