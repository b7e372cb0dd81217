#include "common/hash.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "common/status.h"

namespace logbucket {
namespace {

// Check values from the CRC catalogue ("123456789").
TEST(Hash, CrcCheckValues) {
  EXPECT_EQ(Crc32(0, "123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(Crc64Nvme(0, "123456789"), 0xAE8B14860A799888ull);
  // Incremental equals one-shot, across the 8-byte slicing boundary.
  std::string data(1000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  EXPECT_EQ(Crc64Nvme(Crc64Nvme(0, data.substr(0, 13)), data.substr(13)), Crc64Nvme(0, data));
  EXPECT_EQ(Crc32c(Crc32c(0, data.substr(0, 5)), data.substr(5)), Crc32c(0, data));
}

TEST(Hash, ChecksumEncodingMatchesS3) {
  // S3 returns base64 of the big-endian CRC: CRC32("hello world") = 0x0d4a1185.
  auto h = NewChecksum(ChecksumAlgorithm::kCrc32);
  h->Update("hello ");
  h->Update("world");
  EXPECT_EQ(Base64Encode(h->Finish()), "DUoRhQ==");
  EXPECT_EQ(HexEncode(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// RFC 4231 test cases 1, 2 and 6 (key longer than the block).
TEST(Hash, HmacSha256Rfc4231) {
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HexEncode(HmacSha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// RFC 2202 test cases 1, 2 and 6 (key longer than the block).
TEST(Hash, HmacSha1Rfc2202) {
  EXPECT_EQ(HexEncode(HmacSha1(std::string(20, '\x0b'), "Hi There")),
            "b617318655057264e28bc0b6fb378c8ef146be00");
  EXPECT_EQ(HexEncode(HmacSha1("Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(HexEncode(HmacSha1(std::string(80, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

TEST(Hash, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(Encoding, Base64RoundTripAndStrictness) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)).value(), s);
  }
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("ab!=").has_value());
  EXPECT_FALSE(Base64Decode("a===").has_value());
}

TEST(Encoding, Dates) {
  int64_t t = *ParseAmzDate("20130524T000000Z");
  EXPECT_EQ(FormatHttpDate(t), "Fri, 24 May 2013 00:00:00 GMT");
  EXPECT_EQ(FormatIso8601(t), "2013-05-24T00:00:00.000Z");
  EXPECT_EQ(ParseHttpDate("Fri, 24 May 2013 00:00:00 GMT").value(), t);
  EXPECT_EQ(ParseHttpDate("2013-05-24T00:00:00.000Z").value(), t);
  EXPECT_FALSE(ParseAmzDate("2013052400000Z").has_value());
}

TEST(ErrorTable, EveryCodeHasARow) {
  for (int i = 1; i < static_cast<int>(ErrorCode::kCount); ++i) {
    const ErrorInfo& info = Describe(static_cast<ErrorCode>(i));
    EXPECT_FALSE(info.s3_code.empty()) << i;
    EXPECT_GE(info.http_status, 300) << i;
    EXPECT_FALSE(info.message.empty()) << i;
  }
}

}  // namespace
}  // namespace logbucket
