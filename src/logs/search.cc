#include "logs/search.h"

#include <re2/re2.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "logs/ansi.h"
#include "logs/newlines.h"
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

bool IsNewlineOrEsc(char c) { return c == '\n' || c == '\x1b'; }

#if defined(__x86_64__)
const bool kHasAvx2 = __builtin_cpu_supports("avx2");

// 32 bits: which of data[at, at + 32) are '\n' or ESC.
__attribute__((target("avx2"), always_inline)) inline uint32_t NewlineOrEscMask(const char* data,
                                                                                size_t at) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + at));
  __m256i hits = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')),
                                 _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\x1b')));
  return static_cast<uint32_t>(_mm256_movemask_epi8(hits));
}

__attribute__((target("avx2"))) size_t NextNewlineOrEscAvx2(const char* data, size_t from,
                                                            size_t to) {
  for (; from + 32 <= to; from += 32) {
    if (uint32_t m = NewlineOrEscMask(data, from))
      return from + static_cast<size_t>(__builtin_ctz(m));
  }
  while (from < to && !IsNewlineOrEsc(data[from])) ++from;
  return from;
}

__attribute__((target("avx2"))) size_t PreviousNewlineOrEscAvx2(const char* data, size_t from,
                                                                size_t to) {
  for (; to >= from + 32; to -= 32) {
    if (uint32_t m = NewlineOrEscMask(data, to - 32)) {
      return to - 32 + 31 - static_cast<size_t>(__builtin_clz(m));
    }
  }
  while (to > from) {
    if (IsNewlineOrEsc(data[--to])) return to;
  }
  return std::string_view::npos;
}
#else
constexpr bool kHasAvx2 = false;
#endif

// The first '\n' or ESC in data[from, to), or `to`: one pass where memchr would need two.
size_t NextNewlineOrEsc(const char* data, size_t from, size_t to) {
#if defined(__x86_64__)
  if (kHasAvx2) return NextNewlineOrEscAvx2(data, from, to);
#endif
  while (from < to && !IsNewlineOrEsc(data[from])) ++from;
  return from;
}

// The last '\n' or ESC in data[from, to), or npos.
size_t PreviousNewlineOrEsc(const char* data, size_t from, size_t to) {
#if defined(__x86_64__)
  if (kHasAvx2) return PreviousNewlineOrEscAvx2(data, from, to);
#endif
  while (to > from) {
    if (IsNewlineOrEsc(data[--to])) return to;
  }
  return std::string_view::npos;
}

}  // namespace

struct Searcher::Impl {
  SearchQuery query;
  std::unique_ptr<RE2> re;  // null: case-sensitive literal, found with memchr + memcmp
  size_t rare_at = 0;       // the literal's least common byte
  size_t pair_at = 0;       // its second least common one (another position, if any)
  // A line longer than a read (4 MB in the viewer) is searched in its first 8 MB: a search
  // holds no more of a line than that, however long the line (the viewer shows 256 KB of it).
  WholeLines chunker{kMaxSearchedLineBytes, WholeLines::Cut::kCarriedLines};
  uint64_t block_dropped = 0;  // what the block being searched lost to the cut (its last line)
  size_t block_size = 0;
  SearchResult result;
  uint64_t lines_done = 0;    // complete lines consumed (when counting)
  uint64_t block_offset = 0;  // absolute offset of the next block
  bool stopped = false;

  // Offset of the next match in block at or after pos, or npos.
  size_t Find(std::string_view block, size_t pos) const {
    // A line never holds a '\n': such a needle matches nothing (as RE2's never_nl makes it).
    if (!re && query.pattern.find('\n') != std::string::npos) return std::string_view::npos;
    if (!re) return FindLiteral(block, pos);
    re2::StringPiece match;
    re2::StringPiece text(block.data(), block.size());
    if (!re->Match(text, pos, block.size(), RE2::UNANCHORED, &match, 1)) {
      return std::string_view::npos;
    }
    return static_cast<size_t>(match.data() - block.data());
  }

  // The literal's first match starting in block[pos, ...), or npos. Candidates are the starts
  // where its two rarest bytes (rare_at, pair_at) both stand, 32 starts at a time: with one
  // byte, a common one ('g' in a pasted "error: no matching function") stopped the scan every
  // few dozen bytes; with two, false starts are rare (ripgrep's memchr crate does the same).
  // While misses are noted, every start holding the rarest byte is looked at. While that byte
  // is rare (false starts further apart than 256 bytes on average) glibc's memchr for it is
  // faster, and used; without AVX2, always.
  size_t FindLiteral(std::string_view block, size_t pos) const {
    size_t at = FindStoredLiteral(block, pos);
    if (at == std::string_view::npos && misses != nullptr && !misses_overflowed) {
      // The visible text can be longer than the stored line (U+FFFD's three bytes for one
      // invalid byte), so a match whose rarest byte sits where the needle no longer fits in
      // the stored bytes may still be there once decoded: note those bytes too.
      const std::string& needle = query.pattern;
      size_t from = pos + rare_at;
      if (block.size() >= needle.size())
        from = std::max(from, block.size() - needle.size() + 1 + rare_at);
      while (from < block.size()) {
        const void* hit = std::memchr(block.data() + from, needle[rare_at], block.size() - from);
        if (hit == nullptr) break;
        from = static_cast<size_t>(static_cast<const char*>(hit) - block.data());
        NoteMiss(from++);
      }
    }
    return at;
  }

  size_t FindStoredLiteral(std::string_view block, size_t pos) const {
    const std::string& needle = query.pattern;
    if (block.size() < needle.size()) return std::string_view::npos;
    const size_t last_start = block.size() - needle.size();
    const char* data = block.data();
    while (pos <= last_start) {
      size_t false_starts = 0;
      const size_t began = pos;
      for (; pos <= last_start; ++pos) {
        const void* hit = std::memchr(data + pos + rare_at, needle[rare_at], last_start - pos + 1);
        if (hit == nullptr) return std::string_view::npos;
        pos = static_cast<size_t>(static_cast<const char*>(hit) - data) - rare_at;
        if (CheckStart(data, pos, data[pos + pair_at] == needle[pair_at])) return pos;
        if (kHasAvx2 && ++false_starts >= 32 && pos - began < 256 * false_starts) {
          ++pos;
          break;
        }
      }
#if defined(__x86_64__)
      if (pos <= last_start) {
        bool found = false;
        pos = FindPairAvx2(block, pos, last_start, found);
        if (found) return pos;
      }
#endif
    }
    return std::string_view::npos;
  }

  // The needle starts at `at` (which holds its rarest byte; `pair`: its second one too).
  bool CheckStart(const char* data, size_t at, bool pair) const {
    const std::string& needle = query.pattern;
    if (pair && std::memcmp(data + at, needle.data(), needle.size()) == 0) return true;
    if (misses != nullptr) NoteMiss(at + rare_at);
    return false;
  }

#if defined(__x86_64__)
  // FindLiteral's 32-starts-at-a-time loop, in 8 KiB windows for as long as at least 16 of a
  // window's 256 steps meet the rarest byte. Returns the match (`found`), else where to go on.
  __attribute__((target("avx2"))) size_t FindPairAvx2(std::string_view block, size_t pos,
                                                      size_t last_start, bool& found) const {
    const char* data = block.data();
    const __m256i rare = _mm256_set1_epi8(query.pattern[rare_at]);
    const __m256i pair = _mm256_set1_epi8(query.pattern[pair_at]);
    for (unsigned dense = 16; dense >= 16 && pos + 31 <= last_start;) {
      dense = 0;
      for (const size_t window_end = pos + 8192; pos < window_end && pos + 31 <= last_start;
           pos += 32) {  // starts pos..pos+31 all fit
        __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + pos + rare_at));
        __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + pos + pair_at));
        __m256i eq_rare = _mm256_cmpeq_epi8(a, rare);
        __m256i eq_both = _mm256_and_si256(eq_rare, _mm256_cmpeq_epi8(b, pair));
        const auto rare_lanes = static_cast<uint32_t>(_mm256_movemask_epi8(eq_rare));
        dense += rare_lanes != 0;  // (no branch: a common byte makes it unpredictable)
        const bool noting = misses != nullptr && !misses_overflowed;
        const auto both = static_cast<uint32_t>(_mm256_movemask_epi8(eq_both));
        for (uint32_t lanes = noting ? rare_lanes : both; lanes != 0; lanes &= lanes - 1) {
          const auto lane = static_cast<unsigned>(__builtin_ctz(lanes));
          if (CheckStart(data, pos + lane, (both >> lane) & 1u)) {
            found = true;
            return pos + lane;
          }
        }
      }
    }
    return pos;
  }
#endif

  // Where the literal's rarest byte stood without a stored-bytes match, while `misses` is set:
  // a coloured line can match only once decoded only if it holds that byte, so when the byte is
  // rare these lines are fewer than the coloured ones. Past `miss_cap` the list is abandoned
  // (`misses_overflowed`) and every coloured line is walked instead.
  std::vector<size_t>* misses = nullptr;
  size_t miss_cap = 0;
  mutable bool misses_overflowed = false;
  void NoteMiss(size_t at) const {
    if (misses_overflowed) return;
    if (misses->size() >= miss_cap) {
      misses_overflowed = true;
      return;
    }
    misses->push_back(at);
  }
  std::vector<size_t> miss_buffer;  // (reused across blocks)

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
    result.next_offset = base + line_end + (line_end >= block_size ? block_dropped : 0);
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
    auto* noting = std::exchange(misses, nullptr);  // (positions in `visible` are not the block's)
    bool found = Find(visible, 0) != std::string_view::npos;
    misses = noting;
    return found;
  }
  static bool HasEsc(std::string_view block, size_t from, size_t to) {
    return std::memchr(block.data() + from, '\x1b', to - from) != nullptr;
  }

  // What the reader sees is matched, not the stored bytes: a line with escape sequences matches
  // when its visible text does, so a query pasted from the screen ("error: no matching
  // function", with gcc's colour codes between the words in the bytes) is found. A block
  // without an ESC byte (most of a plain log) is searched as stored, in one pass. Otherwise:
  //   (a) the stored bytes in one pass; a match in a coloured line is checked on its text;
  //   (b) coloured lines that may match only once decoded. For a case-sensitive literal whose
  //       rarest byte is rare in the block, the lines where pass (a) met that byte without a
  //       match (decoding removes bytes, never adds ASCII); otherwise each line holding an ESC,
  //       decoded only if it holds a literal's two rarest bytes; for a regex, every coloured
  //       line.
  // The matches of (a) and (b) are then recorded in order.
  void ProcessBlock(std::string_view block) {
    if (stopped) return;
    const uint64_t base = block_offset;
    block_dropped = chunker.dropped();
    block_size = block.size();
    block_offset += block.size() + block_dropped;
    if (query.raw_bytes || !HasEsc(block, 0, block.size())) {
      SearchRaw(block, 0, base);
      return;
    }
    std::vector<size_t> starts;  // matching lines' starts
    // A case-sensitive literal notes where its rarest byte stood without matching (few, when
    // that byte is rare in the block: at most one per 512 bytes is kept). Only an ASCII byte:
    // decoding adds U+FFFD's bytes for invalid UTF-8, so a non-ASCII one may be in the visible
    // text only.
    const bool note_misses = !re && static_cast<unsigned char>(query.pattern[rare_at]) < 0x80;
    if (note_misses) {
      miss_buffer.clear();
      misses = &miss_buffer;
      miss_cap = block.size() / 512 + 16;
      misses_overflowed = false;
    }
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
    misses = nullptr;
    const size_t raw_matches = starts.size();
    auto matched_raw = [&](size_t line_start) {
      return std::binary_search(starts.begin(), starts.begin() + raw_matches, line_start);
    };
    if (note_misses && !misses_overflowed) {
      // Only the lines holding the rarest byte can match once decoded: check those that are
      // coloured, each once.
      // Most of these lines are plain: one scan each way from the byte to the nearest '\n' or
      // ESC tells, and gives the line's end.
      const char* data = block.data();
      size_t done = 0;  // where the last checked line ended
      for (size_t at : miss_buffer) {
        if (at < done) continue;
        size_t ahead = NextNewlineOrEsc(data, at, block.size());
        size_t behind = PreviousNewlineOrEsc(data, done, at);
        bool coloured = (ahead < block.size() && data[ahead] == '\x1b') ||
                        (behind != std::string_view::npos && data[behind] == '\x1b');
        if (!coloured) {
          done = std::min(ahead + 1, block.size());
          continue;
        }
        size_t line_start = std::max(done, LineStart(block, at));
        size_t line_end = LineEnd(block, at);
        done = line_end;
        if (!matched_raw(line_start) && VisibleMatch(block, line_start, line_end)) {
          starts.push_back(line_start);
        }
      }
    } else {
      WalkColouredLines(block, matched_raw, starts);
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

  // Checks the visible text of every line holding an ESC (compiler diagnostics: short lines)
  // that did not match as stored; walking a common byte's hits instead meant re-reading the
  // long compile commands that hold it many times.
  template <typename MatchedRaw>
  void WalkColouredLines(std::string_view block, const MatchedRaw& matched_raw,
                         std::vector<size_t>& starts) {
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
  for (size_t i = 0; i < query.pattern.size(); ++i) {
    if (i == impl->rare_at) continue;
    if (impl->pair_at == impl->rare_at ||
        Commonness(static_cast<unsigned char>(query.pattern[i])) <
            Commonness(static_cast<unsigned char>(query.pattern[impl->pair_at]))) {
      impl->pair_at = i;
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
