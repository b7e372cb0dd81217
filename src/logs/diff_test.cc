// The diff against a green build: what a failed log has that the green one does not.
#include "logs/diff.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "logs/summary.h"

namespace logbucket::logs {
namespace {

platform::MemoryBytes Bytes(std::string text) {
  return platform::MemoryBytes(std::make_shared<const std::string>(std::move(text)));
}

TEST(Diff, MaskedHashIsTheHashOfTheMaskedText) {
  auto fnv = [](std::string_view s) {
    uint64_t h = 14695981039346656037ULL;
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    return h;
  };
  for (const char* text :
       {"", "plain words", "/sw/SOURCES/O2/14520-slc9/0/a.cxx:12:5: error: x", "dir/ end/",
        "[2026-11-18 13:24:03.123] took 12.5 s", "deadbeefcafe at 0x7ffd1234abcd", "abcdefab",
        "a\tb  c", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa1", "trailing/"}) {
    EXPECT_EQ(MaskedHash(text), fnv(MaskForDedup(text))) << text;
  }
  // What differs only by numbers, hashes or directories is the same line.
  EXPECT_EQ(MaskedHash("/sw/BUILD/14520-slc9/0/a.o: built in 12 s"),
            MaskedHash("/sw/BUILD/14473-slc8/1/a.o: built in 3 s"));
  EXPECT_NE(MaskedHash("a.o: built"), MaskedHash("b.o: built"));
}

TEST(Diff, OnlyTheNewLinesWithTheirContext) {
  std::string green, failed;
  for (int i = 1; i <= 100; ++i) {
    green += "[" + std::to_string(i) + "/100] Building CXX object /sw/BUILD/14473-slc9/0/f" +
             std::to_string(i % 10) + ".o\n";
  }
  for (int i = 1; i <= 100; ++i) {
    // The same build on another PR, on another day: other paths, numbers, CI timestamps, colours.
    failed += "2024-03-01T10:00:" + std::to_string(10 + i % 50) + ".0Z \x1b[32m[" +
              std::to_string(i) + "/100] Building CXX object /sw/BUILD/15001-slc9/0/f" +
              std::to_string(i % 10) + ".o\x1b[0m\n";
    if (i == 50) failed += "a.cxx:3:4: error: 'frob' was not declared in this scope\n";
    if (i == 90) failed += "ninja: build stopped: subcommand failed.\n";
  }
  auto log = Bytes(failed);
  auto base = Bytes(green);
  auto diff = DiffAgainst(log, base);
  ASSERT_TRUE(diff) << diff.error().ToString();
  EXPECT_EQ(diff->lines, 102u);
  EXPECT_EQ(diff->base_lines, 100u);
  EXPECT_EQ(diff->new_lines, 2u);
  // Line 51 is the error, line 92 the ninja line; three lines either side.
  ASSERT_EQ(diff->shown.size(), 2u);
  EXPECT_EQ(diff->shown[0], std::make_pair(uint64_t{48}, uint64_t{54}));
  EXPECT_EQ(diff->shown[1], std::make_pair(uint64_t{89}, uint64_t{95}));

  // Near the end and merged: context never runs past the log, close lines share one range.
  auto tail = Bytes(green + "new one\nnew two\n");
  diff = DiffAgainst(tail, base);
  ASSERT_TRUE(diff);
  ASSERT_EQ(diff->shown.size(), 1u);
  EXPECT_EQ(diff->shown[0], std::make_pair(uint64_t{98}, uint64_t{102}));

  // Against itself: nothing; against an empty log: everything.
  diff = DiffAgainst(base, base);
  ASSERT_TRUE(diff);
  EXPECT_EQ(diff->new_lines, 0u);
  EXPECT_TRUE(diff->shown.empty());
  auto empty = Bytes("");
  diff = DiffAgainst(base, empty);
  ASSERT_TRUE(diff);
  EXPECT_EQ(diff->new_lines, 100u);
  ASSERT_EQ(diff->shown.size(), 1u);
  EXPECT_EQ(diff->shown[0], std::make_pair(uint64_t{1}, uint64_t{100}));
}

// Lines are compared by their first max_line_bytes; a 10 MB line (longer than a read) is the
// same line in both logs whatever follows its first bytes, and is never held whole.
TEST(Diff, LongLinesAreComparedByTheirFirstBytes) {
  const std::string long_green = "cmd " + std::string(10 << 20, 'a');
  const std::string long_failed = "cmd " + std::string(5 << 20, 'a') + "different after the cut";
  auto base = Bytes("start\n" + long_green + "\nend\n");
  auto log = Bytes("start\n" + long_failed + "\n\x1b[31merror: new\x1b[0m\r\nend\n");
  auto diff = DiffAgainst(log, base);
  ASSERT_TRUE(diff) << diff.error().ToString();
  EXPECT_EQ(diff->lines, 4u);
  EXPECT_EQ(diff->base_lines, 3u);
  EXPECT_EQ(diff->new_lines, 1u);
}

TEST(Diff, TheGreenLogsMemoryIsBounded) {
  std::string green;
  for (int i = 0; i < 1000; ++i)
    green += "line " + std::string(1, static_cast<char>('a' + i % 26)) + "\n";
  DiffOptions options;
  options.max_base_lines = 10;
  auto log = Bytes("line z\n");
  auto base = Bytes(green);
  auto diff = DiffAgainst(log, base, options);
  ASSERT_TRUE(diff);
  EXPECT_TRUE(diff->base_truncated);
  EXPECT_EQ(diff->base_lines, 10u);
  EXPECT_EQ(diff->new_lines, 1u);  // 'z' was past what was remembered
}

}  // namespace
}  // namespace logbucket::logs
