// Log bytes are attacker-controlled and end up in HTML, through the viewer's own index
// (logs/log_index.h): whatever comes in, the index accounts for every line, the only markup that
// comes out is our own <span>s, and a line reads the same from any checkpoint as from line 1
// (the colours the index carries there are those rendering leaves open). The diff against a
// green build (logs/diff.h) sees the same lines.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "logs/ansi.h"
#include "logs/diff.h"
#include "logs/log_index.h"

namespace {

void CheckMarkup(const std::string& html) {
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    std::string_view rest = std::string_view(html).substr(at);
    if (!rest.starts_with("<span") && !rest.starts_with("</span>")) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace logbucket::logs;
  std::string text(reinterpret_cast<const char*>(data), size);
  logbucket::platform::MemoryBytes bytes(std::make_shared<const std::string>(text));
  // Small line caps so that cut lines (and the colours they leave open) are exercised.
  const size_t max_line_bytes = 1 + (size % 97);
  auto index = BuildLogIndex(bytes, max_line_bytes);
  if (!index) __builtin_trap();
  uint64_t newlines = CountNewlines(text.data(), text.size());
  uint64_t expected_lines = newlines + (!text.empty() && text.back() != '\n' ? 1 : 0);
  if (index->lines != expected_lines || index->bytes != size) __builtin_trap();
  auto all = ReadLines(*index, bytes, 1, index->lines, max_line_bytes);
  if (!all || all->size() != index->lines) __builtin_trap();
  uint64_t covered = 0;
  for (const RenderedLine& line : *all) {
    CheckMarkup(line.html);
    covered += line.bytes;
  }
  if (covered + newlines != size) __builtin_trap();
  // From every checkpoint, and from lines between them, the same HTML as from line 1.
  for (uint64_t from = 2; from <= index->lines; from += LogIndex::kStride / 2) {
    auto some = ReadLines(*index, bytes, from, from + 3, max_line_bytes);
    if (!some) __builtin_trap();
    for (size_t k = 0; k < some->size(); ++k) {
      if ((*some)[k].html != (*all)[from - 1 + k].html) __builtin_trap();
    }
  }
  // The diff against a green build counts the same lines: against itself nothing is new,
  // against an empty log everything is, shown as one range.
  auto self = DiffAgainst(bytes, bytes);
  if (!self || self->lines != index->lines || self->new_lines != 0 || !self->shown.empty()) {
    __builtin_trap();
  }
  logbucket::platform::MemoryBytes none(std::make_shared<const std::string>());
  auto fresh = DiffAgainst(bytes, none);
  if (!fresh || fresh->new_lines != index->lines) __builtin_trap();
  if (index->lines > 0 && (fresh->shown.size() != 1 || fresh->shown[0].first != 1 ||
                           fresh->shown[0].second != index->lines)) {
    __builtin_trap();
  }
  // Rendering leaves open exactly the colours AdvanceSgrState computes.
  SgrState state;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line = std::string_view(text).substr(start, nl - start);
    SgrState advanced = state;
    AdvanceSgrState(line, advanced);
    std::string html = RenderLineHtml(line, state);
    if (!(advanced == state)) __builtin_trap();
    (void)PlainText(line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return 0;
}
