// The summary (sections, errors, header facts) and the search run on attacker-controlled bytes:
// whatever comes in, they must not crash, every line number they report must exist, the
// result must not depend on how the bytes were split into reads, and the two candidate engines
// must agree.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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
  logbucket::logs::Summary whole = logbucket::logs::Summarize(text);
  Check(whole);
  logbucket::logs::Analyzer split;
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
  // Search: a literal from the input itself must find the line it came from.
  if (size > 4) {
    std::string needle(text.substr(size / 2, 3));
    if (needle.find('\n') == std::string::npos) {
      auto searcher = logbucket::logs::Searcher::Create({needle});
      if (searcher) {
        (*searcher)->Feed(text);
        auto result = (*searcher)->Finish();
        if (result.lines.empty()) __builtin_trap();
        for (uint64_t line : result.lines) {
          if (line < 1 || line > whole.lines) __builtin_trap();
        }
      }
    }
  }
  return 0;
}
