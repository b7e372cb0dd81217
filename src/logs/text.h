// Small text helpers the summary's parts share (private to logs/).
#pragma once

#include <string>
#include <string_view>

namespace logbucket::logs {

// Without surrounding blanks and a trailing '\r'.
inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

inline bool StartsWithSpace(std::string_view s) {
  return !s.empty() && (s[0] == ' ' || s[0] == '\t');
}

// "## Begin sw/BUILD/O2-latest/log Wed Nov 18 …" → "sw/BUILD/O2-latest/log"
inline std::string_view FirstToken(std::string_view s) {
  size_t end = s.find(' ');
  return end == std::string_view::npos ? s : s.substr(0, end);
}

// At most `max` bytes, cut at a UTF-8 boundary (so the JSON stays valid) and marked with "…".
inline std::string Cap(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "…";
}

}  // namespace logbucket::logs
