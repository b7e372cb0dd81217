#include "logs/diff.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "logs/ansi.h"
#include "logs/log_index.h"
#include "logs/rules.h"
#include "logs/summary.h"
#include "logs/whole_lines.h"

namespace logbucket::logs {
namespace {

// The line as compared: visible text, without the CI's prefix, capped.
uint64_t LineKey(std::string_view raw, size_t max_bytes, std::string& holder) {
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  raw = raw.substr(0, max_bytes);
  bool plain = true;
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      plain = false;
      break;
    }
  }
  std::string_view text = raw;
  if (!plain) {
    holder = PlainText(raw);
    text = holder;
  }
  text.remove_prefix(CiPrefixLength(text));
  return MaskedHash(text);
}

// Calls fn(line) for each line of the bytes (without its '\n'), cut to `max_line_bytes` (a
// line straddling reads is never held whole); stops when fn returns false.
template <typename Fn>
Status ForEachLine(platform::RandomAccessBytes& bytes, size_t max_line_bytes, Fn&& fn) {
  WholeLines chunker(max_line_bytes);
  bool more = true;
  auto block = [&](std::string_view b) {
    size_t pos = 0;
    while (more && pos < b.size()) {
      const void* nl = std::memchr(b.data() + pos, '\n', b.size() - pos);
      size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - b.data()) : b.size();
      more = fn(b.substr(pos, end - pos));
      pos = end + 1;
    }
  };
  LB_RETURN_IF_ERROR(ForEachChunk(bytes, 0, [&](std::string_view chunk) {
    chunker.Feed(chunk, block);
    return more;
  }));
  if (more) chunker.Flush(block);
  return Status::Ok();
}

}  // namespace

Result<LineDiff> DiffAgainst(platform::RandomAccessBytes& log, platform::RandomAccessBytes& base,
                             const DiffOptions& options) {
  LineDiff diff;
  std::vector<uint64_t> known;
  std::string holder;
  // One byte past what LineKey compares: a '\r' there is dropped as a line's last byte is.
  const size_t cut = options.max_line_bytes + 1;
  LB_RETURN_IF_ERROR(ForEachLine(base, cut, [&](std::string_view line) {
    if (diff.base_lines >= options.max_base_lines) {
      diff.base_truncated = true;
      return false;
    }
    ++diff.base_lines;
    known.push_back(LineKey(line, options.max_line_bytes, holder));
    // Keep the memory to the distinct lines as it grows (build logs repeat a lot).
    if (known.size() >= (1u << 22) && known.size() == known.capacity()) {
      std::sort(known.begin(), known.end());
      known.erase(std::unique(known.begin(), known.end()), known.end());
    }
    return true;
  }));
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  known.shrink_to_fit();

  LB_RETURN_IF_ERROR(ForEachLine(log, cut, [&](std::string_view line) {
    uint64_t n = ++diff.lines;
    if (std::binary_search(known.begin(), known.end(),
                           LineKey(line, options.max_line_bytes, holder))) {
      return true;
    }
    ++diff.new_lines;
    uint64_t from = n > options.context ? n - options.context : 1;
    uint64_t to = n + options.context;
    if (!diff.shown.empty() && diff.shown.back().second + 1 >= from) {
      diff.shown.back().second = std::max(diff.shown.back().second, to);
    } else {
      diff.shown.emplace_back(from, to);
    }
    return true;
  }));
  if (!diff.shown.empty())
    diff.shown.back().second = std::min(diff.shown.back().second, diff.lines);
  return diff;
}

}  // namespace logbucket::logs
