#include "common/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <array>
#include <cstdlib>
#include <initializer_list>
#include <stdexcept>

#include "common/encoding.h"

namespace logbucket {
namespace {

// Digest implementations fetched once: OpenSSL 3 otherwise looks the algorithm up (with locks)
// on every EVP_sha256()-style init, which shows in per-request profiles.
const EVP_MD* Fetched(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) throw std::runtime_error(std::string("OpenSSL has no ") + name);
  return md;  // kept for the life of the process
}
const EVP_MD* Md5Md() {
  static const EVP_MD* md = Fetched("MD5");
  return md;
}
const EVP_MD* Sha1Md() {
  static const EVP_MD* md = Fetched("SHA1");
  return md;
}
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = Fetched("SHA256");
  return md;
}

class EvpHasher final : public Hasher {
 public:
  explicit EvpHasher(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md, nullptr) != 1) {
      throw std::runtime_error("EVP_DigestInit_ex failed");
    }
  }
  ~EvpHasher() override { EVP_MD_CTX_free(ctx_); }
  EvpHasher(const EvpHasher&) = delete;
  EvpHasher& operator=(const EvpHasher&) = delete;

  void Update(std::string_view data) override { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string Finish() override {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string BigEndian(uint64_t value, int bytes) {
  std::string out(bytes, '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

class Crc32Hasher final : public Hasher {
 public:
  void Update(std::string_view data) override { crc_ = Crc32(crc_, data); }
  std::string Finish() override { return BigEndian(crc_, 4); }

 private:
  uint32_t crc_ = 0;
};

class Crc32cHasher final : public Hasher {
 public:
  void Update(std::string_view data) override { crc_ = Crc32c(crc_, data); }
  std::string Finish() override { return BigEndian(crc_, 4); }

 private:
  uint32_t crc_ = 0;
};

class Crc64Hasher final : public Hasher {
 public:
  void Update(std::string_view data) override { crc_ = Crc64Nvme(crc_, data); }
  std::string Finish() override { return BigEndian(crc_, 8); }

 private:
  uint64_t crc_ = 0;
};

// Slicing-by-8 tables for a reflected CRC with polynomial `poly`.
template <typename T>
struct CrcTables {
  std::array<std::array<T, 256>, 8> t{};
  explicit constexpr CrcTables(T poly) {
    for (unsigned i = 0; i < 256; ++i) {
      T crc = i;
      for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ poly : crc >> 1;
      t[0][i] = crc;
    }
    for (unsigned i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};

template <typename T>
T ReflectedCrc(const CrcTables<T>& tables, T crc, std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  crc = ~crc;
  while (n >= 8) {
    uint64_t word = 0;
    for (int i = 0; i < 8; ++i) word |= static_cast<uint64_t>(p[i]) << (8 * i);
    word ^= static_cast<uint64_t>(crc);
    crc = tables.t[7][word & 0xff] ^ tables.t[6][(word >> 8) & 0xff] ^
          tables.t[5][(word >> 16) & 0xff] ^ tables.t[4][(word >> 24) & 0xff] ^
          tables.t[3][(word >> 32) & 0xff] ^ tables.t[2][(word >> 40) & 0xff] ^
          tables.t[1][(word >> 48) & 0xff] ^ tables.t[0][(word >> 56) & 0xff];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = tables.t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

const CrcTables<uint32_t> kCrc32cTables(0x82F63B78u);
const CrcTables<uint64_t> kCrc64NvmeTables(0x9A6C9329AC4BC9B5ull);

}  // namespace

std::string_view ChecksumName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return "CRC32";
    case ChecksumAlgorithm::kCrc32c:
      return "CRC32C";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "CRC64NVME";
    case ChecksumAlgorithm::kSha1:
      return "SHA1";
    case ChecksumAlgorithm::kSha256:
      return "SHA256";
    case ChecksumAlgorithm::kNone:
      break;
  }
  return "";
}

std::string_view ChecksumHeader(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return "x-amz-checksum-crc32";
    case ChecksumAlgorithm::kCrc32c:
      return "x-amz-checksum-crc32c";
    case ChecksumAlgorithm::kCrc64Nvme:
      return "x-amz-checksum-crc64nvme";
    case ChecksumAlgorithm::kSha1:
      return "x-amz-checksum-sha1";
    case ChecksumAlgorithm::kSha256:
      return "x-amz-checksum-sha256";
    case ChecksumAlgorithm::kNone:
      break;
  }
  return "";
}

std::optional<ChecksumAlgorithm> ParseChecksumName(std::string_view name) {
  std::string upper = AsciiUpper(name);
  for (auto a :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
        ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    if (upper == ChecksumName(a)) return a;
  }
  return std::nullopt;
}

std::optional<ChecksumAlgorithm> ParseChecksumHeader(std::string_view header) {
  for (auto a :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
        ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    if (header == ChecksumHeader(a)) return a;
  }
  return std::nullopt;
}

size_t ChecksumSize(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c:
      return 4;
    case ChecksumAlgorithm::kCrc64Nvme:
      return 8;
    case ChecksumAlgorithm::kSha1:
      return 20;
    case ChecksumAlgorithm::kSha256:
      return 32;
    case ChecksumAlgorithm::kNone:
      break;
  }
  return 0;
}

std::unique_ptr<Hasher> NewMd5() { return std::make_unique<EvpHasher>(Md5Md()); }
std::unique_ptr<Hasher> NewSha256() { return std::make_unique<EvpHasher>(Sha256Md()); }

std::unique_ptr<Hasher> NewChecksum(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return std::make_unique<Crc32Hasher>();
    case ChecksumAlgorithm::kCrc32c:
      return std::make_unique<Crc32cHasher>();
    case ChecksumAlgorithm::kCrc64Nvme:
      return std::make_unique<Crc64Hasher>();
    case ChecksumAlgorithm::kSha1:
      return std::make_unique<EvpHasher>(Sha1Md());
    case ChecksumAlgorithm::kSha256:
      return std::make_unique<EvpHasher>(Sha256Md());
    case ChecksumAlgorithm::kNone:
      break;
  }
  return nullptr;
}

namespace {

std::string OneShot(const EVP_MD* md, std::initializer_list<std::string_view> parts) {
  // Reused within a thread, freed when the thread ends (worker threads come and go).
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                           &EVP_MD_CTX_free);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx.get(), md, nullptr);
  for (std::string_view p : parts) EVP_DigestUpdate(ctx.get(), p.data(), p.size());
  EVP_DigestFinal_ex(ctx.get(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::string Md5(std::string_view data) { return OneShot(Md5Md(), {data}); }

std::string Sha256(std::string_view data) { return OneShot(Sha256Md(), {data}); }

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

namespace {

// HMAC as RFC 2104 defines it, on a fetched digest (SigV4 computes several per request;
// OpenSSL's HMAC() sets up a provider MAC context each time). Both digests have 64-byte blocks.
std::string Hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  constexpr size_t kBlock = 64;
  std::string k = key.size() > kBlock ? OneShot(md, {key}) : std::string(key);
  k.resize(kBlock, '\0');
  std::string inner_pad(kBlock, '\0');
  std::string outer_pad(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    inner_pad[i] = static_cast<char>(k[i] ^ 0x36);
    outer_pad[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  std::string inner = OneShot(md, {inner_pad, data});
  return OneShot(md, {outer_pad, inner});
}

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  return Hmac(Sha256Md(), key, data);
}

std::string HmacSha1(std::string_view key, std::string_view data) {
  return Hmac(Sha1Md(), key, data);
}

uint32_t Crc32(uint32_t crc, std::string_view data) {
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  size_t n = data.size();
  while (n > 0) {  // zlib takes uInt lengths
    uInt chunk = n > (1u << 30) ? (1u << 30) : static_cast<uInt>(n);
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}

uint32_t Crc32c(uint32_t crc, std::string_view data) {
  return ReflectedCrc(kCrc32cTables, crc, data);
}

uint64_t Crc64Nvme(uint64_t crc, std::string_view data) {
  return ReflectedCrc(kCrc64NvmeTables, crc, data);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();
  }
  return out;
}

}  // namespace logbucket
