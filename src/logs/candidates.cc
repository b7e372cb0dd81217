#include "logs/candidates.h"

#include <re2/re2.h>

#include <climits>
#include <string>

#ifdef LB_HAVE_HYPERSCAN
#include <hs/hs.h>
#endif

namespace logbucket::logs {

const std::vector<std::string_view>& CandidatePatterns() {
  // Few literals, caseless where the case varies: Hyperscan's literal matcher slowed the whole
  // summary by ~20% when "fatal: " joined "error", "Error", "ERROR", "FATAL" as separate
  // literals; one caseless pattern per word costs nothing measurable (docs/BENCHMARKS.md).
  static const std::vector<std::string_view> patterns = {
      R"((?i)error)",
      // FAILED, FAILURE, --- FAIL:, a go
      // package's FAIL (behind a prefix too)
      "FAIL", "Exception in thread", "OutOfMemoryError",
      "e: file:",  // Kotlin
      R"(\.kt: \()", "Build timed out", "panic: ", "command not found", "exit code",
      "What went wrong", "Failures: ", "Errors: ", " failed", R"((?i)fatal)", R"(Killed signal)",
      R"(\*\*\*)", R"((?i)warning)", "undefined reference", "Undefined symbols",
      "multiple definition", "ld: ", R"(Traceback \(most)", "egmentation", "SegFault", "SIGSEGV",
      "build stopped", "tests passed", "Configuring incomplete", "List of issues found",
      "No logs found", "## Begin ", "## End ", R"(::(?:end)?group::)", R"(##\[group\])",
      R"(\[Pipeline\] )", R"(Post job cleanup\.)", R"(##\[endgroup\])", R"(section_(?:start|end):)",
      R"(^(?:---|\+\+\+|~~~) )", "^Finished building on ", "^Built commit ", "^Nomad allocation: "};
  return patterns;
}

namespace {

// Compiled once: RE2 objects are thread-safe for matching, and an analyzer is made per log.
class Re2Scanner final : public CandidateScanner {
 public:
  size_t Next(std::string_view text, size_t from) override {
    static const RE2 re(Joined());
    re2::StringPiece match;
    re2::StringPiece whole(text.data(), text.size());
    if (!re.Match(whole, from, text.size(), RE2::UNANCHORED, &match, 1)) {
      return std::string_view::npos;
    }
    return static_cast<size_t>(match.data() - text.data());
  }
  const char* engine() const override { return "re2"; }

 private:
  // Each pattern in its own group: a flag such as (?i) must stay inside its pattern (in one
  // long alternation it would hold for every pattern after it, and RE2 would then flag lines
  // Hyperscan, which compiles each pattern on its own, does not).
  static std::string Joined() {
    std::string all = "(?m)";
    for (auto p : CandidatePatterns()) {
      if (all.size() > 4) all += '|';
      all += "(?:";
      all += p;
      all += ')';
    }
    return all;
  }
};

#ifdef LB_HAVE_HYPERSCAN
// The compiled database is immutable and shared; each scanner owns its scratch space (Hyperscan
// requires one per concurrent scan).
const hs_database_t* SharedDatabase() {
  static const hs_database_t* db = []() -> const hs_database_t* {
    if (hs_valid_platform() != HS_SUCCESS) return nullptr;
    std::vector<std::string> owned;
    for (auto p : CandidatePatterns()) owned.emplace_back(p);
    std::vector<const char*> expressions;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < owned.size(); ++i) {
      expressions.push_back(owned[i].c_str());
      flags.push_back(HS_FLAG_MULTILINE);
      ids.push_back(static_cast<unsigned>(i));
    }
    hs_database_t* compiled = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr,
                         &compiled, &error) != HS_SUCCESS) {
      hs_free_compile_error(error);
      return nullptr;
    }
    return compiled;
  }();
  return db;
}

class HyperscanScanner final : public CandidateScanner {
 public:
  explicit HyperscanScanner(const hs_database_t* db) : db_(db) {}
  ~HyperscanScanner() override { hs_free_scratch(scratch_); }
  bool Init() { return hs_alloc_scratch(db_, &scratch_) == HS_SUCCESS; }

  size_t Next(std::string_view text, size_t from) override {
    if (from >= text.size()) return std::string_view::npos;
    // hs_scan takes an unsigned length; lines longer than that (never in practice) go to RE2.
    if (text.size() - from > UINT_MAX) return Fallback().Next(text, from);
    unsigned long long end = 0;
    auto on_match = [](unsigned, unsigned long long, unsigned long long to, unsigned,
                       void* context) -> int {
      *static_cast<unsigned long long*>(context) = to;
      return 1;  // matches come in order of their end: the first one ends in the first line
    };
    hs_error_t rc = hs_scan(db_, text.data() + from, static_cast<unsigned>(text.size() - from), 0,
                            scratch_, on_match, &end);
    if (rc == HS_SCAN_TERMINATED) return from + static_cast<size_t>(end) - 1;
    if (rc == HS_SUCCESS) return std::string_view::npos;
    return Fallback().Next(text, from);
  }
  const char* engine() const override { return "hyperscan"; }

 private:
  Re2Scanner& Fallback() {
    if (!fallback_) fallback_ = std::make_unique<Re2Scanner>();
    return *fallback_;
  }
  const hs_database_t* db_;
  hs_scratch_t* scratch_ = nullptr;
  std::unique_ptr<Re2Scanner> fallback_;
};
#endif

}  // namespace

std::unique_ptr<CandidateScanner> NewRe2CandidateScanner() {
  return std::make_unique<Re2Scanner>();
}

std::unique_ptr<CandidateScanner> NewCandidateScanner() {
#ifdef LB_HAVE_HYPERSCAN
  if (const hs_database_t* db = SharedDatabase()) {
    auto scanner = std::make_unique<HyperscanScanner>(db);
    if (scanner->Init()) return scanner;
  }
#endif
  return NewRe2CandidateScanner();
}

}  // namespace logbucket::logs
