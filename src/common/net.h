// IP addresses and CIDR ranges (IPv4 and IPv6), for trusted proxies and aws:SourceIp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace logbucket {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes
};

struct Cidr {
  IpAddress base;
  int prefix_bits = 0;
};

std::optional<IpAddress> ParseIp(std::string_view text);
// "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128).
Result<Cidr> ParseCidr(std::string_view text);
bool CidrContains(const Cidr& cidr, const IpAddress& ip);

// The client's address: the TCP peer, or, when the peer is a trusted proxy, the right-most
// X-Forwarded-For entry that is not itself a trusted proxy.
std::string ClientAddress(std::string_view peer, std::optional<std::string_view> forwarded_for,
                          const std::vector<Cidr>& trusted);

}  // namespace logbucket
