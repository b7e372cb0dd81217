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

// The files the Debian package installs (/etc/logbucket/logbucket.toml, the viewer example)
// must load and validate: a package whose service refuses its own configuration never starts.
TEST(Config, PackagedConfigurationsLoad) {
  for (const char* name : {"logbucket.toml", "viewer-example.toml"}) {
    Config c;
    Status s = LoadTomlFile(std::string(LOGBUCKET_SOURCE_DIR) + "/packaging/" + name, c);
    ASSERT_TRUE(s.ok()) << name << ": " << s.ToString();
    EXPECT_TRUE(Validate(c).ok()) << name << ": " << Validate(c).ToString();
  }
  Config store;
  ASSERT_TRUE(
      LoadTomlFile(std::string(LOGBUCKET_SOURCE_DIR) + "/packaging/logbucket.toml", store).ok());
  EXPECT_EQ(store.data_dir, "/var/lib/logbucket");  // the unit's ReadWritePaths
  EXPECT_EQ(store.log_level, "info");
}

TEST(Config, LogLevelIsOneOfSpdlogs) {
  Config c;
  ASSERT_TRUE(LoadTomlString("[log]\nlevel = \"warn\"\n", c).ok());
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_TRUE(Validate(c).ok());
  c.log_level = "verbose";
  EXPECT_NE(Validate(c).message().find("log.level"), std::string::npos);
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

TEST(Config, ProxySignOutUrlIsAPathOrAnHttpUrl) {
  Config c;
  ASSERT_TRUE(LoadTomlString("[auth]\nmode = \"proxy\"\ntrusted_proxies = [\"10.0.0.5/32\"]\n"
                             "[auth.proxy]\nsign_out_url = \"/oidc/callback?logout=%2F\"\n",
                             c)
                  .ok());
  EXPECT_EQ(c.auth.proxy_sign_out_url, "/oidc/callback?logout=%2F");
  EXPECT_TRUE(Validate(c).ok());
  for (const char* good : {"https://sso.example.org/logout", "http://127.0.0.1:8443/out"}) {
    c.auth.proxy_sign_out_url = good;
    EXPECT_TRUE(Validate(c).ok()) << good;
  }
  for (const char* bad : {"//evil.example/x", "/\\evil.example", "javascript:alert(1)", "x"}) {
    c.auth.proxy_sign_out_url = bad;
    EXPECT_NE(Validate(c).message().find("auth.proxy.sign_out_url"), std::string::npos) << bad;
  }
}

TEST(Config, NegativeOrHugeLimitsAreRefusedByName) {
  for (const char* text :
       {"[http]\nmin_body_rate = -1\n", "[s3]\nmin_free_bytes = -5\n",
        "[s3]\nreserve_bytes = 99999999999999\n", "[web]\ngunzip_cache_bytes = 10\n",
        "[http]\nheader_timeout_seconds = -3\n", "[http]\nmax_connections_per_client = -1\n"}) {
    Config c;
    ASSERT_TRUE(LoadTomlString(text, c).ok()) << text;
    std::string key(text + 1, std::string_view(text).find(']') - 1);
    std::string message(Validate(c).message());
    EXPECT_NE(message.find(key + "."), std::string::npos) << text << " → " << message;
  }
}

TEST(Config, HostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:9000")->port, 9000);
  EXPECT_EQ(ParseHostPort("[::1]:80")->host, "::1");
  EXPECT_FALSE(ParseHostPort("host").has_value());
  EXPECT_FALSE(ParseHostPort("h:99999").has_value());
}

}  // namespace
}  // namespace logbucket::config
