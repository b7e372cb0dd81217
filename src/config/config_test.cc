#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace logbucket::config {
namespace {

// The documented example in docs/configuration.md must parse and validate.
TEST(Config, DocumentedExampleParses) {
  std::ifstream in(std::string(LOGBUCKET_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in.good());
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  size_t start = text.find("```toml\n");
  ASSERT_NE(start, std::string::npos);
  size_t end = text.find("```", start + 8);
  Config c;
  Status s = LoadTomlString(text.substr(start + 8, end - start - 8), c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(Validate(c).ok());
  EXPECT_EQ(c.s3.domains.size(), 1u);
}

TEST(Config, UnknownKeysAndBadValuesAreNamed) {
  Config c;
  Status s = LoadTomlString("[nope]\n", c);
  EXPECT_NE(s.message().find("nope"), std::string::npos);
  s = LoadTomlString("data_dir = \n", c);
  EXPECT_NE(s.message().find("line 1"), std::string::npos);
  c.s3.listen = "bad";
  EXPECT_NE(Validate(c).message().find("s3.listen"), std::string::npos);
}

TEST(Config, HostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:9000")->port, 9000);
  EXPECT_EQ(ParseHostPort("[::1]:80")->host, "::1");
  EXPECT_FALSE(ParseHostPort("host").has_value());
  EXPECT_FALSE(ParseHostPort("h:99999").has_value());
}

}  // namespace
}  // namespace logbucket::config
