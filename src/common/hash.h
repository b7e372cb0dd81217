// Hashing over OpenSSL EVP (MD5, SHA-1, SHA-256, HMAC) and the CRC family S3 checksums use
// (CRC32, CRC32C, CRC64/NVME). All digests are raw bytes in a std::string; encode with hex or
// base64 from encoding.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace logbucket {

// The x-amz-checksum-* algorithms S3 defines.
enum class ChecksumAlgorithm { kNone, kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256 };

// "CRC32" etc. as in x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm.
std::string_view ChecksumName(ChecksumAlgorithm algorithm);
// "x-amz-checksum-crc32" etc.
std::string_view ChecksumHeader(ChecksumAlgorithm algorithm);
// Parses "CRC32"/"crc32" (algorithm names) ; nullopt when unknown.
std::optional<ChecksumAlgorithm> ParseChecksumName(std::string_view name);
// Parses "x-amz-checksum-crc32" (lower case header name); nullopt when unknown.
std::optional<ChecksumAlgorithm> ParseChecksumHeader(std::string_view header);
// Raw digest length in bytes.
size_t ChecksumSize(ChecksumAlgorithm algorithm);

// An incremental hash: Update any number of times, then Finish once.
class Hasher {
 public:
  virtual ~Hasher() = default;
  virtual void Update(std::string_view data) = 0;
  virtual std::string Finish() = 0;  // raw digest bytes
};

std::unique_ptr<Hasher> NewMd5();
std::unique_ptr<Hasher> NewSha256();
std::unique_ptr<Hasher> NewChecksum(ChecksumAlgorithm algorithm);

std::string Md5(std::string_view data);
std::string Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
// For Signature Version 2 only.
std::string HmacSha1(std::string_view key, std::string_view data);

uint32_t Crc32(uint32_t crc, std::string_view data);
uint32_t Crc32c(uint32_t crc, std::string_view data);
uint64_t Crc64Nvme(uint64_t crc, std::string_view data);

// Constant-time equality for secrets and signatures.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Random bytes from the OS CSPRNG (OpenSSL RAND_bytes); aborts on failure (start-up only).
std::string RandomBytes(size_t n);

}  // namespace logbucket
