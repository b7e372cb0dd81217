// AWS Signature Version 4 for S3: verification (server) and signing (clients: bench, push, admin
// commands, remote store). Reference: AWS "Authenticating Requests (AWS Signature Version 4)",
// including "Transferring Payload in Multiple Chunks" and "Using query parameters".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "common/headers.h"
#include "common/status.h"

namespace logbucket::sigv4 {

inline constexpr int64_t kMaxClockSkewMs = 15 * 60 * 1000;
inline constexpr int64_t kMaxPresignExpiresSeconds = 7 * 24 * 3600;
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingSignedTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// How the body is protected, from x-amz-content-sha256 (or presigned: always unsigned).
enum class PayloadMode {
  kUnsigned,                 // UNSIGNED-PAYLOAD
  kSha256,                   // hex SHA-256 of the body: verify after reading it
  kStreamingSigned,          // aws-chunked, every chunk signed
  kStreamingSignedTrailer,   // aws-chunked, signed chunks + signed trailer
  kStreamingUnsignedTrailer  // aws-chunked, unsigned chunks + trailer checksum
};

bool IsStreaming(PayloadMode mode);

// The parts of a request that take part in signing; all views into the caller's request.
struct RequestView {
  std::string_view method;
  std::string_view raw_path;   // percent-encoded as received, no query
  std::string_view raw_query;  // after '?', not decoded
  const Headers* headers = nullptr;
  // Virtual-hosted requests: the bucket their Host names (Signature Version 2 signs
  // "/bucket" + path); empty for path style.
  std::string_view host_bucket = {};
};

// The state chunk signatures chain from.
struct SigningContext {
  std::string signing_key;  // raw HMAC key for date/region/service
  std::string scope;        // 20130524/us-east-1/s3/aws4_request
  std::string amz_date;     // 20130524T000000Z
  std::string seed_signature;
};

// A verified request.
struct Authenticated {
  std::string access_key;
  PayloadMode payload_mode = PayloadMode::kUnsigned;
  std::string payload_sha256;  // hex, when kSha256
  SigningContext signing;      // for chunk signature verification
  bool presigned = false;
  int signature_version = 4;  // 2: legacy HMAC-SHA1 (no payload signing, no signing context)
};

// Filled when the signature does not match, for the SignatureDoesNotMatch body (AWS returns
// these so client authors can debug their canonicalisation).
struct MismatchDetails {
  std::string string_to_sign;
  std::string canonical_request;
  std::string signature_provided;
};

// Looks up the secret of an access key; nullopt when the key is unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key)>;

// True when the request carries credentials (SigV4 or V2, header or query); false = anonymous.
bool HasCredentials(const RequestView& request, const QueryParams& query);

// Verifies header or presigned query authentication, Signature Version 4 or 2 (`Authorization:
// AWS key:signature`, `?AWSAccessKeyId=&Expires=&Signature=`). `query` is the decoded query of
// `request`.
Result<Authenticated> Verify(const RequestView& request, const QueryParams& query,
                             const SecretLookup& lookup, int64_t now_ms,
                             MismatchDetails* details = nullptr);

// --- building blocks (public for tests and the client-side signer) ---

// The x-amz-content-sha256 values: UNSIGNED-PAYLOAD, STREAMING-*, or a hex SHA-256.
Result<PayloadMode> ParsePayloadMode(std::string_view value);
// RequestTimeTooSkewed unless request_ms is within kMaxClockSkewMs of now_ms.
Status CheckSkew(int64_t request_ms, int64_t now_ms);
// Signature Version 2 (sigv2.cc), header and query-string forms.
Result<Authenticated> VerifyV2Header(const RequestView& request, const QueryParams& query,
                                     std::string_view authorization, const SecretLookup& lookup,
                                     int64_t now_ms, MismatchDetails* details);
Result<Authenticated> VerifyV2Query(const RequestView& request, const QueryParams& query,
                                    const SecretLookup& lookup, int64_t now_ms,
                                    MismatchDetails* details);

std::string CanonicalUri(std::string_view raw_path);  // decode, then UriEncode keep '/'
std::string CanonicalQuery(const QueryParams& query,  // sorted, strictly encoded
                           std::string_view skip_key = {});
// Decodes a raw query string ("a=b&c"); '+' is a space as in form encoding. nullopt if malformed.
std::optional<QueryParams> ParseQuery(std::string_view raw_query);
std::string SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service);
std::string ChunkStringToSign(const SigningContext& ctx, std::string_view previous_signature,
                              std::string_view chunk_sha256_hex);

// --- client side ---

struct ClientCredentials {
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
};

// Adds x-amz-date, x-amz-content-sha256 and Authorization to `headers` (which must contain
// host). raw_path must already be percent-encoded the way it goes on the wire.
void SignHeaders(std::string_view method, std::string_view raw_path, std::string_view raw_query,
                 Headers& headers, std::string_view payload_sha256, const ClientCredentials& creds,
                 int64_t now_ms);

// Returns the query string (without '?') of a presigned URL for method/path on host.
std::string PresignQuery(std::string_view method, std::string_view raw_path,
                         std::string_view raw_query, std::string_view host,
                         const ClientCredentials& creds, int64_t now_ms, int64_t expires_seconds);

// Decodes an aws-chunked body incrementally: Feed() any split of the wire bytes; decoded payload
// is appended to `out`. Chunk signatures (signed modes) are verified as each chunk completes;
// trailers are collected and, for the signed-trailer mode, their signature verified.
class ChunkedDecoder {
 public:
  // For unsigned-trailer mode the context is ignored.
  ChunkedDecoder(PayloadMode mode, SigningContext context);

  Status Feed(std::string_view input, std::string& out);
  bool done() const { return state_ == State::kDone; }
  // Trailing headers (lower-case names), e.g. x-amz-checksum-crc32.
  const Headers& trailers() const { return trailers_; }
  uint64_t decoded_bytes() const { return decoded_bytes_; }

 private:
  enum class State { kSizeLine, kData, kDataCr, kDataLf, kTrailerLine, kDone };
  Status FinishSizeLine();
  Status FinishChunk();
  Status FinishTrailerLine();

  PayloadMode mode_;
  SigningContext context_;
  std::string previous_signature_;
  State state_ = State::kSizeLine;
  std::string line_;
  uint64_t remaining_ = 0;
  bool last_chunk_ = false;
  std::string chunk_signature_;
  std::unique_ptr<Hasher> chunk_hash_;
  Headers trailers_;
  std::string trailer_signature_;
  uint64_t decoded_bytes_ = 0;
  size_t trailer_bytes_ = 0;
};

}  // namespace logbucket::sigv4
