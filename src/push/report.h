// What a check's upload says about it: pretty.html (the error summary page, everything from the
// log escaped) and the Markdown snippet for the PR comment (log text as inline code only).
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "logs/summary.h"
#include "push/artifacts.h"
#include "push/full_log.h"

namespace logbucket::push {

// A link to one line of the log in the viewer. ?L= rather than #L: a PR comment's link is often
// someone's first visit, and a sign-in proxy (mod_auth_openidc) loses the fragment on the way
// through the provider; the viewer turns ?L= into #L on arrival.
std::string LineLink(const std::string& log_url, uint64_t line);

std::string HumanBytes(uint64_t bytes);

// Findings whose few lines before them are the story (a traceback's frames from
// "Traceback (most recent call last):", a CMake error's explanation, a failed test's output):
// pretty.html shows those lines, not only the one that matched.
bool ShowsContext(const logs::Finding& f);

// A finding's context as pretty.html shows it: its first lines and its last, at most
// kContextLines in all.
inline constexpr uint64_t kContextLines = 40;

std::vector<uint64_t> ContextLineNumbers(const logs::Finding& f);

// The visible text of the log's lines `wanted` (one pass over the file), for pretty.html.
std::map<uint64_t, std::string> ReadVisibleLines(const std::string& path,
                                                 const std::set<uint64_t>& wanted);

// pretty.html as the CI's report script writes it: status, where and what was built, then the
// findings by kind, each linked to its line in the viewer, then the artifacts. `link_base` is
// the viewer URL of the check's folder (ending in '/'), or "" for links relative to the page.
// `lines` holds the visible text of the context lines ShowsContext() findings need.
std::string PrettyHtml(const logs::Summary& s, const PullRequest& pr, const std::string& check,
                       const std::string& link_base, const Artifacts& artifacts,
                       const std::map<uint64_t, std::string>& lines);

// Log text quoted in a PR comment, as inline code: the build output of a pull request is its
// author's to choose, so nothing of it may become Markdown (links, @mentions, HTML) or break the
// list. Backticks and line breaks go, long lines are cut (on a UTF-8 boundary) and marked.
std::string CodeSpan(std::string_view text, size_t max_bytes);

inline constexpr size_t kMaxQuotedBytes = 300;

std::string Markdown(const logs::Summary& s, const std::string& check, const std::string& base,
                     size_t artifacts, size_t max_errors);

// The PR snippet's line from the viewer's build index (`<log>?recurring`, docs/VIEWER.md):
// "⚠ Likely not this change: this error also failed 11 other PRs in the last 7 days, 11 of
// them on alibuild-07 (see them)"; "" when no other PR failed so or the answer is not one.
// `origin` (https://host[:port]) makes the group's link absolute.
std::string RecurringLine(std::string_view recurring_json, const std::string& origin);

}  // namespace logbucket::push
