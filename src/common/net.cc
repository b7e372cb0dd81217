#include "common/net.h"

#include <arpa/inet.h>

#include "common/encoding.h"

namespace logbucket {

std::optional<IpAddress> ParseIp(std::string_view text) {
  std::string s(TrimWhitespace(text));
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  IpAddress ip;
  if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
  ip.v6 = true;
  if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, ip.bytes.begin())) {
      IpAddress v4;
      std::copy(ip.bytes.begin() + 12, ip.bytes.end(), v4.bytes.begin());
      return v4;
    }
    return ip;
  }
  return std::nullopt;
}

Result<Cidr> ParseCidr(std::string_view text) {
  text = TrimWhitespace(text);
  size_t slash = text.find('/');
  auto ip = ParseIp(text.substr(0, slash));
  if (!ip) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + std::string(text) + "' is not an IP address or CIDR");
  }
  int max_bits = ip->v6 ? 128 : 32;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    auto n = ParseDecimal(text.substr(slash + 1));
    if (!n || *n > max_bits) {
      return Error(ErrorCode::kInvalidArgument,
                   "'" + std::string(text) + "' has a bad prefix length");
    }
    bits = static_cast<int>(*n);
  }
  return Cidr{*ip, bits};
}

bool CidrContains(const Cidr& cidr, const IpAddress& ip) {
  if (cidr.base.v6 != ip.v6) return false;
  int bits = cidr.prefix_bits;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((cidr.base.bytes[i] & mask) != (ip.bytes[i] & mask)) return false;
  }
  return true;
}

std::string ClientAddress(std::string_view peer, std::optional<std::string_view> forwarded_for,
                          const std::vector<Cidr>& trusted) {
  auto is_trusted = [&](std::string_view address) {
    auto ip = ParseIp(address);
    if (!ip) return false;
    for (const Cidr& c : trusted) {
      if (CidrContains(c, *ip)) return true;
    }
    return false;
  };
  if (trusted.empty() || !forwarded_for || !is_trusted(peer)) return std::string(peer);
  auto hops = Split(*forwarded_for, ',');
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::string_view hop = TrimWhitespace(*it);
    if (!ParseIp(hop)) return std::string(peer);  // garbage: do not trust any of it
    if (!is_trusted(hop)) return std::string(hop);
  }
  return std::string(TrimWhitespace(hops.front()));
}

}  // namespace logbucket
