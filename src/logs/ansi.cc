#include "logs/ansi.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/encoding.h"

namespace logbucket::logs {
namespace {

// Length of a valid UTF-8 sequence starting at s[i], or 0 if invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t Utf8Length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
  }
  if (n == 3 && c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
  if (n == 3 && c == 0xED && b(1) >= 0xA0) return 0;  // surrogates
  if (n == 4 && c == 0xF0 && b(1) < 0x90) return 0;   // overlong
  if (n == 4 && c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
  return n;
}

// Skips an escape sequence starting at s[i] == ESC; returns its length. CSI (ESC [ ... final),
// OSC (ESC ] ... BEL or ESC \), and two-byte escapes.
size_t EscapeLength(std::string_view s, size_t i) {
  if (i + 1 >= s.size()) return 1;
  char kind = s[i + 1];
  if (kind == '[') {
    size_t j = i + 2;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) < 0x40 || s[j] > 0x7E)) {
      if (static_cast<unsigned char>(s[j]) < 0x20) return j - i;  // broken: stop before it
      ++j;
    }
    return j < s.size() ? j - i + 1 : s.size() - i;
  }
  if (kind == ']') {
    size_t j = i + 2;
    while (j < s.size()) {
      if (s[j] == '\a') return j - i + 1;
      if (s[j] == '\x1b' && j + 1 < s.size() && s[j + 1] == '\\') return j - i + 2;
      ++j;
    }
    return s.size() - i;
  }
  // ESC, intermediate bytes (0x20-0x2F), a final byte: e.g. ESC ( B selects a character set.
  size_t j = i + 1;
  while (j < s.size() && s[j] >= 0x20 && s[j] <= 0x2F) ++j;
  return j < s.size() ? j - i + 1 : s.size() - i;
}

// SGR parameters: a few inline (every real sequence), more on the heap. The line index applies
// the SGR of every coloured line of a log, so this runs millions of times.
class SgrParams {
 public:
  void Add(int value) {
    if (count_ < kInline) {
      inline_[count_] = value;
    } else {
      if (heap_.empty()) heap_.assign(inline_, inline_ + kInline);
      heap_.push_back(value);
    }
    ++count_;
  }
  size_t size() const { return count_; }
  int operator[](size_t i) const { return count_ <= kInline ? inline_[i] : heap_[i]; }

 private:
  static constexpr size_t kInline = 16;
  int inline_[kInline];
  std::vector<int> heap_;
  size_t count_ = 0;
};

void ApplySgr(std::string_view params, SgrState& st) {
  SgrParams p;
  int value = -1;
  for (char c : params) {
    if (c >= '0' && c <= '9') {
      value = (value < 0 ? 0 : value) * 10 + (c - '0');
      if (value > 100000) value = 100000;
    } else if (c == ';' || c == ':') {
      p.Add(value < 0 ? 0 : value);
      value = -1;
    } else {
      return;  // private or malformed parameters: not SGR we understand
    }
  }
  p.Add(value < 0 ? 0 : value);
  for (size_t i = 0; i < p.size(); ++i) {
    int n = p[i];
    if (n == 0) {
      st = SgrState{};
    } else if (n == 1) {
      st.bold = true;
    } else if (n == 2) {
      st.dim = true;
    } else if (n == 3) {
      st.italic = true;
    } else if (n == 4) {
      st.underline = true;
    } else if (n == 7) {
      st.inverse = true;
    } else if (n == 22) {
      st.bold = st.dim = false;
    } else if (n == 23) {
      st.italic = false;
    } else if (n == 24) {
      st.underline = false;
    } else if (n == 27) {
      st.inverse = false;
    } else if ((n >= 30 && n <= 37) || (n >= 90 && n <= 97)) {
      st.fg = {Colour::Kind::kPalette16, static_cast<uint32_t>(n >= 90 ? n - 90 + 8 : n - 30)};
    } else if ((n >= 40 && n <= 47) || (n >= 100 && n <= 107)) {
      st.bg = {Colour::Kind::kPalette16, static_cast<uint32_t>(n >= 100 ? n - 100 + 8 : n - 40)};
    } else if (n == 39) {
      st.fg = {};
    } else if (n == 49) {
      st.bg = {};
    } else if (n == 38 || n == 48) {
      Colour c;
      if (i + 2 < p.size() && p[i + 1] == 5) {
        c = {Colour::Kind::kIndexed256, static_cast<uint32_t>(p[i + 2] & 0xFF)};
        i += 2;
      } else if (i + 4 < p.size() && p[i + 1] == 2) {
        c = {Colour::Kind::kRgb,
             static_cast<uint32_t>(((p[i + 2] & 0xFF) << 16) | ((p[i + 3] & 0xFF) << 8) |
                                   (p[i + 4] & 0xFF))};
        i += 4;
      } else {
        return;
      }
      (n == 38 ? st.fg : st.bg) = c;
    }
  }
}

// What one '\r'-free stretch of a line shows: its width in code points, and whether it erases
// the rest of the line (ESC[K / ESC[0K / ESC[2K: the old text past the cursor goes).
struct SegmentScan {
  size_t width = 0;
  bool erases_tail = false;
};

// Walks one '\r'-free segment in order: each visible code point (invalid UTF-8 as U+FFFD) to
// on_text, each SGR sequence's parameters to on_sgr; other escapes and control characters are
// dropped. The one reading of terminal bytes that rendering and AdvanceSgrState share.
template <typename OnText, typename OnSgr>
SegmentScan ScanSegment(std::string_view seg, OnText&& on_text, OnSgr&& on_sgr) {
  SegmentScan scan;
  size_t i = 0;
  while (i < seg.size()) {
    unsigned char c = static_cast<unsigned char>(seg[i]);
    if (c == 0x1b) {
      size_t n = EscapeLength(seg, i);
      if (n >= 3 && seg[i + 1] == '[' && seg[i + n - 1] == 'm') {
        on_sgr(seg.substr(i + 2, n - 3));
      } else if (n >= 3 && seg[i + 1] == '[' && seg[i + n - 1] == 'K') {
        std::string_view mode = seg.substr(i + 2, n - 3);
        if (mode.empty() || mode == "0" || mode == "2") scan.erases_tail = true;
      }
      i += n;
      continue;
    }
    if (c < 0x20 && c != '\t') {  // other control characters are not shown
      ++i;
      continue;
    }
    size_t n = Utf8Length(seg, i);
    if (n == 0) {
      on_text(std::string_view("\xEF\xBF\xBD"));  // U+FFFD
      ++i;
    } else {
      on_text(seg.substr(i, n));
      i += n;
    }
    ++scan.width;
  }
  return scan;
}

// One step of the line: either visible text or an SGR change.
struct Piece {
  bool sgr = false;
  std::string text;  // visible UTF-8 (already with U+FFFD) or SGR parameters
};

// Splits a line into pieces, applying `\r` overwrites as a terminal does: each segment writes
// from the first column; a shorter one leaves the end of what was there. So column c shows the
// latest segment reaching past c, back to the last segment that redrew the whole line (as wide
// or wider, or erasing the rest with ESC[K), and nothing before it. Every SGR code of those
// segments stays: the latest segment's first, then each earlier one's, then the codes of empty
// redraws (a "\r" followed only by codes), in their order. Linear in the line: an attacker's
// line of thousands of '\r's costs no more than its length (copying what remained at each
// overwrite did).
std::vector<Piece> Pieces(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  enum class Kind : uint8_t { kRedraw, kShorter, kEmpty };
  struct Segment {
    std::string_view bytes;
    size_t width;
    Kind kind;
  };
  std::vector<Segment> segments;
  size_t last_redraw = 0;
  size_t current_width = 0;
  bool current_empty = true;  // nothing shown and no codes yet
  for (size_t start = 0, i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] != '\r') continue;
    std::string_view bytes = line.substr(start, i - start);
    start = i + 1;
    bool codes = false;
    auto [width, erases_tail] = ScanSegment(
        bytes, [](std::string_view) {}, [&](std::string_view) { codes = true; });
    Kind kind = Kind::kShorter;
    if (width == 0 && !current_empty) {
      kind = Kind::kEmpty;
    } else if (width >= current_width || current_empty || erases_tail) {
      kind = Kind::kRedraw;
      last_redraw = segments.size();
      current_width = width;
      current_empty = width == 0 && !codes;
    }
    segments.push_back({bytes, width, kind});
  }
  std::vector<Piece> out;
  std::string text;
  auto flush = [&] {
    if (!text.empty()) out.push_back({false, std::move(text)});
    text.clear();
  };
  auto code = [&](std::string_view params) {
    flush();
    out.push_back({true, std::string(params)});
  };
  // Latest first; each segment shows its columns past the widest later one.
  size_t covered = 0;
  for (size_t k = segments.size(); k-- > last_redraw;) {
    const Segment& seg = segments[k];
    if (seg.kind == Kind::kEmpty) continue;
    size_t skip = covered;
    ScanSegment(
        seg.bytes,
        [&](std::string_view code_point) {
          if (skip > 0) {
            --skip;
          } else {
            text.append(code_point);
          }
        },
        code);
    flush();
    covered = std::max(covered, seg.width);
  }
  for (size_t k = last_redraw + 1; k < segments.size(); ++k) {
    if (segments[k].kind == Kind::kEmpty)
      ScanSegment(
          segments[k].bytes, [](std::string_view) {}, code);
  }
  return out;
}

// Splits a line into pieces, applying `\r` overwrites: a carriage return starts the line over,
// and what follows overwrites from the first column, as a terminal does.
void AppendColour(std::string& classes, std::string& style, const Colour& c, const char* prefix,
                  const char* property) {
  char buf[32];
  switch (c.kind) {
    case Colour::Kind::kDefault:
      return;
    case Colour::Kind::kPalette16:
      std::snprintf(buf, sizeof buf, "%s%u", prefix, c.value);
      if (!classes.empty()) classes += ' ';
      classes += buf;
      return;
    case Colour::Kind::kIndexed256:
      std::snprintf(buf, sizeof buf, "%s%u", prefix, c.value);
      if (c.value < 16) {
        if (!classes.empty()) classes += ' ';
        classes += buf;
        return;
      }
      [[fallthrough]];
    case Colour::Kind::kRgb: {
      uint32_t rgb = c.value;
      if (c.kind == Colour::Kind::kIndexed256) {
        // xterm's 256-colour cube and grey ramp.
        uint32_t i = c.value;
        if (i >= 232) {
          uint32_t v = 8 + (i - 232) * 10;
          rgb = (v << 16) | (v << 8) | v;
        } else {
          i -= 16;
          auto level = [](uint32_t x) { return x == 0 ? 0u : 55 + x * 40; };
          rgb = (level(i / 36) << 16) | (level((i / 6) % 6) << 8) | level(i % 6);
        }
      }
      std::snprintf(buf, sizeof buf, "%s:#%06x;", property, rgb & 0xFFFFFF);
      style += buf;
      return;
    }
  }
}

std::string OpenSpan(const SgrState& st) {
  SgrState s = st;
  if (s.inverse) {
    std::swap(s.fg, s.bg);
    // Inverse of the defaults: the theme's background on its foreground.
    if (s.fg.kind == Colour::Kind::kDefault && s.bg.kind == Colour::Kind::kDefault) {
      std::string out = "<span class=\"inv";
      if (st.bold) out += " b";
      if (st.dim) out += " d";
      if (st.italic) out += " i";
      if (st.underline) out += " u";
      return out + "\">";
    }
  }
  std::string classes, style;
  AppendColour(classes, style, s.fg, "f", "color");
  AppendColour(classes, style, s.bg, "g", "background-color");
  for (auto [on, name] :
       {std::pair{s.bold, "b"}, {s.dim, "d"}, {s.italic, "i"}, {s.underline, "u"}}) {
    if (!on) continue;
    if (!classes.empty()) classes += ' ';
    classes += name;
  }
  std::string out = "<span";
  if (!classes.empty()) out += " class=\"" + classes + "\"";
  if (!style.empty()) out += " style=\"" + style + "\"";
  return out + ">";
}

}  // namespace

std::string RenderLineHtml(std::string_view line, SgrState& state) {
  std::string out;
  out.reserve(line.size() + 16);
  bool open = false;
  for (const Piece& p : Pieces(line)) {
    if (p.sgr) {
      ApplySgr(p.text, state);
      continue;
    }
    if (open) out += "</span>";
    open = !state.IsDefault();
    if (open) out += OpenSpan(state);
    out += XmlEscape(p.text);  // the shared escaper: & < > " ' (valid HTML5 too)
  }
  if (open) out += "</span>";
  return out;
}

void AdvanceSgrState(std::string_view line, SgrState& state) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find('\r') == std::string_view::npos) {
    // One segment: every SGR sequence applies, in order. Jumping from ESC to ESC finds the
    // same sequences ScanSegment would (no code point contains an ESC byte), faster.
    for (size_t i = line.find('\x1b'); i != std::string_view::npos; i = line.find('\x1b', i)) {
      size_t n = EscapeLength(line, i);
      if (n >= 3 && line[i + 1] == '[' && line[i + n - 1] == 'm') {
        ApplySgr(line.substr(i + 2, n - 3), state);
      }
      i += n;
    }
    return;
  }
  for (const Piece& p : Pieces(line)) {  // overwrites decide which codes remain
    if (p.sgr) ApplySgr(p.text, state);
  }
}

std::string PlainText(std::string_view line) {
  std::string out;
  for (const Piece& p : Pieces(line)) {
    if (!p.sgr) out += p.text;
  }
  return out;
}

void AppendPlainText(std::string_view line, std::string& out) {
  if (line.find('\r') != std::string_view::npos) {  // overwrites: the general path
    out += PlainText(line);
    return;
  }
  size_t i = 0;
  while (i < line.size()) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c == 0x1b) {
      i += EscapeLength(line, i);
      continue;
    }
    if (c < 0x80 && (c >= 0x20 || c == '\t')) {  // a run of printable ASCII, copied at once
      size_t j = i + 1;
      while (j < line.size()) {
        auto d = static_cast<unsigned char>(line[j]);
        if (d >= 0x80 || (d < 0x20 && d != '\t')) break;
        ++j;
      }
      out.append(line.data() + i, j - i);
      i = j;
      continue;
    }
    if (c < 0x20) {  // other control characters are not shown
      ++i;
      continue;
    }
    size_t n = Utf8Length(line, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(line.data() + i, n);
      i += n;
    }
  }
}

}  // namespace logbucket::logs
