// The summary (sections, errors, header facts) and the search run on attacker-controlled bytes:
// whatever comes in, they must not crash, every line number they report must exist, the
// result must not depend on how the bytes were split into reads, and the two candidate engines
// must agree.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "logs/ansi.h"
#include "logs/candidates.h"
#include "logs/search.h"
#include "logs/summary.h"

namespace {

void Check(const logbucket::logs::Summary& s) {
  for (const auto* list : {&s.errors, &s.warnings}) {
    for (const auto& f : *list) {
      if (f.line < 1 || f.line > s.lines) __builtin_trap();
      if (f.context_from > f.line || f.context_to < f.line || f.context_to > s.lines) {
        __builtin_trap();
      }
      if (f.count < 1 || f.last_line < f.line) __builtin_trap();
    }
  }
  for (const auto& sec : s.sections) {
    if (sec.begin_line < 1 || sec.end_line < sec.begin_line || sec.end_line > s.lines) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // A line is read to a cut (64 KB by default, longer than any input here): half the inputs
  // get a cut of 512-639 bytes instead, so that cutting, whole and in pieces, is reached too.
  logbucket::logs::AnalyzerOptions options;
  if (size > 1 && (data[1] & 1) != 0) options.max_classified_line_bytes = 512 + data[1] / 2;
  logbucket::logs::Summary whole = logbucket::logs::Summarize(text, options);
  Check(whole);
  logbucket::logs::Analyzer split(options);
  size_t step = size > 0 ? 1 + data[0] % 17 : 1;
  for (size_t at = 0; at < size; at += step) split.Feed(text.substr(at, step));
  logbucket::logs::Summary pieces = split.Finish(size);
  if (logbucket::logs::SummaryToJson(pieces) != logbucket::logs::SummaryToJson(whole)) {
    __builtin_trap();
  }
  // The fast candidate engine (Hyperscan when built in) flags the same first line as RE2's.
  {
    static auto fast = logbucket::logs::NewCandidateScanner();
    static auto re2 = logbucket::logs::NewRe2CandidateScanner();
    size_t a = fast->Next(text, 0);
    size_t b = re2->Next(text, 0);
    auto line_of = [&](size_t at) {
      return at == std::string_view::npos ? at : text.substr(0, at).find_last_of('\n') + 1;
    };
    if (line_of(a) != line_of(b)) __builtin_trap();
  }
  // Search: a literal from the input's bytes finds the line it came from in a search of the
  // stored bytes; three bytes of a coloured line's visible text find that line in the default
  // search (what the reader sees). Line numbers stay within the log.
  if (size > 4) {
    auto found = [&](const logbucket::logs::SearchQuery& query, uint64_t want_line) {
      auto searcher = logbucket::logs::Searcher::Create(query);
      if (!searcher) return;
      (*searcher)->Feed(text);
      auto result = (*searcher)->Finish();
      bool seen = false;
      for (uint64_t line : result.lines) {
        if (line < 1 || line > whole.lines) __builtin_trap();
        seen |= line == want_line;
      }
      if (!seen) __builtin_trap();
    };
    const size_t middle = size / 2;
    const size_t line_start = text.rfind('\n', middle - 1) == std::string_view::npos
                                  ? 0
                                  : text.rfind('\n', middle - 1) + 1;
    const uint64_t line_number =
        1 + static_cast<uint64_t>(std::count(text.begin(), text.begin() + line_start, '\n'));
    std::string needle(text.substr(middle, 3));
    if (needle.find('\n') == std::string::npos) {
      logbucket::logs::SearchQuery raw{needle};
      raw.raw_bytes = true;
      found(raw, line_number);
    }
    size_t line_end = text.find('\n', line_start);
    std::string_view line =
        text.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos
                                                                   : line_end - line_start);
    if (line.find('\x1b') != std::string_view::npos && line.find('\r') == std::string_view::npos) {
      std::string visible = logbucket::logs::PlainText(line);
      if (visible.size() >= 3) found({visible.substr(visible.size() / 2 - 1, 3)}, line_number);
    }
  }
  return 0;
}
