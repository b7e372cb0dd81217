// The log engine over bytes in memory: what the viewer shows for a line must not depend on where
// reading started (a checkpoint, the first line) or on how the search was split.
#include "logs/log_index.h"

#include <gtest/gtest.h>

#include <thread>

namespace logbucket::logs {
namespace {

struct Log {
  explicit Log(std::string text) : bytes(std::make_shared<const std::string>(std::move(text))) {}
  platform::MemoryBytes bytes;
  LogIndex Index(size_t line_bytes = 256 * 1024) {
    auto index = BuildLogIndex(bytes, line_bytes);
    EXPECT_TRUE(index) << index.error().ToString();
    return index ? std::move(*index) : LogIndex{};
  }
  std::vector<RenderedLine> Lines(const LogIndex& index, uint64_t from, uint64_t to,
                                  size_t max_line_bytes = 256 * 1024) {
    auto lines = ReadLines(index, bytes, from, to, max_line_bytes);
    EXPECT_TRUE(lines) << lines.error().ToString();
    return lines ? std::move(*lines) : std::vector<RenderedLine>{};
  }
};

TEST(LogIndex, SplitsOnNewlineOnly) {
  Log log("first\r\nsecond\rstill second\n\nlast");
  LogIndex index = log.Index();
  EXPECT_EQ(index.lines, 4u);
  EXPECT_EQ(index.bytes, 32u);
  auto lines = log.Lines(index, 1, 4);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].bytes, 6u);  // "first\r": the CR belongs to the line, not shown
  EXPECT_EQ(lines[0].html, "first");
  EXPECT_EQ(lines[1].bytes, 19u);  // a bare CR redraws within the line
  EXPECT_EQ(lines[1].html, "still second");
  EXPECT_EQ(lines[2].bytes, 0u);
  EXPECT_EQ(lines[3].html, "last");  // the last line needs no '\n'

  EXPECT_EQ(Log("").Index().lines, 0u);
  EXPECT_EQ(Log("a\nb\n").Index().lines, 2u);
  Log empty("");
  EXPECT_TRUE(empty.Lines(empty.Index(), 1, 10).empty());
}

TEST(LogIndex, CheckpointsEveryStrideLines) {
  std::string text;
  for (int i = 1; i <= 1000; ++i) text += "line " + std::to_string(i) + "\n";
  Log log(text);
  LogIndex index = log.Index();
  ASSERT_EQ(index.lines, 1000u);
  ASSERT_EQ(index.checkpoints.size(), (1000 + LogIndex::kStride - 1) / LogIndex::kStride);
  for (size_t c = 0; c < index.checkpoints.size(); ++c) {
    uint64_t line = c * LogIndex::kStride + 1;
    std::string expected = "line " + std::to_string(line) + "\n";
    EXPECT_EQ(text.compare(index.checkpoints[c], expected.size(), expected), 0) << line;
  }
  auto lines = log.Lines(index, 130, 131);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].html, "line 130");
  EXPECT_EQ(lines[1].html, "line 131");
  EXPECT_EQ(log.Lines(index, 999, 5000).size(), 2u);  // clamped to the end
}

// Colours opened on one line stay in force on the next ones; reading from a checkpoint far
// below must show them as reading from line 1 does, whatever the lines in between.
TEST(LogIndex, ColoursCarriedToEveryCheckpoint) {
  std::string text;
  for (int i = 1; i <= 700; ++i) {
    if (i == 10) text += "\x1b[31mred from here";
    if (i == 300) text += "\x1b[1;32mbold green from here";
    if (i == 500) text += "\x1b[0mplain again";
    text += " line " + std::to_string(i) + "\n";
  }
  Log log(text);
  LogIndex index = log.Index();
  auto all = log.Lines(index, 1, 700);
  ASSERT_EQ(all.size(), 700u);
  EXPECT_NE(all[199].html.find("class=\"f1\""), std::string::npos) << all[199].html;
  EXPECT_NE(all[399].html.find("f2"), std::string::npos) << all[399].html;
  EXPECT_EQ(all[599].html, " line 600");
  for (uint64_t from : {2ul, 64ul, 65ul, 200ul, 301ul, 449ul, 513ul, 700ul}) {
    auto some = log.Lines(index, from, from + 70);
    ASSERT_FALSE(some.empty());
    for (size_t k = 0; k < some.size(); ++k) {
      ASSERT_EQ(some[k].html, all[from - 1 + k].html) << "line " << from + k;
    }
  }
  EXPECT_LE(index.colour_changes.size(), 3u) << "one entry per change, not per checkpoint";
}

TEST(LogIndex, LongLinesAreCutAndTheAnswerStaysBounded) {
  std::string long_line(300 * 1024, 'x');
  std::string text;
  for (int i = 0; i < 200; ++i) text += long_line + "\n";
  Log log(text);
  LogIndex index = log.Index();
  auto lines = log.Lines(index, 1, 200, 64 * 1024);
  ASSERT_EQ(lines.size(), 200u);
  size_t total = 0;
  for (const RenderedLine& l : lines) {
    EXPECT_TRUE(l.truncated);
    EXPECT_EQ(l.bytes, long_line.size());
    total += l.html.size();
  }
  EXPECT_LT(total, 9u << 20) << "past the 8 MB budget, lines are cut to 1 KB";
  EXPECT_EQ(lines.back().html.size(), 1024u);
}

TEST(LogIndex, FirstLinesWithoutAnIndex) {
  Log log("a\nb\nc\n");
  bool more = false;
  auto lines = ReadFirstLines(log.bytes, 2, 1024, &more);
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[1].html, "b");
  EXPECT_TRUE(more);
  lines = ReadFirstLines(log.bytes, 3, 1024, &more);
  ASSERT_TRUE(lines);
  EXPECT_FALSE(more);
}

TEST(LogIndex, HeaderFactsAndSummaryOfTheWholeLog) {
  std::string text = "git\n";
  for (int i = 0; i < 500; ++i) text += "[ 50%] Building CXX object x" + std::to_string(i) + ".o\n";
  text += "/src/a.cxx:12:3: error: 'foo' was not declared in this scope\n";
  text += "ninja: build stopped: subcommand failed.\n";
  Log log(text);
  auto summary = SummarizeLog(log.bytes);
  ASSERT_TRUE(summary) << summary.error().ToString();
  EXPECT_EQ(summary->verdict, "failed");
  ASSERT_FALSE(summary->errors.empty());
  EXPECT_EQ(summary->errors.front().line, 502u);
}

// A big log's search runs in two halves at once; what it answers must not depend on that:
// the same lines, the same "more" and continuation, first or last matches, from any line.
TEST(SplitSearch, AnswersAsOnePassWould) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core: a search never splits";
  std::string body;
  for (int i = 1; i <= 20000; ++i) {  // matches clustered in both halves and at the very end
    bool hit = i % 997 == 0 || (i > 9990 && i < 10010) || i == 20000;
    body += "line " + std::to_string(i) + (hit ? " \x1b[31mneedle\x1b[0m here\n" : " hay\n");
  }
  Log log(body);
  LogIndex index = log.Index();
  for (bool last : {false, true}) {
    for (size_t cap : {1ul, 5ul, 20ul, 23ul, 30ul, 1000ul}) {
      for (uint64_t from : {1ul, 998ul, 5000ul, 10000ul, 19999ul}) {
        SearchQuery q{"needle here"};
        q.max_matches = cap;
        q.first_line = from;
        q.last = last;
        auto alone = SearchLog(index, log.bytes, q, UINT64_MAX);
        auto split = SearchLog(index, log.bytes, q, 1);
        ASSERT_TRUE(alone && split);
        std::string what =
            (last ? "last " : "first ") + std::to_string(cap) + " from " + std::to_string(from);
        EXPECT_FALSE(alone->lines.empty()) << what;
        EXPECT_EQ(split->lines, alone->lines) << what;
        EXPECT_EQ(split->truncated, alone->truncated) << what;
        EXPECT_EQ(split->next_line, alone->next_line) << what;
        EXPECT_EQ(split->earlier, alone->earlier) << what;
      }
    }
  }
}

TEST(LogIndex, CiTimestampsGetTheirOwnSpan) {
  // The viewer's timestamps toggle hides the span; the rest of the line renders as before, in
  // the colours in force (a coloured tool's output under the runner's plain timestamp).
  Log log(
      "2024-03-01T10:00:00.1000000Z \x1b[31mred\n"
      "2024-03-01T10:00:01.0000000Z still red\x1b[0m\n"
      "build\tRun <tests>\t2024-03-01T10:00:02.0000000Z out\n"
      "[10:00:03] jenkins\n"
      "2024-03-01T10:00:04.0000000Z \n"
      "2024-03-01T10:00:05Z\x1b[1m not a prefix\n");
  auto lines = log.Lines(log.Index(), 1, 6);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].html,
            "<span class=\"ts\">2024-03-01T10:00:00.1000000Z </span><span class=\"f1\">red</span>");
  EXPECT_EQ(lines[1].html,
            "<span class=\"ts\"><span class=\"f1\">2024-03-01T10:00:01.0000000Z </span></span>"
            "<span class=\"f1\">still red</span>");
  EXPECT_EQ(lines[2].html,
            "<span class=\"ts\">build\tRun &lt;tests&gt;\t2024-03-01T10:00:02.0000000Z </span>out");
  EXPECT_EQ(lines[3].html, "<span class=\"ts\">[10:00:03] </span>jenkins");
  EXPECT_EQ(lines[4].html, "2024-03-01T10:00:04.0000000Z ");  // nothing after it to show
  EXPECT_EQ(lines[5].html.find("class=\"ts\""), std::string::npos);
}

}  // namespace
}  // namespace logbucket::logs
