#include "logs/search.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "logs/ansi.h"
#include "logs/line_index.h"
#include "logs/whole_lines.h"

namespace logbucket::logs {

constexpr size_t kMaxPatternBytes = 1000;

namespace {

// How common a byte is in build logs (higher: more common), for choosing the needle byte to
// memchr for: a rare one ('z', 'Q', '~') gives few false starts, ' ' or 'e' one per word.
int Commonness(unsigned char c) {
  static constexpr std::string_view kLowerRarestFirst = "zqjxkvbywgpfmucdlhrsnioate";
  if (c == ' ') return 100;
  if (c >= 'a' && c <= 'z') return 40 + static_cast<int>(kLowerRarestFirst.find(c));
  if (c >= '0' && c <= '9') return 50;
  if (std::string_view("/._-:").find(static_cast<char>(c)) != std::string_view::npos) return 55;
  if (c >= 'A' && c <= 'Z') {
    return 10 + static_cast<int>(kLowerRarestFirst.find(static_cast<char>(c - 'A' + 'a'))) / 2;
  }
  if (std::string_view("()=,[]\"'<>*+;").find(static_cast<char>(c)) != std::string_view::npos) {
    return 30;
  }
  return 5;
}

}  // namespace

struct Searcher::Impl {
  SearchQuery query;
  std::unique_ptr<RE2> re;  // null: case-sensitive literal, found with memchr + memcmp
  size_t rare_at = 0;       // the literal's least common byte
  WholeLines chunker;
  SearchResult result;
  uint64_t lines_done = 0;    // complete lines consumed (when counting)
  uint64_t block_offset = 0;  // absolute offset of the next block
  bool stopped = false;

  // Offset of the next match in block at or after pos, or npos.
  size_t Find(std::string_view block, size_t pos) const {
    // A line never holds a '\n': such a needle matches nothing (as RE2's never_nl makes it).
    if (!re && query.pattern.find('\n') != std::string::npos) return std::string_view::npos;
    if (!re) {
      const std::string& needle = query.pattern;
      const char rare = needle[rare_at];
      const char* data = block.data();
      // Candidates: the rare byte where a whole needle around it still fits in the block.
      size_t scan = pos + rare_at;
      const size_t last = block.size() - std::min(block.size(), needle.size() - rare_at - 1);
      while (scan < last) {
        const void* hit = std::memchr(data + scan, rare, last - scan);
        if (hit == nullptr) break;
        size_t at = static_cast<size_t>(static_cast<const char*>(hit) - data) - rare_at;
        if (std::memcmp(data + at, needle.data(), needle.size()) == 0) return at;
        scan = at + rare_at + 1;
      }
      return std::string_view::npos;
    }
    re2::StringPiece match;
    re2::StringPiece text(block.data(), block.size());
    if (!re->Match(text, pos, block.size(), RE2::UNANCHORED, &match, 1)) {
      return std::string_view::npos;
    }
    return static_cast<size_t>(match.data() - block.data());
  }

  std::string visible;  // a coloured line's visible text (reused)
  // A literal's rarest byte (both cases when ignoring case), when it is ASCII: the visible text
  // only drops bytes (escapes, \r overwrites) or adds U+FFFD, so a line without it cannot match
  // and is not decoded. 0: no such filter (regex).
  char must_hold[2] = {0, 0};

  // A case-sensitive literal's second rarest byte (another one), which the line must hold too.
  char also_hold = 0;

  bool MayMatchVisible(std::string_view line) const {
    if (must_hold[0] == 0) return true;
    if (also_hold != 0 && std::memchr(line.data(), also_hold, line.size()) == nullptr) {
      return false;
    }
    for (char c : must_hold) {
      if (c != 0 && std::memchr(line.data(), c, line.size()) != nullptr) return true;
    }
    return false;
  }

  // Records the line [line_start, line_end) of the block at `base` as a match; false once the
  // cap is reached (then the search stops).
  bool Record(uint64_t base, size_t line_start, size_t line_end) {
    if (query.count_lines) {
      result.lines.push_back(query.first_line + lines_done);
      ++lines_done;
    }
    if (query.last && !query.count_lines) {
      // Keep the newest max_matches: a window over `offsets`, compacted when it doubles.
      result.offsets.push_back(base + line_start);
      if (result.offsets.size() >= 2 * query.max_matches) {
        result.offsets.erase(result.offsets.begin(),
                             result.offsets.end() - static_cast<std::ptrdiff_t>(query.max_matches));
        result.earlier = true;
      }
      return true;
    }
    result.offsets.push_back(base + line_start);
    if (result.offsets.size() < query.max_matches) return true;
    stopped = true;
    result.truncated = true;
    if (query.count_lines) result.next_line = query.first_line + lines_done;
    result.next_offset = base + line_end;
    return false;
  }

  // Searches the raw bytes of whole lines block[pos, block.size()).
  void SearchRaw(std::string_view block, size_t pos, uint64_t base) {
    while (pos < block.size()) {
      size_t at = Find(block, pos);
      if (at == std::string_view::npos) {
        if (query.count_lines) {
          lines_done += CountNewlines(block.data() + pos, block.size() - pos);
          if (block.back() != '\n') ++lines_done;
        }
        return;
      }
      size_t line_start = pos;
      if (at > pos) {
        const void* nl = memrchr(block.data() + pos, '\n', at - pos);
        if (nl != nullptr) {
          line_start = static_cast<size_t>(static_cast<const char*>(nl) - block.data()) + 1;
        }
      }
      if (query.count_lines) lines_done += CountNewlines(block.data() + pos, line_start - pos);
      size_t nl = block.find('\n', at);
      pos = nl == std::string_view::npos ? block.size() : nl + 1;
      if (!Record(base, line_start, pos)) return;
    }
  }

  size_t LineStart(std::string_view block, size_t at) const {
    const void* nl = at == 0 ? nullptr : memrchr(block.data(), '\n', at);
    return nl == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(nl) - block.data()) + 1;
  }
  size_t LineEnd(std::string_view block, size_t at) const {  // past its '\n'
    size_t nl = block.find('\n', at);
    return nl == std::string_view::npos ? block.size() : nl + 1;
  }
  // The line's visible text matches (it holds an escape sequence).
  bool VisibleMatch(std::string_view block, size_t line_start, size_t line_end) {
    std::string_view line = block.substr(line_start, line_end - line_start);
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!MayMatchVisible(line)) return false;
    visible.clear();
    AppendPlainText(line, visible);
    return Find(visible, 0) != std::string_view::npos;
  }
  static bool HasEsc(std::string_view block, size_t from, size_t to) {
    return std::memchr(block.data() + from, '\x1b', to - from) != nullptr;
  }

  // What the reader sees is matched, not the stored bytes: a line with escape sequences matches
  // when its visible text does, so a query pasted from the screen ("error: no matching
  // function", with gcc's colour codes between the words in the bytes) is found. A block
  // without an ESC byte (most of a plain log) is searched as stored, in one pass. Otherwise:
  //   (a) the stored bytes in one pass; a match in a coloured line is checked on its text;
  //   (b) coloured lines that may match only once decoded: each line holding an ESC, decoded
  //       only if it holds a literal's two rarest bytes (decoding removes bytes, never adds
  //       ASCII); for a regex, every coloured line.
  // The matches of (a) and (b) are then recorded in order.
  void ProcessBlock(std::string_view block) {
    if (stopped) return;
    const uint64_t base = block_offset;
    block_offset += block.size();
    if (query.raw_bytes || !HasEsc(block, 0, block.size())) {
      SearchRaw(block, 0, base);
      return;
    }
    std::vector<size_t> starts;  // matching lines' starts
    for (size_t pos = 0; pos < block.size();) {
      size_t at = Find(block, pos);
      if (at == std::string_view::npos) break;
      size_t line_start = std::max(pos, LineStart(block, at));
      size_t line_end = LineEnd(block, at);
      if (!HasEsc(block, line_start, line_end) || VisibleMatch(block, line_start, line_end)) {
        starts.push_back(line_start);
      }
      pos = line_end;
    }
    const size_t raw_matches = starts.size();
    auto matched_raw = [&](size_t line_start) {
      return std::binary_search(starts.begin(), starts.begin() + raw_matches, line_start);
    };
    // Coloured lines are walked (compiler diagnostics: short lines); walking a literal's bytes
    // instead meant re-reading the long compile commands that hold them.
    for (size_t pos = 0; pos < block.size();) {  // pos: a line start
      const void* esc = std::memchr(block.data() + pos, '\x1b', block.size() - pos);
      if (esc == nullptr) break;
      size_t at = static_cast<size_t>(static_cast<const char*>(esc) - block.data());
      size_t line_start = pos;
      if (const void* nl = memrchr(block.data() + pos, '\n', at - pos)) {
        line_start = static_cast<size_t>(static_cast<const char*>(nl) - block.data()) + 1;
      }
      size_t line_end = LineEnd(block, at);
      if (!matched_raw(line_start) && VisibleMatch(block, line_start, line_end)) {
        starts.push_back(line_start);
      }
      pos = line_end;
    }
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    size_t done = 0;  // a line start: where line counting has reached
    for (size_t line_start : starts) {
      if (query.count_lines) lines_done += CountNewlines(block.data() + done, line_start - done);
      done = LineEnd(block, line_start);
      if (!Record(base, line_start, done)) return;
    }
    if (query.count_lines && done < block.size()) {
      lines_done += CountNewlines(block.data() + done, block.size() - done);
      if (block.back() != '\n') ++lines_done;
    }
  }
};

Searcher::Searcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Searcher::~Searcher() = default;

Result<std::unique_ptr<Searcher>> Searcher::Create(const SearchQuery& query) {
  if (query.pattern.empty()) return Error(ErrorCode::kInvalidArgument, "empty search");
  if (query.pattern.size() > kMaxPatternBytes) {
    return Error(ErrorCode::kInvalidArgument, "search longer than 1000 bytes");
  }
  auto impl = std::make_unique<Impl>();
  impl->query = query;
  impl->query.max_matches = std::max<size_t>(1, query.max_matches);
  impl->block_offset = query.first_offset;
  for (size_t i = 1; i < query.pattern.size(); ++i) {
    if (Commonness(static_cast<unsigned char>(query.pattern[i])) <
        Commonness(static_cast<unsigned char>(query.pattern[impl->rare_at]))) {
      impl->rare_at = i;
    }
  }
  // (Ignoring case, RE2 also folds 'k' to U+212A KELVIN SIGN and 's' to U+017F LONG S: no filter.)
  const char rare = query.pattern[impl->rare_at];
  const bool folds_beyond_ascii =
      query.case_insensitive && std::string_view("kKsS").find(rare) != std::string_view::npos;
  if (!query.regex && static_cast<unsigned char>(rare) < 0x80 && !folds_beyond_ascii) {
    char c = rare;
    impl->must_hold[0] = c;
    if (!query.case_insensitive) {
      for (size_t i = 0; i < query.pattern.size(); ++i) {
        char b = query.pattern[i];
        if (b == rare || static_cast<unsigned char>(b) >= 0x80) continue;
        if (impl->also_hold == 0 || Commonness(static_cast<unsigned char>(b)) <
                                        Commonness(static_cast<unsigned char>(impl->also_hold))) {
          impl->also_hold = b;
        }
      }
    }
    if (query.case_insensitive && std::isalpha(static_cast<unsigned char>(c))) {
      impl->must_hold[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      impl->must_hold[1] = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  if (query.regex || query.case_insensitive) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_literal(!query.regex);
    options.set_case_sensitive(!query.case_insensitive);
    options.set_never_nl(true);  // a match never spans lines
    options.set_posix_syntax(false);
    options.set_max_mem(64 << 20);
    std::string pattern = query.regex ? "(?m)" + query.pattern : query.pattern;
    impl->re = std::make_unique<RE2>(pattern, options);
    if (!impl->re->ok()) {
      return Error(ErrorCode::kInvalidArgument, "bad regular expression: " + impl->re->error());
    }
  }
  return std::unique_ptr<Searcher>(new Searcher(std::move(impl)));
}

bool Searcher::Feed(std::string_view bytes) {
  if (impl_->stopped) return false;
  impl_->result.scanned_bytes += bytes.size();
  impl_->chunker.Feed(bytes, [&](std::string_view block) { impl_->ProcessBlock(block); });
  return !impl_->stopped;
}

SearchResult Searcher::Finish() {
  impl_->chunker.Flush([&](std::string_view block) { impl_->ProcessBlock(block); });
  SearchResult& r = impl_->result;
  if (impl_->query.last && r.offsets.size() > impl_->query.max_matches) {
    r.offsets.erase(r.offsets.begin(),
                    r.offsets.end() - static_cast<std::ptrdiff_t>(impl_->query.max_matches));
    r.earlier = true;
  }
  return std::move(r);
}

}  // namespace logbucket::logs
