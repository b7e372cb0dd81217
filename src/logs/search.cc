#include "logs/search.h"

#include <re2/re2.h>
#include <string.h>

#include <algorithm>

#include "logs/whole_lines.h"

namespace logbucket::logs {

constexpr size_t kMaxPatternBytes = 1000;

struct Searcher::Impl {
  SearchQuery query;
  std::unique_ptr<RE2> re;  // null: case-sensitive literal, found with memmem
  WholeLines chunker;
  SearchResult result;
  uint64_t lines_done = 0;  // complete lines consumed
  bool stopped = false;

  // Offset of the next match in block at or after pos, or npos.
  size_t Find(std::string_view block, size_t pos) const {
    if (!re) {
      const void* at = memmem(block.data() + pos, block.size() - pos, query.pattern.data(),
                              query.pattern.size());
      return at ? static_cast<size_t>(static_cast<const char*>(at) - block.data())
                : std::string_view::npos;
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
    size_t pos = 0;
    while (pos < block.size()) {
      size_t at = Find(block, pos);
      if (at == std::string_view::npos) {
        lines_done += static_cast<uint64_t>(std::count(block.begin() + pos, block.end(), '\n'));
        if (block.back() != '\n') ++lines_done;
        return;
      }
      lines_done +=
          static_cast<uint64_t>(std::count(block.begin() + pos, block.begin() + at, '\n'));
      result.lines.push_back(query.first_line + lines_done);
      size_t nl = block.find('\n', at);
      ++lines_done;
      pos = nl == std::string_view::npos ? block.size() : nl + 1;
      if (result.lines.size() >= query.max_matches) {
        stopped = true;
        result.truncated = true;
        result.next_line = query.first_line + lines_done;
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
