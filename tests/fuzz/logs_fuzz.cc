// Log bytes are attacker-controlled and end up in HTML: whatever comes in, the only markup that
// comes out is our own <span>s, the line index accounts for every byte, and the colours the
// viewer's index carries to a checkpoint (AdvanceSgrState) are those rendering leaves open.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "logs/ansi.h"
#include "logs/line_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  logbucket::logs::LineIndex index;
  index.Append(text.substr(0, size / 2));
  index.Append(text.substr(size / 2));
  logbucket::logs::SgrState state;
  uint64_t covered = 0;
  for (uint64_t n = 0; n < index.line_count(); ++n) {
    auto r = index.Line(n);
    if (r.begin != covered || r.end < r.begin || r.end > size) __builtin_trap();
    covered = r.end + 1;
    std::string line(text.substr(r.begin, r.end - r.begin));
    if (line.find('\n') != std::string::npos) __builtin_trap();
    logbucket::logs::SgrState advanced = state;
    logbucket::logs::AdvanceSgrState(line, advanced);
    std::string html = logbucket::logs::RenderLineHtml(line, state);
    if (!(advanced == state)) __builtin_trap();
    for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
      std::string_view rest = std::string_view(html).substr(at);
      if (!rest.starts_with("<span") && !rest.starts_with("</span>")) __builtin_trap();
    }
    (void)logbucket::logs::PlainText(line);
  }
  if (size > 0 && covered < size) __builtin_trap();
  return 0;
}
