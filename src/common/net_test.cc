#include "common/net.h"

#include <gtest/gtest.h>

namespace logbucket {
namespace {

bool In(const char* cidr, const char* ip) { return CidrContains(*ParseCidr(cidr), *ParseIp(ip)); }

TEST(Net, CidrMatching) {
  EXPECT_TRUE(In("10.0.0.0/8", "10.200.3.4"));
  EXPECT_FALSE(In("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(In("188.184.9.236", "188.184.9.236"));
  EXPECT_FALSE(In("188.184.9.236", "188.184.9.237"));
  EXPECT_TRUE(In("192.168.1.0/23", "192.168.0.255"));
  EXPECT_TRUE(In("0.0.0.0/0", "8.8.8.8"));
  EXPECT_TRUE(In("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(In("2001:db8::/32", "2001:db9::1"));
  EXPECT_FALSE(In("::/0", "1.2.3.4"));  // families never mix
  EXPECT_TRUE(In("127.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_FALSE(ParseCidr("10.0.0.0/33").has_value());
  EXPECT_FALSE(ParseCidr("nonsense").has_value());
}

TEST(Net, ClientAddressTrustsOnlyConfiguredProxies) {
  std::vector<Cidr> trusted = {*ParseCidr("127.0.0.1"), *ParseCidr("10.0.0.0/8")};
  EXPECT_EQ(ClientAddress("127.0.0.1", "203.0.113.7", trusted), "203.0.113.7");
  // A client cannot spoof by prepending: the right-most untrusted hop wins.
  EXPECT_EQ(ClientAddress("127.0.0.1", "1.1.1.1, 203.0.113.7, 10.1.2.3", trusted), "203.0.113.7");
  // From an untrusted peer, the header is ignored.
  EXPECT_EQ(ClientAddress("198.51.100.1", "203.0.113.7", trusted), "198.51.100.1");
  EXPECT_EQ(ClientAddress("127.0.0.1", std::nullopt, trusted), "127.0.0.1");
  EXPECT_EQ(ClientAddress("127.0.0.1", "not-an-ip", trusted), "127.0.0.1");
  EXPECT_EQ(ClientAddress("127.0.0.1", "203.0.113.7", {}), "127.0.0.1");
}

}  // namespace
}  // namespace logbucket
