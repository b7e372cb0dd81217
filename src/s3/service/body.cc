#include "s3/service/impl.h"

namespace logbucket::s3 {

// `checksum_headers`: whether x-amz-checksum-<algorithm> describes this body (it describes
// the whole object on CompleteMultipartUpload, whose body is the part list).
Result<Service::Impl::ReceivedBody> Service::Impl::ReceiveBody(
    Context& ctx, uint64_t max_bytes, ChecksumAlgorithm default_algorithm,
    const std::function<Status(std::string_view)>& sink, bool checksum_headers) {
  Request& req = ctx.request;
  const sigv4::PayloadMode mode = ctx.auth.payload_mode;
  const bool streaming = sigv4::IsStreaming(mode);
  std::optional<uint64_t> expected_size;
  if (streaming) {
    auto decoded = ctx.Header("x-amz-decoded-content-length");
    auto n = decoded ? ParseDecimal(*decoded) : std::nullopt;
    if (!n) {
      return Error(ErrorCode::kMissingContentLength,
                   "aws-chunked uploads need x-amz-decoded-content-length.");
    }
    expected_size = static_cast<uint64_t>(*n);
  } else if (req.content_length) {
    expected_size = *req.content_length;
  } else if (req.has_body && !FindHeader(req.headers, "transfer-encoding")) {
    return Error(ErrorCode::kMissingContentLength);
  }
  if (expected_size && *expected_size > max_bytes) return Error(ErrorCode::kEntityTooLarge);

  // Which checksum: a header with the value, a trailer announced by x-amz-trailer, or just
  // an algorithm to compute (x-amz-sdk-checksum-algorithm, or the upload's).
  ChecksumAlgorithm algorithm = ChecksumAlgorithm::kNone;
  std::string expected_checksum;
  bool checksum_in_trailer = false;
  for (const Header& h : req.headers) {
    if (!checksum_headers) break;
    if (auto a = ParseChecksumHeader(h.name)) {
      if (algorithm != ChecksumAlgorithm::kNone) {
        return Error(ErrorCode::kInvalidRequest, "Expecting a single x-amz-checksum- header.");
      }
      algorithm = *a;
      expected_checksum = h.value;
    }
  }
  if (auto trailer = ctx.Header("x-amz-trailer")) {
    auto a = ParseChecksumHeader(AsciiLower(TrimWhitespace(*trailer)));
    if (!a) {
      return Error(ErrorCode::kInvalidRequest,
                   "x-amz-trailer names an unsupported trailer: " + std::string(*trailer));
    }
    if (!streaming) {
      return Error(ErrorCode::kInvalidRequest, "x-amz-trailer needs an aws-chunked body.");
    }
    algorithm = *a;
    checksum_in_trailer = true;
  }
  if (algorithm == ChecksumAlgorithm::kNone) {
    for (const char* name : {"x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"}) {
      if (auto v = ctx.Header(name)) {
        auto a = ParseChecksumName(*v);
        if (!a)
          return Error(ErrorCode::kInvalidRequest, "Unknown checksum algorithm " + std::string(*v));
        algorithm = *a;
      }
    }
  }
  if (algorithm == ChecksumAlgorithm::kNone) algorithm = default_algorithm;
  if (!expected_checksum.empty()) {
    auto raw = Base64Decode(expected_checksum);
    if (!raw || raw->size() != ChecksumSize(algorithm)) {
      return Error(ErrorCode::kInvalidRequest, "Value for x-amz-checksum-" +
                                                   AsciiLower(ChecksumName(algorithm)) +
                                                   " header is invalid.");
    }
  }
  std::optional<std::string> content_md5;
  if (auto v = ctx.Header("content-md5")) {
    auto raw = Base64Decode(TrimWhitespace(*v));
    if (!raw || raw->size() != 16) return Error(ErrorCode::kInvalidDigest);
    content_md5 = *raw;
  }

  auto md5 = NewMd5();
  std::unique_ptr<Hasher> sha256;
  if (mode == sigv4::PayloadMode::kSha256) sha256 = NewSha256();
  std::unique_ptr<Hasher> checksum;
  if (algorithm != ChecksumAlgorithm::kNone) checksum = NewChecksum(algorithm);
  std::optional<sigv4::ChunkedDecoder> decoder;
  if (streaming) decoder.emplace(mode, ctx.auth.signing);

  uint64_t total = 0;
  auto consume = [&](std::string_view data) -> Status {
    if (data.empty()) return Status::Ok();
    total += data.size();
    if (total > max_bytes) return Error(ErrorCode::kEntityTooLarge);
    md5->Update(data);
    if (sha256) sha256->Update(data);
    if (checksum) checksum->Update(data);
    return sink(data);
  };
  std::string buffer(kIoBuffer, '\0');
  std::string decoded;
  if (req.has_body) {
    while (true) {
      auto n = req.body->Read(buffer.data(), buffer.size());
      if (!n) return n.error();
      if (*n == 0) break;
      std::string_view chunk(buffer.data(), *n);
      if (decoder) {
        decoded.clear();
        LB_RETURN_IF_ERROR(decoder->Feed(chunk, decoded));
        LB_RETURN_IF_ERROR(consume(decoded));
      } else {
        LB_RETURN_IF_ERROR(consume(chunk));
      }
    }
  }
  if (decoder && !decoder->done()) {
    return Error(ErrorCode::kIncompleteBody, "The aws-chunked body ended before its final chunk.");
  }
  if (expected_size && total != *expected_size) {
    return Error(ErrorCode::kIncompleteBody, "Received " + std::to_string(total) +
                                                 " bytes, expected " +
                                                 std::to_string(*expected_size) + ".");
  }
  if (sha256 && HexEncode(sha256->Finish()) != ctx.auth.payload_sha256) {
    return Error(ErrorCode::kXAmzContentSHA256Mismatch);
  }
  ReceivedBody body;
  body.size = total;
  std::string md5_raw = md5->Finish();
  body.md5_hex = HexEncode(md5_raw);
  if (content_md5 && *content_md5 != md5_raw) return Error(ErrorCode::kBadDigest);
  if (checksum_in_trailer) {
    for (const Header& t : decoder->trailers()) {
      if (t.name == ChecksumHeader(algorithm)) expected_checksum = t.value;
    }
    if (expected_checksum.empty()) {
      return Error(ErrorCode::kInvalidRequest,
                   "The trailer " + std::string(ChecksumHeader(algorithm)) + " is missing.");
    }
  }
  if (checksum) {
    std::string actual = Base64Encode(checksum->Finish());
    if (!expected_checksum.empty() && actual != expected_checksum) {
      return Error(ErrorCode::kXAmzContentChecksumMismatch,
                   "The " + std::string(ChecksumName(algorithm)) +
                       " you specified did not match the calculated checksum.");
    }
    body.checksum = {algorithm, actual, "FULL_OBJECT"};
  }
  return body;
}

Result<std::string> Service::Impl::ReadSmallBody(Context& ctx, bool checksum_headers) {
  std::string out;
  auto received = ReceiveBody(
      ctx, options.s3.max_xml_bytes, ChecksumAlgorithm::kNone,
      [&](std::string_view d) {
        out.append(d);
        return Status::Ok();
      },
      checksum_headers);
  if (!received) {
    if (received.error().code() == ErrorCode::kEntityTooLarge) {
      return Error(ErrorCode::kMalformedXML, "The XML body is larger than allowed.");
    }
    return received.error();
  }
  return out;
}

}  // namespace logbucket::s3
