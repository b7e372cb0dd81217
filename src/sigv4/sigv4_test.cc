// SigV4 against the examples AWS publishes in "Authenticating Requests: Using the Authorization
// Header" (GET object), "Transferring Payload in Multiple Chunks" (aws-chunked) and "Using Query
// Parameters" (presigned URL). Keys and expected signatures are AWS's.
#include "sigv4/sigv4.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace logbucket::sigv4 {
namespace {

constexpr char kAccess[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

SecretLookup Lookup() {
  return [](std::string_view key) -> std::optional<std::string> {
    if (key == kAccess) return std::string(kSecret);
    return std::nullopt;
  };
}

int64_t ExampleTime() { return *ParseAmzDate("20130524T000000Z"); }

TEST(SigV4, AwsGetObjectExample) {
  Headers headers = {
      {"host", "examplebucket.s3.amazonaws.com"},
      {"range", "bytes=0-9"},
      {"x-amz-content-sha256", std::string(kEmptySha256)},
      {"x-amz-date", "20130524T000000Z"},
      {"authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}};
  RequestView view{"GET", "/test.txt", "", &headers};
  auto auth = Verify(view, {}, Lookup(), ExampleTime());
  ASSERT_TRUE(auth.has_value()) << auth.error().ToString();
  EXPECT_EQ(auth->access_key, kAccess);
  EXPECT_EQ(auth->payload_mode, PayloadMode::kSha256);
}

TEST(SigV4, WrongSignatureIsRejectedWithStringToSign) {
  Headers headers = {
      {"host", "examplebucket.s3.amazonaws.com"},
      {"range", "bytes=0-9"},
      {"x-amz-content-sha256", std::string(kEmptySha256)},
      {"x-amz-date", "20130524T000000Z"},
      {"authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb42"}};
  RequestView view{"GET", "/test.txt", "", &headers};
  MismatchDetails details;
  auto auth = Verify(view, {}, Lookup(), ExampleTime(), &details);
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().code(), ErrorCode::kSignatureDoesNotMatch);
  EXPECT_EQ(details.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
}

TEST(SigV4, UnknownKeyAndSkew) {
  Headers headers = {{"host", "examplebucket.s3.amazonaws.com"},
                     {"x-amz-content-sha256", std::string(kEmptySha256)},
                     {"x-amz-date", "20130524T000000Z"},
                     {"authorization",
                      "AWS4-HMAC-SHA256 Credential=NOPE/20130524/us-east-1/s3/aws4_request,"
                      "SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=00"}};
  RequestView view{"GET", "/test.txt", "", &headers};
  auto auth = Verify(view, {}, Lookup(), ExampleTime());
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().code(), ErrorCode::kInvalidAccessKeyId);
  auto skewed = Verify(view, {}, Lookup(), ExampleTime() + 16 * 60 * 1000);
  ASSERT_FALSE(skewed.has_value());
  EXPECT_EQ(skewed.error().code(), ErrorCode::kRequestTimeTooSkewed);
  auto within = Verify(view, {}, Lookup(), ExampleTime() + 14 * 60 * 1000);
  EXPECT_EQ(within.error().code(), ErrorCode::kInvalidAccessKeyId);
}

TEST(SigV4, AwsPresignedExample) {
  std::string raw_query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
      "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
      "SignedHeaders=host&X-Amz-Signature="
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  Headers headers = {{"host", "examplebucket.s3.amazonaws.com"}};
  auto query = ParseQuery(raw_query);
  ASSERT_TRUE(query.has_value());
  RequestView view{"GET", "/test.txt", raw_query, &headers};
  auto auth = Verify(view, *query, Lookup(), ExampleTime() + 3600 * 1000);
  ASSERT_TRUE(auth.has_value()) << auth.error().ToString();
  EXPECT_TRUE(auth->presigned);
  auto expired = Verify(view, *query, Lookup(), ExampleTime() + 86401LL * 1000);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code(), ErrorCode::kExpiredPresignedRequest);
  // Our own presigner produces the same URL.
  ClientCredentials creds{kAccess, kSecret, "us-east-1"};
  EXPECT_EQ(PresignQuery("GET", "/test.txt", "", "examplebucket.s3.amazonaws.com", creds,
                         ExampleTime(), 86400),
            CanonicalQuery(*query, "X-Amz-Signature") +
                "&X-Amz-Signature="
                "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// The aws-chunked example: 66560 bytes of 'a' in chunks of 65536, 1024 and 0.
TEST(SigV4, AwsChunkedExample) {
  Headers headers = {
      {"host", "s3.amazonaws.com"},
      {"x-amz-date", "20130524T000000Z"},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
      {"content-encoding", "aws-chunked"},
      {"x-amz-decoded-content-length", "66560"},
      {"content-length", "66824"},
      {"authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
       "x-amz-decoded-content-length;x-amz-storage-class,"
       "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"}};
  RequestView view{"PUT", "/examplebucket/chunkObject.txt", "", &headers};
  auto auth = Verify(view, {}, Lookup(), ExampleTime());
  ASSERT_TRUE(auth.has_value()) << auth.error().ToString();
  ASSERT_EQ(auth->payload_mode, PayloadMode::kStreamingSigned);

  std::string body;
  body +=
      "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n";
  body += std::string(65536, 'a') + "\r\n";
  body +=
      "400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n";
  body += std::string(1024, 'a') + "\r\n";
  body +=
      "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n";
  ASSERT_EQ(body.size(), 66824u);

  // Feed it in awkward pieces: the decoder must not care where reads split.
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}, body.size()}) {
    ChunkedDecoder decoder(auth->payload_mode, auth->signing);
    std::string out;
    for (size_t i = 0; i < body.size(); i += step) {
      Status s = decoder.Feed(std::string_view(body).substr(i, step), out);
      ASSERT_TRUE(s.ok()) << s.ToString() << " step " << step;
    }
    EXPECT_TRUE(decoder.done());
    EXPECT_EQ(out, std::string(66560, 'a'));
  }

  // One flipped byte of data breaks that chunk's signature.
  std::string tampered = body;
  tampered[100] = 'b';
  ChunkedDecoder decoder(auth->payload_mode, auth->signing);
  std::string out;
  EXPECT_EQ(decoder.Feed(tampered, out).code(), ErrorCode::kSignatureDoesNotMatch);
}

TEST(SigV4, UnsignedTrailerDecodes) {
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  ChunkedDecoder decoder(PayloadMode::kStreamingUnsignedTrailer, {});
  std::string out;
  ASSERT_TRUE(decoder.Feed(body, out).ok());
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(out, "hello world");
  ASSERT_EQ(decoder.trailers().size(), 1u);
  EXPECT_EQ(decoder.trailers()[0].name, "x-amz-checksum-crc32");
  EXPECT_EQ(decoder.trailers()[0].value, "DUoRhQ==");
}

TEST(SigV4, TruncatedOrMalformedChunkedIsNotDone) {
  ChunkedDecoder decoder(PayloadMode::kStreamingUnsignedTrailer, {});
  std::string out;
  ASSERT_TRUE(decoder.Feed("5\r\nhel", out).ok());
  EXPECT_FALSE(decoder.done());
  ChunkedDecoder bad(PayloadMode::kStreamingUnsignedTrailer, {});
  EXPECT_FALSE(bad.Feed("zz\r\nhello\r\n", out).ok());
  ChunkedDecoder overlong(PayloadMode::kStreamingUnsignedTrailer, {});
  EXPECT_FALSE(overlong.Feed("5\r\nhelloXX", out).ok());
}

TEST(SigV4, SignedTrailerRoundTrip) {
  // Build a signed-trailer body with our own signer primitives and check the decoder accepts it
  // and rejects a changed trailer value.
  SigningContext ctx{SigningKey(kSecret, "20130524", "us-east-1", "s3"),
                     "20130524/us-east-1/s3/aws4_request", "20130524T000000Z",
                     "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"};
  auto sign_chunk = [&](const std::string& prev, std::string_view data) {
    return HexEncode(HmacSha256(ctx.signing_key, ChunkStringToSign(ctx, prev, Sha256Hex(data))));
  };
  std::string s1 = sign_chunk(ctx.seed_signature, "hello");
  std::string s2 = sign_chunk(s1, "");
  std::string trailer = "x-amz-checksum-crc32:NhCmhg==\n";
  std::string trailer_sig =
      HexEncode(HmacSha256(ctx.signing_key, "AWS4-HMAC-SHA256-TRAILER\n" + ctx.amz_date + "\n" +
                                                ctx.scope + "\n" + s2 + "\n" + Sha256Hex(trailer)));
  std::string body = "5;chunk-signature=" + s1 + "\r\nhello\r\n0;chunk-signature=" + s2 +
                     "\r\nx-amz-checksum-crc32:NhCmhg==\r\nx-amz-trailer-signature:" + trailer_sig +
                     "\r\n\r\n";
  ChunkedDecoder decoder(PayloadMode::kStreamingSignedTrailer, ctx);
  std::string out;
  Status s = decoder.Feed(body, out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(decoder.done());
  EXPECT_EQ(out, "hello");
  std::string changed = body;
  changed.replace(changed.find("NhCmhg=="), 8, "AAAAAA==");
  ChunkedDecoder decoder2(PayloadMode::kStreamingSignedTrailer, ctx);
  EXPECT_EQ(decoder2.Feed(changed, out).code(), ErrorCode::kSignatureDoesNotMatch);
}

TEST(SigV4, CanonicalisationEdgeCases) {
  // Spaces, '+', '~', UTF-8 and reserved characters are encoded exactly once.
  EXPECT_EQ(CanonicalUri("/b/a%20b+c~d"), "/b/a%20b%2Bc~d");
  EXPECT_EQ(CanonicalUri("/b/%E2%82%AC//x/../y"), "/b/%E2%82%AC//x/../y");
  EXPECT_EQ(CanonicalUri("/b/a%2Fb"), "/b/a/b");
  auto q = ParseQuery("prefix=a%20b&list-type=2&acl&delimiter=%2F&empty=");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(CanonicalQuery(*q), "acl=&delimiter=%2F&empty=&list-type=2&prefix=a%20b");
  EXPECT_EQ(CanonicalQuery(*ParseQuery("k=b&k=a")), "k=a&k=b");
  EXPECT_FALSE(ParseQuery("a=%zz").has_value());

  // Repeated headers are joined with ',' and inner runs of spaces folded.
  ClientCredentials creds{kAccess, kSecret, "us-east-1"};
  Headers signed_headers = {{"host", "h"}, {"x-amz-meta-a", "  x   y "}, {"x-amz-meta-a", "z"}};
  SignHeaders("PUT", "/b/k", "", signed_headers, kUnsignedPayload, creds, ExampleTime());
  RequestView view{"PUT", "/b/k", "", &signed_headers};
  auto auth = Verify(view, {}, Lookup(), ExampleTime());
  EXPECT_TRUE(auth.has_value()) << auth.error().ToString();
  signed_headers[1].value = "x y z";
  EXPECT_FALSE(Verify(view, {}, Lookup(), ExampleTime()).has_value());
}

}  // namespace
}  // namespace logbucket::sigv4
