// aws-chunked decoding of untrusted bodies, in all three streaming modes, with the input split
// at an arbitrary point (the decoder must not care where socket reads end).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sigv4/sigv4.h"

using logbucket::sigv4::ChunkedDecoder;
using logbucket::sigv4::PayloadMode;
using logbucket::sigv4::SigningContext;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const SigningContext kContext{
      logbucket::sigv4::SigningKey("secret", "20130524", "us-east-1", "s3"),
      "20130524/us-east-1/s3/aws4_request", "20130524T000000Z",
      "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
  const PayloadMode modes[] = {PayloadMode::kStreamingUnsignedTrailer,
                               PayloadMode::kStreamingSigned, PayloadMode::kStreamingSignedTrailer};
  PayloadMode mode = modes[data[0] % 3];
  size_t split = data[1] % (size - 1);
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  ChunkedDecoder decoder(mode, kContext);
  std::string out;
  if (decoder.Feed(input.substr(0, split), out).ok()) (void)decoder.Feed(input.substr(split), out);
  // Invariant: never more output than input.
  if (out.size() > input.size()) __builtin_trap();
  return 0;
}
