#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "logs/ansi.h"

namespace logbucket::logs {
namespace {

std::string Html(std::string_view line) {
  SgrState st;
  return RenderLineHtml(line, st);
}

TEST(Ansi, ColoursAndAttributesBecomeSpans) {
  EXPECT_EQ(Html("plain"), "plain");
  EXPECT_EQ(Html("\x1b[31merror\x1b[0m: x"), "<span class=\"f1\">error</span>: x");
  EXPECT_EQ(Html("\x1b[1;91mfatal\x1b[m"), "<span class=\"f9 b\">fatal</span>");
  EXPECT_EQ(Html("\x1b[38;5;196mred\x1b[39m"), "<span style=\"color:#ff0000;\">red</span>");
  EXPECT_EQ(Html("\x1b[48;2;1;2;3mbg"), "<span style=\"background-color:#010203;\">bg</span>");
  EXPECT_EQ(Html("\x1b[2;3;4mx\x1b[22;23;24my"), "<span class=\"d i u\">x</span>y");
  EXPECT_EQ(Html("\x1b[7mrev"), "<span class=\"inv\">rev</span>");
  EXPECT_EQ(Html("\x1b[32;7mrev"), "<span class=\"g2\">rev</span>");
  // More parameters than fit inline: all of them still apply, in order.
  EXPECT_EQ(Html("\x1b[0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;1;38;5;196mx"),
            "<span class=\"b\" style=\"color:#ff0000;\">x</span>");
}

TEST(Ansi, EraseToEndOfLineDropsTheOverwrittenTail) {
  EXPECT_EQ(PlainText("long old text\rnew"), "newg old text");  // a terminal keeps the tail…
  EXPECT_EQ(PlainText("long old text\r\x1b[0Knew"), "new");     // …unless the line is erased
  EXPECT_EQ(PlainText("long old text\r\x1b[Knew"), "new");
  EXPECT_EQ(PlainText("\x1b[01;31m\x1b[Kerror: \x1b[m\x1b[Kx"), "error: x");  // gcc's habit
}

TEST(Ansi, StateCarriesAcrossLines) {
  SgrState st;
  EXPECT_EQ(RenderLineHtml("\x1b[33mwarning: begins", st),
            "<span class=\"f3\">warning: begins</span>");
  EXPECT_EQ(RenderLineHtml("and continues\x1b[0m", st), "<span class=\"f3\">and continues</span>");
  EXPECT_TRUE(st.IsDefault());
}

TEST(Ansi, AdvancingTheStateMatchesRendering) {
  const char* lines[] = {
      "plain",
      "\x1b[31merror: open",
      "\x1b[0m",
      "\x1b[1;38;5;196mbold red\x1b[22m not bold",
      "\x1b[48;2;1;2;3mbg\x1b[49m\x1b[7m",
      "\x1b[31;<b>m x",                    // broken: not SGR
      "\x1b[33mold\rnew\x1b[32m",          // overwrites keep the codes of what remains
      "long old \x1b[34mtext\rnew",        // a shorter overwrite keeps the tail's codes
      "\x1b[35m10%\r\x1b[0K\x1b[36m100%",  // erased tail: its codes go
      "\x1b[1m\x1b[31mfatal\x1b[0m boom\r",
      "\x1b[m",
      "\x1b[",  // cut short
      "\x1b[0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;4;48;2;9;8;7mmany parameters",
  };
  const SgrState starts[] = {SgrState{}, [] {
                               SgrState s;
                               s.fg = {Colour::Kind::kPalette16, 3};
                               s.underline = true;
                               return s;
                             }()};
  // Many overwrites, each with its own codes (the shape that made rendering copy the line's
  // rest once per '\r').
  std::string overwrites(3000, 'a');
  for (int k = 0; k < 1500; ++k) overwrites += "\r\x1b[3" + std::to_string(k % 8) + "mb";
  overwrites += "\r\x1b[1m" + std::string(4000, 'c') + "\r\x1b[4mdd\r\x1b[K\x1b[9m";
  std::vector<std::string> all(std::begin(lines), std::end(lines));
  all.push_back(overwrites);
  for (const SgrState& start : starts) {
    for (const std::string& line : all) {
      SgrState rendered = start, advanced = start;
      RenderLineHtml(line, rendered);
      AdvanceSgrState(line, advanced);
      EXPECT_EQ(rendered, advanced) << line;
    }
  }
}

TEST(Ansi, EverythingIsEscapedAndOtherEscapesDropped) {
  EXPECT_EQ(Html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;q&quot;");
  EXPECT_EQ(Html("a\x1b[2Kb\x1b[1Ac\x1b]0;title\a"
                 "d\x1b]8;;http://x\x1b\\e\x1b(Bf"),
            "abcdef");
  // A sequence that tries to smuggle markup ends at its final byte ('b'); the rest is text,
  // escaped.
  EXPECT_EQ(Html("\x1b[31;<b>m x"), "&gt;m x");
  EXPECT_EQ(PlainText("\x1b[1m\x1b[31mfatal error:\x1b[0m boom\r"), "fatal error: boom");
}

TEST(Ansi, CarriageReturnOverwrites) {
  EXPECT_EQ(PlainText(" 10%\r 50%\r100% done"), "100% done");
  EXPECT_EQ(PlainText("downloading 10%\rok"), "okwnloading 10%");
  EXPECT_EQ(PlainText("line\r\n"), "line");  // CRLF
  EXPECT_EQ(PlainText("progress\r"), "progress");
  // Each column shows the latest segment that reached it.
  EXPECT_EQ(PlainText("abcdef\rxy\rz"), "zycdef");
  EXPECT_EQ(PlainText("abcdef\rwxyz\rq\r\x1b[Kno"), "no");
  EXPECT_EQ(Html("\x1b[31mabc\r\x1b[32mx"),
            "<span class=\"f2\">x</span><span class=\"f1\">bc</span>");
}

TEST(Ansi, InvalidUtf8IsShownAsReplacement) {
  EXPECT_EQ(PlainText("caf\xe9!"), "caf\xEF\xBF\xBD!");
  EXPECT_EQ(PlainText("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(PlainText("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(PlainText("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

// Search decodes coloured lines with AppendPlainText; the viewer shows PlainText's text. They
// must agree, on anything (lines with '\r' take PlainText's own path).
TEST(Ansi, AppendPlainTextEqualsPlainText) {
  const std::vector<std::string> parts = {"a",
                                          "error: ",
                                          "\x1b[01;31m",
                                          "\x1b[m",
                                          "\x1b[K",
                                          "\x1b]8;;http://x\a",
                                          "\x1b(B",
                                          "\x1b[",
                                          "\x1b",
                                          "\t",
                                          "\x01",
                                          "\x7f",
                                          "\xc3\xa9",
                                          "\xc3",
                                          "\xe2\x82",
                                          "\xff",
                                          "  ",
                                          "\x1b]0;title\x1b\\",
                                          "\x1b[38;5;208m",
                                          "\r",
                                          "x\ry"};
  std::mt19937 random(7);
  for (int round = 0; round < 20000; ++round) {
    std::string line;
    int pieces = static_cast<int>(random() % 12);
    for (int i = 0; i < pieces; ++i) line += parts[random() % parts.size()];
    std::string fast;
    AppendPlainText(line, fast);
    ASSERT_EQ(fast, PlainText(line)) << testing::PrintToString(line);
  }
}

}  // namespace
}  // namespace logbucket::logs
