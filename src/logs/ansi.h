// Terminal output → safe HTML: ANSI SGR colours and attributes become <span>s, every other
// escape sequence is dropped, `\r` progress overwrites collapse to what a terminal would show
// last, invalid UTF-8 becomes U+FFFD (shown, never dropped), and everything is HTML-escaped.
// Pure and incremental: the SGR state carries from one line to the next, as on a terminal.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logbucket::logs {

// A colour: none, one of the 16 palette entries (CSS classes, so themes can restyle them), a
// 256-colour index, or 24-bit RGB.
struct Colour {
  enum class Kind : uint8_t { kDefault, kPalette16, kIndexed256, kRgb } kind = Kind::kDefault;
  uint32_t value = 0;  // palette 0-15, index 0-255, or 0xRRGGBB
  bool operator==(const Colour&) const = default;
};

struct SgrState {
  Colour fg;
  Colour bg;
  bool bold = false;
  bool dim = false;
  bool italic = false;
  bool underline = false;
  bool inverse = false;
  bool operator==(const SgrState&) const = default;
  bool IsDefault() const { return *this == SgrState{}; }
};

// Renders one line (without its '\n'; a trailing '\r' is ignored) to HTML. `state` is the SGR
// state at the start of the line and is updated to the state at its end.
std::string RenderLineHtml(std::string_view line, SgrState& state);

// What rendering the line does to `state`, without rendering it (cheaper, same result): the
// line index keeps the state at its checkpoints, so a page deep in a log starts in the colours a
// reader from the top would see.
void AdvanceSgrState(std::string_view line, SgrState& state);

// The line's visible text: escapes removed, `\r` overwrites applied, invalid UTF-8 as U+FFFD.
// What search and error extraction look at.
std::string PlainText(std::string_view line);
// The same text appended to `out`, faster for lines without '\r' (no pieces are built): what
// search decodes coloured lines with.
void AppendPlainText(std::string_view line, std::string& out);

}  // namespace logbucket::logs
