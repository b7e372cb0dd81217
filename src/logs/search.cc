#include "logs/search.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>

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

  void ProcessBlock(std::string_view block) {
    if (stopped) return;
    const uint64_t base = block_offset;
    block_offset += block.size();
    size_t pos = 0;  // always a line start
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
      if (query.count_lines) {
        lines_done += CountNewlines(block.data() + pos, line_start - pos);
        result.lines.push_back(query.first_line + lines_done);
        ++lines_done;
      }
      result.offsets.push_back(base + line_start);
      size_t nl = block.find('\n', at);
      pos = nl == std::string_view::npos ? block.size() : nl + 1;
      if (result.offsets.size() >= query.max_matches) {
        stopped = true;
        result.truncated = true;
        if (query.count_lines) result.next_line = query.first_line + lines_done;
        result.next_offset = base + pos;
        return;
      }
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
  return std::move(impl_->result);
}

}  // namespace logbucket::logs
