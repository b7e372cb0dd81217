#include "s3/service/impl.h"

namespace logbucket::s3 {

std::string Quote(std::string_view etag) { return "\"" + std::string(etag) + "\""; }

Status CheckConditions(const Headers& headers, const ObjectInfo& info, std::string_view prefix) {
  auto get = [&](std::string_view name) {
    return FindHeader(headers, std::string(prefix) + std::string(name));
  };
  const bool copy = !prefix.empty();
  int64_t modified_s = info.last_modified_ms / 1000;
  auto if_match = get("if-match");
  auto if_none_match = get("if-none-match");
  if (if_match && !store::EtagListMatches(*if_match, info.etag))
    return Error(ErrorCode::kPreconditionFailed);
  if (!if_match) {
    if (auto v = get("if-unmodified-since")) {
      auto t = ParseHttpDate(*v);
      if (t && modified_s > *t / 1000) return Error(ErrorCode::kPreconditionFailed);
    }
  }
  if (if_none_match && store::EtagListMatches(*if_none_match, info.etag)) {
    return Error(copy ? ErrorCode::kPreconditionFailed : ErrorCode::kNotModified);
  }
  if (!if_none_match) {
    if (auto v = get("if-modified-since")) {
      auto t = ParseHttpDate(*v);
      if (t && modified_s <= *t / 1000) {
        return Error(copy ? ErrorCode::kPreconditionFailed : ErrorCode::kNotModified);
      }
    }
  }
  return Status::Ok();
}

std::optional<uint64_t> ParseBytePosition(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return std::nullopt;
    auto digit = static_cast<uint64_t>(ch - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      value = UINT64_MAX;  // saturate; keep checking that the rest are digits
    } else {
      value = value * 10 + digit;
    }
  }
  return value;
}

Result<std::optional<ByteRange>> ParseRange(std::string_view value, uint64_t size) {
  value = TrimWhitespace(value);
  if (value.substr(0, 6) != "bytes=" || value.find(',') != std::string_view::npos) {
    return std::optional<ByteRange>();
  }
  value.remove_prefix(6);
  size_t dash = value.find('-');
  if (dash == std::string_view::npos) return std::optional<ByteRange>();
  std::string_view a = TrimWhitespace(value.substr(0, dash));
  std::string_view b = TrimWhitespace(value.substr(dash + 1));
  if (a.empty()) {
    auto n = ParseBytePosition(b);
    if (!n) return std::optional<ByteRange>();
    if (*n == 0 || size == 0) return Error(ErrorCode::kInvalidRange);
    uint64_t len = std::min<uint64_t>(*n, size);
    return std::optional<ByteRange>(ByteRange{size - len, len});
  }
  auto first = ParseBytePosition(a);
  if (!first) return std::optional<ByteRange>();
  std::optional<uint64_t> last;
  if (!b.empty()) {
    last = ParseBytePosition(b);
    if (!last) return std::optional<ByteRange>();
    if (*last < *first) return std::optional<ByteRange>();  // syntactically invalid: ignore
  }
  if (*first >= size) return Error(ErrorCode::kInvalidRange);
  uint64_t end = last ? std::min<uint64_t>(*last, size - 1) : size - 1;
  return std::optional<ByteRange>(ByteRange{*first, end - *first + 1});
}

Result<ByteRange> ParseCopySourceRange(std::string_view value, uint64_t size) {
  auto bad = [] {
    return Error(ErrorCode::kInvalidArgument,
                 "The x-amz-copy-source-range value must be of the form bytes=first-last where "
                 "first and last are the zero-based offsets of the first and last bytes to copy");
  };
  value = TrimWhitespace(value);
  if (value.substr(0, 6) != "bytes=") return bad();
  value.remove_prefix(6);
  size_t dash = value.find('-');
  if (dash == std::string_view::npos) return bad();
  int64_t first = ParseDecimal(value.substr(0, dash)).value_or(-1);
  int64_t last = ParseDecimal(value.substr(dash + 1)).value_or(-1);
  if (first < 0 || last < first) return bad();
  if (static_cast<uint64_t>(last) >= size) {
    return Error(ErrorCode::kInvalidRange,
                 "The x-amz-copy-source-range is beyond the source object.");
  }
  return ByteRange{static_cast<uint64_t>(first), static_cast<uint64_t>(last - first + 1)};
}

Response ErrorResponse(const Context* ctx, const Request& request, const Failure& failure) {
  const Status& status = failure.status;
  const ErrorInfo& info = Describe(status.code());
  Response r;
  r.status = info.http_status;
  r.log_error = std::string(info.s3_code);
  // Server-side failures (5xx) are described in the server's log, never to the client: their
  // messages carry paths and OS errors ("write /srv/data/tmp/…: No space left on device").
  bool generic = status.message().empty() || info.http_status >= 500;
  if (info.http_status >= 500 && !status.message().empty()) {
    r.log_error += " (" + std::string(status.message()) + ")";
  }
  if (status.code() == ErrorCode::kNotModified) return r;
  r.SetHeader("content-type", "application/xml");
  XmlWriter xml("Error", /*with_namespace=*/false);
  xml.Element("Code", info.s3_code);
  xml.Element("Message", generic ? info.message : std::string_view(status.message()));
  if (ctx != nullptr) {
    const Endpoint& ep = ctx->endpoint;
    if (status.code() == ErrorCode::kNoSuchBucket) xml.Element("BucketName", ep.bucket);
    if (status.code() == ErrorCode::kNoSuchKey) xml.Element("Key", ep.key);
    if (status.code() == ErrorCode::kNoSuchUpload) xml.Element("UploadId", ctx->Query("uploadId"));
  }
  if (status.code() == ErrorCode::kSignatureDoesNotMatch &&
      !failure.mismatch.string_to_sign.empty()) {
    xml.Element("StringToSign", failure.mismatch.string_to_sign);
    xml.Element("SignatureProvided", failure.mismatch.signature_provided);
    xml.Element("StringToSignBytes", HexEncode(failure.mismatch.string_to_sign));
    if (!failure.mismatch.canonical_request.empty()) {  // SigV4 only
      xml.Element("CanonicalRequest", failure.mismatch.canonical_request);
    }
  }
  if (status.code() == ErrorCode::kRequestTimeTooSkewed) {
    xml.Element("ServerTime", FormatIso8601(SystemClock::Instance().NowMs()));
  }
  xml.Element("Resource", request.raw_path);
  xml.Element("RequestId", request.request_id);
  r.body = xml.Finish();
  if (request.method == "HEAD") r.omit_body = true;
  if (status.code() == ErrorCode::kMethodNotAllowed)
    r.SetHeader("allow", "GET, HEAD, PUT, POST, DELETE");
  return r;
}

Response XmlResponse(std::string body, int status) {
  Response r;
  r.status = status;
  r.SetHeader("content-type", "application/xml");
  r.body = std::move(body);
  return r;
}

bool IsSafeHeaderValue(std::string_view value) {
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

Result<Headers> StoredHeadersFrom(const Headers& request_headers) {
  Headers out;
  size_t meta_bytes = 0;
  for (const Header& h : request_headers) {
    if (h.name == "x-amz-tagging") {
      // Object tags: validated and stored in one canonical encoding.
      auto tags = lifecycle::ParseTaggingHeader(h.value);
      if (!tags) return tags.error();
      if (!tags->empty()) out.push_back({h.name, lifecycle::EncodeTagSet(*tags)});
      continue;
    }
    bool keep = h.name.rfind("x-amz-meta-", 0) == 0;
    for (const char* name : kStoredHeaders) keep = keep || h.name == name;
    if (!keep) continue;
    if (!IsSafeHeaderValue(h.value)) {
      return Error(ErrorCode::kInvalidArgument, "Header " + h.name + " has control characters.");
    }
    if (h.name == "content-encoding") {
      // aws-chunked describes the transfer, not the object: dropped; the rest is kept as sent
      // ("deflate, gzip" comes back as it went).
      std::string rest;
      bool dropped = false;
      for (std::string_view token : Split(h.value, ',')) {
        token = TrimWhitespace(token);
        if (EqualsIgnoreCase(token, "aws-chunked")) dropped = true;
        if (token.empty() || EqualsIgnoreCase(token, "aws-chunked")) continue;
        if (!rest.empty()) rest += ", ";
        rest += token;
      }
      if (!dropped) rest = std::string(TrimWhitespace(h.value));
      if (!rest.empty()) out.push_back({h.name, rest});
      continue;
    }
    if (h.name.rfind("x-amz-meta-", 0) == 0) meta_bytes += h.name.size() - 11 + h.value.size();
    out.push_back(h);
  }
  if (meta_bytes > store::kMaxUserMetadataBytes) return Error(ErrorCode::kMetadataTooLarge);
  return out;
}

Status RejectUnsupportedHeaders(const Headers& headers) {
  for (const Header& h : headers) {
    if (h.name.rfind("x-amz-server-side-encryption", 0) == 0) {
      return Error(ErrorCode::kNotImplemented, "Server-side encryption is not supported.");
    }
    if (h.name.rfind("x-amz-object-lock-", 0) == 0) {
      return Error(ErrorCode::kNotImplemented, "Object lock is not supported.");
    }
  }
  return Status::Ok();
}

void AddObjectHeaders(Response& r, const ObjectInfo& info) {
  bool has_type = false;
  for (const Header& h : info.headers) {
    if (h.name == "x-amz-tagging") {
      r.SetHeader("x-amz-tagging-count", std::to_string(lifecycle::ParseTagSet(h.value).size()));
      continue;
    }
    if (h.name == kStoredAclHeader) continue;
    has_type = has_type || h.name == "content-type";
    r.headers.push_back(h);
  }
  if (!has_type) r.SetHeader("content-type", "binary/octet-stream");
  r.SetHeader("etag", Quote(info.etag));
  r.SetHeader("last-modified", FormatHttpDate(info.last_modified_ms));
  r.SetHeader("accept-ranges", "bytes");
  if (info.parts_count > 0) r.SetHeader("x-amz-mp-parts-count", std::to_string(info.parts_count));
}

void AddChecksumHeaders(Response& r, const store::Checksum& checksum) {
  if (checksum.algorithm == ChecksumAlgorithm::kNone || checksum.value.empty()) return;
  r.SetHeader(std::string(ChecksumHeader(checksum.algorithm)), checksum.value);
  if (!checksum.type.empty()) r.SetHeader("x-amz-checksum-type", checksum.type);
}

}  // namespace logbucket::s3
