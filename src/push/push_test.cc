// push's domain without the network: what goes into fullLog.txt, which artifacts go up and as
// what, and that nothing a build log says can become markup in pretty.html or the PR comment.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>

#include "common/encoding.h"
#include "common/hash.h"
#include "platform/file_util.h"
#include "push/artifacts.h"
#include "push/full_log.h"
#include "push/report.h"

namespace logbucket::push {
namespace {

class PushFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lb-push-" + HexEncode(RandomBytes(6)));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content, time_t mtime = 0) {
    std::filesystem::path p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    if (mtime != 0) {
      struct utimbuf times {
        mtime, mtime
      };
      ::utime(p.c_str(), &times);
    }
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST(Push, ParsePr) {
  auto pr = ParsePr("AliceO2Group/AliceO2#14473@0123abc");
  ASSERT_TRUE(pr) << pr.error().ToString();
  EXPECT_EQ(pr->org, "AliceO2Group");
  EXPECT_EQ(pr->repo, "AliceO2");
  EXPECT_EQ(pr->number, "14473");
  EXPECT_EQ(pr->sha, "0123abc");
  EXPECT_TRUE(pr->is_pr);
  EXPECT_EQ(pr->Url(), "https://github.com/AliceO2Group/AliceO2/pull/14473");
  auto branch = ParsePr("alisw/alidist#master@0123456789abcdef0123456789abcdef01234567");
  ASSERT_TRUE(branch);
  EXPECT_FALSE(branch->is_pr);
  EXPECT_EQ(branch->Url(),
            "https://github.com/alisw/alidist/commit/0123456789abcdef0123456789abcdef01234567");
  for (const char* bad :
       {"org/repo#1", "org/repo#1@XYZ1234", "org repo/x#1@abcdef0", "org/repo#1@abc",
        "org/repo#1@0123abc\n", "../x#1@0123abc", "o/..#1@0123abc", "o/r#a/../b@0123abc",
        "o/r#/b@0123abc", "o/r#b/@0123abc", "o/r#a//b@0123abc", "o/r#.@0123abc"}) {
    auto r = ParsePr(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("--pr"), std::string::npos) << r.error().message();
  }
}

TEST(Push, SafeCheckName) {
  EXPECT_EQ(SafeCheckName("build/O2/o2"), "build_O2_o2");
  EXPECT_EQ(SafeCheckName("build_O2-fullCI"), "build_O2-fullCI");
  EXPECT_EQ(SafeCheckName("a b.c"), "a_b_c");
}

// Package logs in build order (oldest first), each in a Begin/End section; a log without a final
// newline gets one, so the End marker starts its own line; the summary numbers lines of the file
// as written.
TEST_F(PushFiles, FullLogHasTheHeaderAndOneSectionPerLogInBuildOrder) {
  Write("BUILD/zlib-latest/log", "configure\nmake\n", 1700000000);
  Write("BUILD/O2-latest/log",
        "[ 10%] Building CXX object a.o\n/src/a.cxx:3:1: error: 'x' was not declared in this "
        "scope\nninja: build stopped: subcommand failed.",
        1700000100);
  auto logs = CollectLogs({(dir_ / "BUILD/*latest*/log").string()});
  ASSERT_TRUE(logs) << logs.error().ToString();
  ASSERT_EQ(logs->size(), 2u);
  EXPECT_NE((*logs)[0].path.find("zlib"), std::string::npos) << "oldest first";
  auto pr = ParsePr("AliceO2Group/AliceO2#1@0123abc");
  ASSERT_TRUE(pr);
  std::string out = (dir_ / "fullLog.txt").string();
  auto summary = WriteFullLog(*logs, *pr, out);
  ASSERT_TRUE(summary) << summary.error().ToString();
  auto text = platform::ReadFile(out, 1 << 20);
  ASSERT_TRUE(text);
  auto lines = Split(*text, '\n');
  ASSERT_GE(lines.size(), 14u);
  EXPECT_TRUE(std::string(lines[0]).starts_with("Finished building on ")) << lines[0];
  EXPECT_EQ(lines[1], "Built commit 0123abc from https://github.com/AliceO2Group/AliceO2/pull/1");
  EXPECT_EQ(lines[2], "The following files (oldest first) are present in the log:");
  EXPECT_EQ(lines[3], "- " + (*logs)[0].path);
  EXPECT_TRUE(std::string(lines[5]).starts_with("## Begin " + (*logs)[0].path + " ")) << lines[5];
  EXPECT_EQ(lines[6], "configure");
  EXPECT_TRUE(std::string(lines[8]).starts_with("## End " + (*logs)[0].path + " "));
  EXPECT_TRUE(std::string(lines[12]).starts_with("ninja: build stopped"));
  EXPECT_TRUE(std::string(lines[13]).starts_with("## End " + (*logs)[1].path + " ")) << lines[13];
  EXPECT_EQ(summary->verdict, "failed");
  ASSERT_FALSE(summary->errors.empty());
  EXPECT_EQ(summary->errors.front().line, 12u);      // "/src/a.cxx:3:1: error: …"
  EXPECT_EQ(summary->errors.front().section, "O2");  // the package, from BUILD/O2-latest/log

  auto none = CollectLogs({(dir_ / "nothing/*").string()});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("--logs"), std::string::npos);
}

TEST_F(PushFiles, ArtifactsAreCollectedTypedAndOversizedOnesSkipped) {
  Write("out/plots/a.png", "\x89PNG....");
  Write("out/report.json", "{}");
  Write("out/notes", "plain words\n");
  Write("out/data.bin", std::string("\x00\x01\x02", 3));
  Write("out/huge.root", std::string(2048, 'r'));
  ArtifactOptions options;
  options.artifacts = {(dir_ / "out").string()};
  options.artifact_max_bytes = 1024;
  auto found = CollectArtifacts(options, 200);
  ASSERT_TRUE(found) << found.error().ToString();
  std::map<std::string, std::string> types;
  for (const Artifact& a : found->files) types[a.name] = ArtifactContentType(a.file);
  EXPECT_EQ(types["plots/a.png"], "image/png");
  EXPECT_EQ(types["report.json"], "application/json");
  EXPECT_EQ(types["notes"], "text/plain; charset=utf-8");
  EXPECT_EQ(types["data.bin"], "application/octet-stream");
  EXPECT_EQ(types.count("huge.root"), 0u);
  ASSERT_EQ(found->skipped.size(), 1u);
  EXPECT_NE(found->skipped[0].reason.find("1024"), std::string::npos) << found->skipped[0].reason;

  options.artifact_max_count = 2;
  options.artifact_max_bytes = 1 << 20;
  EXPECT_FALSE(CollectArtifacts(options, 200)) << "more files than allowed is refused";
}

logs::Summary FailedSummary(std::string text, std::string section = "O2") {
  logs::Summary s;
  s.verdict = "failed";
  logs::Finding f;
  f.line = 42;
  f.kind = "compiler";
  f.text = std::move(text);
  f.section = std::move(section);
  s.errors.push_back(f);
  return s;
}

TEST(Push, PrettyHtmlEscapesEverythingFromTheLog) {
  auto pr = ParsePr("o/r#7@0123abc");
  ASSERT_TRUE(pr);
  logs::Summary s = FailedSummary("error: <script>alert(1)</script> & \"quotes\"", "<b>pkg</b>");
  std::string html = PrettyHtml(s, *pr, "build/<img src=x>",
                                "https://logs.example.org/b/o/r/7/0123abc/c/", Artifacts{}, {});
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img src=x>"), std::string::npos);
  EXPECT_EQ(html.find("<b>pkg"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp;"), std::string::npos);
  EXPECT_NE(html.find("https://logs.example.org/b/o/r/7/0123abc/c/fullLog.txt?L=42"),
            std::string::npos);
}

TEST(Push, CodeSpanKeepsLogTextInertInMarkdown) {
  EXPECT_EQ(CodeSpan("plain", 100), "`plain`");
  EXPECT_EQ(CodeSpan("a `b` c\nd\re", 100), "`a 'b' c d e`");
  // Cut on a UTF-8 boundary: "é" is two bytes and is not split.
  EXPECT_EQ(CodeSpan("abcé", 4), "`abc…`");
}

TEST(Push, MarkdownSnippetLinksEachErrorToItsLine) {
  logs::Summary s = FailedSummary("[click](https://evil.example) @everyone <img src=x>");
  std::string md = Markdown(s, "build/O2/o2", "https://logs.example.org/b/o/r/7/sha/c/", 0, 5);
  EXPECT_TRUE(
      md.starts_with("**build/O2/o2**: failed · [full log]("
                     "https://logs.example.org/b/o/r/7/sha/c/fullLog.txt)"))
      << md;
  EXPECT_NE(md.find("- [line 42](https://logs.example.org/b/o/r/7/sha/c/fullLog.txt?L=42)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("`[click](https://evil.example) @everyone <img src=x>`"), std::string::npos)
      << "log text only ever inside a code span: " << md;
  for (int i = 0; i < 6; ++i) s.errors.push_back(s.errors.front());
  md = Markdown(s, "c", "https://x/", 3, 5);
  EXPECT_NE(md.find("- … 2 more"), std::string::npos) << md;
  EXPECT_NE(md.find("[3 artifacts](https://x/artifacts/)"), std::string::npos) << md;
}

TEST(Push, ContextOfLongFindingsIsBounded) {
  logs::Finding f;
  f.kind = "python-traceback";
  f.line = 1000;
  f.context_from = 100;
  f.context_to = 1000;
  EXPECT_TRUE(ShowsContext(f));
  auto numbers = ContextLineNumbers(f);
  EXPECT_LE(numbers.size(), 40u);
  EXPECT_EQ(numbers.front(), 100u);
  EXPECT_EQ(numbers.back(), 1000u);
}

TEST(Push, RecurringLineFromTheViewersIndex) {
  const std::string origin = "https://logs.example.org";
  std::string line = RecurringLine(
      R"({"indexed":true,"days":7,"others":{"prs":11,"builds":12,"infrastructure":true,)"
      R"("hosts":[{"host":"alibuild-07","builds":11},{"host":"alibuild-02","builds":1}],)"
      R"("href":"/logs/?failures&days=7&signature=93a189da70ddd894"}})",
      origin);
  EXPECT_EQ(line,
            "⚠ **Likely not this change**: this error also failed 11 other PRs in the last 7 days, "
            "11 of them on `alibuild-07` ([see them](https://logs.example.org/logs/"
            "?failures&days=7&signature=93a189da70ddd894))\n");
  // Not flagged, spread over hosts: the count only.
  EXPECT_EQ(RecurringLine(R"({"days":3,"others":{"prs":1,"builds":4,"hosts":[{"host":"a",)"
                          R"("builds":1}],"href":"/b/?failures"}})",
                          origin),
            "This error also failed 1 other PR in the last 3 days ([see them](https://"
            "logs.example.org/b/?failures))\n");
  // Nobody else, or not an answer: nothing. A host is log text: inert; a link only to the site.
  EXPECT_EQ(RecurringLine(R"({"indexed":true,"others":null})", origin), "");
  EXPECT_EQ(RecurringLine("<html>sign in</html>", origin), "");
  line = RecurringLine(R"j({"others":{"prs":2,"builds":2,"hosts":[{"host":"[x](http://evil)",)j"
                       R"j("builds":2}],"href":"//evil.example/x"}})j",
                       origin);
  EXPECT_NE(line.find("`[x](http://evil)`"), std::string::npos) << line;
  EXPECT_EQ(line.find("evil.example"), std::string::npos) << line;
  // Fields of the wrong type: no exception, nothing made up.
  const std::string two_odd_fields =
      std::string(R"({"others":{"prs":2,"hosts":[{"host":1,"builds":"2"}],"href":[]},)") +
      R"("days":"x"})";
  for (const std::string& odd :
       {std::string(R"({"others":{"prs":"3","builds":[],"hosts":"h","href":5}})"), two_odd_fields,
        std::string(R"({"others":[1]})"), std::string(R"([{"others":1}])"), std::string("null")}) {
    EXPECT_NO_THROW(line = RecurringLine(odd, origin)) << odd;
    EXPECT_EQ(line.find("http"), std::string::npos) << odd;
  }
  EXPECT_EQ(
      RecurringLine(R"({"others":{"prs":2,"hosts":[{"host":1,"builds":"2"}]},"days":"x"})", origin),
      "This error also failed 2 other PRs in the last 7 days\n");
}

}  // namespace
}  // namespace logbucket::push
