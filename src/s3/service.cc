#include "s3/service.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/encoding.h"
#include "common/log.h"
#include "common/net.h"
#include "policy/policy.h"
#include "s3/access.h"
#include "s3/acl.h"
#include "s3/cors.h"
#include "s3/lifecycle.h"
#include "s3/router.h"
#include "s3/xml.h"
#include "sigv4/sigv4.h"

namespace logbucket::s3 {
namespace {

using http::Request;
using http::Response;
using store::ObjectInfo;

constexpr size_t kIoBuffer = 256 * 1024;
// Bodies without a file descriptor (inline objects of the embedded store) are sent from memory
// up to this size.
constexpr uint64_t kMaxBufferedBodyBytes = 1 << 20;
constexpr int kMaxListKeys = 1000;

// Headers stored with an object and returned on GET/HEAD.
constexpr std::array kStoredHeaders = {"content-type",  "content-disposition", "content-encoding",
                                       "cache-control", "content-language",    "expires"};

// A failed request: the status and, for SignatureDoesNotMatch, what AWS also reports.
struct Failure {
  Status status;
  sigv4::MismatchDetails mismatch;
};

struct Context {
  Request& request;
  QueryParams query;
  Endpoint endpoint;
  store::User user;
  sigv4::Authenticated auth;
  int64_t now_ms = 0;
  bool anonymous = false;
  std::string client_ip{};  // aws:SourceIp: the peer, or the client behind a trusted proxy
  bool secure_transport = false;
  std::optional<store::Bucket> bucket{};  // the endpoint's bucket, once authorisation loaded it
  std::optional<store::Bucket> other_bucket{};  // a copy source's bucket

  std::string_view Query(std::string_view key) const {
    const QueryParam* p = FindQuery(query, key);
    return p != nullptr ? std::string_view(p->value) : std::string_view();
  }
  bool HasQuery(std::string_view key) const { return FindQuery(query, key) != nullptr; }
  std::optional<std::string_view> Header(std::string_view name) const {
    return FindHeader(request.headers, name);
  }
};

std::string Quote(std::string_view etag) { return "\"" + std::string(etag) + "\""; }

// RFC 7232 evaluation order, as S3 applies it. prefix is "" for GET/HEAD and
// "x-amz-copy-source-" for copies (where "not modified" is also a 412).
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

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};

// A byte position of a Range header: digits only; a number past 2^64-1 is "beyond any object"
// (UINT64_MAX), not a syntax error that would turn "bytes=0-99999999999999999999" into a full
// 200 answer instead of the 206 RFC 9110 asks for.
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

// Parses "bytes=a-b", "bytes=a-", "bytes=-n". nullopt: no usable range (serve everything);
// an error: unsatisfiable.
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

// x-amz-copy-source-range: "bytes=first-last", both required, within the source.
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

Response XmlResponse(std::string body, int status = 200) {
  Response r;
  r.status = status;
  r.SetHeader("content-type", "application/xml");
  r.body = std::move(body);
  return r;
}

// A value that may go into a response header: no control characters (CR/LF would let the
// value start new headers; NUL would break the stored header encoding). HTAB is allowed.
bool IsSafeHeaderValue(std::string_view value) {
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Everything a stored object carries that the client set on upload.
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

// Rejects request headers that ask for features we do not offer, instead of ignoring them.
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

}  // namespace

struct Service::Impl {
  ServiceOptions options;
  store::Store& store;
  store::UserDirectory& users;
  std::vector<Cidr> trusted_proxies;
  DocumentCache<policy::Policy> policies;
  DocumentCache<cors::Configuration> cors_configs;
  DocumentCache<lifecycle::Configuration> lifecycles;
  DecisionLog decisions;
  Impl(ServiceOptions o, store::Store& s, store::UserDirectory& u)
      : options(std::move(o)), store(s), users(u) {
    for (const std::string& p : options.s3.trusted_proxies) {
      if (auto cidr = ParseCidr(p)) trusted_proxies.push_back(*cidr);  // validated by config
    }
  }

  // ----------------------------------------------------------------- request bodies

  // The body as the client meant it: aws-chunked decoded, hashed, checked. Bytes go to `sink`.
  struct ReceivedBody {
    uint64_t size = 0;
    std::string md5_hex;
    store::Checksum checksum;
  };

  // `checksum_headers`: whether x-amz-checksum-<algorithm> describes this body (it describes
  // the whole object on CompleteMultipartUpload, whose body is the part list).
  Result<ReceivedBody> ReceiveBody(Context& ctx, uint64_t max_bytes,
                                   ChecksumAlgorithm default_algorithm,
                                   const std::function<Status(std::string_view)>& sink,
                                   bool checksum_headers = true) {
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
            return Error(ErrorCode::kInvalidRequest,
                         "Unknown checksum algorithm " + std::string(*v));
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
      return Error(ErrorCode::kIncompleteBody,
                   "The aws-chunked body ended before its final chunk.");
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

  Result<std::string> ReadSmallBody(Context& ctx, bool checksum_headers = true) {
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

  // ----------------------------------------------------------------- access

  // Loads a bucket once per request into the context (the endpoint's bucket, or a copy
  // source's), and hands out a pointer to it: policy documents are not copied again.
  Result<const store::Bucket*> LoadBucket(Context& ctx, const std::string& name) {
    for (const auto* slot : {&ctx.bucket, &ctx.other_bucket}) {
      if (*slot && (*slot)->name == name) return &**slot;
    }
    auto b = store.GetBucket(name);
    if (!b) return b.error();
    auto& slot = name == ctx.endpoint.bucket ? ctx.bucket : ctx.other_bucket;
    slot = std::move(*b);
    return &*slot;
  }

  std::shared_ptr<const policy::Policy> ParsedPolicy(const store::Bucket& b) {
    if (b.policy.empty()) return nullptr;
    if (auto cached = policies.Find(b.name, b.policy)) return cached;
    auto parsed = policy::Policy::Parse(b.policy);
    if (!parsed) {
      // Validated when stored, so only a grammar change could get here: deny rather than guess.
      Log().error("bucket {}: stored policy no longer parses: {}", b.name,
                  parsed.error().message());
      return nullptr;
    }
    auto shared = std::make_shared<const policy::Policy>(std::move(*parsed));
    policies.Insert(b.name, b.policy, shared);
    return shared;
  }

  std::shared_ptr<const lifecycle::Configuration> ParsedLifecycle(const store::Bucket& b) {
    if (b.lifecycle.empty()) return nullptr;
    if (auto cached = lifecycles.Find(b.name, b.lifecycle)) return cached;
    auto parsed = lifecycle::Parse(b.lifecycle);
    if (!parsed) return nullptr;
    auto shared = std::make_shared<const lifecycle::Configuration>(std::move(*parsed));
    lifecycles.Insert(b.name, b.lifecycle, shared);
    return shared;
  }

  // The request as a policy sees it: principal, action, resource and condition keys.
  policy::Request PolicyRequest(const Context& ctx, std::string_view action,
                                const std::string& bucket, const std::string& key,
                                const std::vector<lifecycle::Tag>* existing_tags = nullptr) const {
    policy::Request r;
    r.anonymous = ctx.anonymous;
    r.user = ctx.user.name;
    r.action = std::string(action);
    r.resource = "arn:aws:s3:::" + bucket;
    if (!key.empty()) r.resource += "/" + key;
    r.Set("aws:SourceIp", ctx.client_ip);
    r.Set("aws:SecureTransport", ctx.secure_transport ? "true" : "false");
    r.Set("aws:CurrentTime", FormatIso8601(ctx.now_ms));
    r.Set("aws:EpochTime", std::to_string(ctx.now_ms / 1000));
    r.Set("aws:PrincipalType", ctx.anonymous ? "Anonymous" : "User");
    if (!ctx.anonymous) {
      r.Set("aws:username", ctx.user.name);
      r.Set("aws:userid", ctx.user.name);
      r.Set("aws:PrincipalArn", "arn:aws:iam:::user/" + ctx.user.name);
      r.Set("s3:authType", ctx.auth.presigned ? "REST-QUERY-STRING" : "REST-HEADER");
      r.Set("s3:signatureversion", ctx.auth.signature_version == 2 ? "AWS" : "AWS4-HMAC-SHA256");
    }
    for (const char* h : {"user-agent", "referer"}) {
      if (auto v = ctx.Header(h))
        r.Set(std::string("aws:") + (h[0] == 'u' ? "UserAgent" : "Referer"), std::string(*v));
    }
    for (const char* h :
         {"x-amz-content-sha256", "x-amz-acl", "x-amz-copy-source", "x-amz-metadata-directive",
          "x-amz-storage-class", "x-amz-server-side-encryption", "x-amz-grant-read",
          "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
          "x-amz-grant-full-control"}) {
      if (auto v = ctx.Header(h)) r.Set(std::string("s3:") + h, std::string(*v));
    }
    if (auto t = ctx.Header("x-amz-tagging");
        t && (action == "s3:PutObject" || action == "s3:PutObjectTagging")) {
      std::vector<std::string> tag_keys;
      for (const lifecycle::Tag& tag : lifecycle::ParseTagSet(*t)) {
        r.Set("s3:RequestObjectTag/" + tag.key, tag.value);
        tag_keys.push_back(tag.key);
      }
      if (!tag_keys.empty()) r.keys.push_back({"s3:RequestObjectTagKeys", tag_keys});
    }
    if (existing_tags != nullptr) {
      for (const lifecycle::Tag& tag : *existing_tags) {
        r.Set("s3:ExistingObjectTag/" + tag.key, tag.value);
      }
    }
    if (action == "s3:ListBucket" && ctx.endpoint.operation != Operation::kHeadBucket) {
      // A GET/HEAD of a missing key asks whether the caller may list that key (MissingKey).
      const bool probe = ctx.endpoint.operation == Operation::kGetObject ||
                         ctx.endpoint.operation == Operation::kHeadObject;
      r.Set("s3:prefix", probe ? ctx.endpoint.key : std::string(ctx.Query("prefix")));
      if (ctx.HasQuery("delimiter")) r.Set("s3:delimiter", std::string(ctx.Query("delimiter")));
      r.Set("s3:max-keys", ctx.HasQuery("max-keys") ? std::string(ctx.Query("max-keys")) : "1000");
    }
    return r;
  }

  static bool ManagesPolicy(std::string_view action) {
    return action == "s3:GetBucketPolicy" || action == "s3:PutBucketPolicy" ||
           action == "s3:DeleteBucketPolicy";
  }

  Status Deny(const Context& ctx, std::string explanation) {
    Log().info("{} access denied: {}", ctx.request.request_id, explanation);
    decisions.Record(ctx.request.request_id, explanation);
    return Error(ErrorCode::kAccessDenied);
  }

  // What the bucket's ACL (bucket actions, and writing objects into it) or the object's ACL
  // (reading it, its ACL) grants the caller; asked only once the policy has not decided.
  bool AclGrantsAccess(Context& ctx, const store::Bucket& bucket, std::string_view action,
                       const std::string& key) {
    if (bucket.ownership == kBucketOwnerEnforced) return false;  // ACLs are off
    const bool ignore_public =
        PublicAccessBlock::FromStored(bucket.public_access_block).ignore_public_acls;
    auto effective = [&](Acl acl) { return ignore_public ? WithoutPublicGrants(acl) : acl; };
    const std::string caller = ctx.anonymous ? std::string() : ctx.user.name;
    if (unsigned needed = AclPermissionFor(action, /*on_object=*/false)) {
      return AclAllows(effective(DecodeAcl(bucket.acl, bucket.owner)), caller, needed);
    }
    const unsigned needed = AclPermissionFor(action, /*on_object=*/true);
    if (needed == 0 || key.empty()) return false;
    auto info = store.HeadObject(bucket.name, key);
    if (!info) return false;
    // An object's owner may always read and change its ACL, whatever the ACL says (AWS).
    if (!caller.empty() && info->owner == caller && (needed & (kAclRead | kAclWrite)) == 0) {
      return true;
    }
    const Acl acl =
        effective(DecodeAcl(FindHeader(info->headers, kStoredAclHeader).value_or(""), info->owner));
    if (AclAllows(acl, caller, needed)) {
      decisions.Record(ctx.request.request_id, "allowed by the ACL of " + bucket.name + "/" + key);
      return true;
    }
    return false;
  }

  AclContext AclContextFor(const std::string& owner, const std::string& bucket_owner,
                           bool for_bucket) {
    AclContext c{owner, bucket_owner, for_bucket, {}};
    // Grants name users by id: the user list is read once, at the first grant (an ACL holds up
    // to 100).
    auto known = std::make_shared<std::optional<std::vector<store::User>>>();
    c.user_exists = [this, known](const std::string& name) {
      if (!*known) {
        auto all = users.ListUsers();
        *known = all ? std::move(*all) : std::vector<store::User>();
      }
      return std::any_of((*known)->begin(), (*known)->end(),
                         [&](const store::User& u) { return u.name == name; });
    };
    return c;
  }

  static bool HasAclHeaders(const Headers& headers) {
    return std::any_of(headers.begin(), headers.end(), [](const Header& h) {
      return h.name == "x-amz-acl" || h.name.rfind("x-amz-grant-", 0) == 0;
    });
  }

  // The owner and ACL of an object being written: the ACL it asks for (x-amz-acl,
  // x-amz-grant-*), checked against the bucket's ownership controls and public access block
  // and added to its stored headers. Returns the object's owner.
  Result<std::string> ApplyRequestedAcl(Context& ctx, Headers& headers) {
    std::erase_if(headers, [](const Header& h) { return h.name == kStoredAclHeader; });
    const std::string bucket_owner = ctx.bucket ? ctx.bucket->owner : ctx.user.name;
    const std::string ownership = ctx.bucket ? ctx.bucket->ownership : std::string();
    auto canned = ctx.Header("x-amz-acl");
    const bool full_control_to_bucket_owner = canned && *canned == "bucket-owner-full-control";
    if (ownership == kBucketOwnerEnforced) {
      const bool grants =
          std::any_of(ctx.request.headers.begin(), ctx.request.headers.end(),
                      [](const Header& h) { return h.name.rfind("x-amz-grant-", 0) == 0; });
      if (grants || (canned && !full_control_to_bucket_owner)) {
        return Error(ErrorCode::kAccessControlListNotSupported);
      }
      return bucket_owner;  // every object is the bucket owner's, with no ACL of its own
    }
    std::string owner = ctx.user.name;
    if (ownership == kBucketOwnerPreferred && full_control_to_bucket_owner) owner = bucket_owner;
    if (!HasAclHeaders(ctx.request.headers)) return owner;  // private: nothing to store
    auto acl = AclFromHeaders(ctx.request.headers,
                              AclContextFor(owner, bucket_owner, /*for_bucket=*/false));
    if (!acl) return acl.error();
    if (*acl) {
      LB_RETURN_IF_ERROR(CheckPublicAclAllowed(ctx, **acl));
      std::string stored = EncodeAcl(**acl, owner);
      if (!stored.empty()) headers.push_back({std::string(kStoredAclHeader), std::move(stored)});
    }
    return owner;
  }

  // BlockPublicAcls: a public ACL is refused, not stored.
  Status CheckPublicAclAllowed(Context& ctx, const Acl& acl) {
    if (ctx.bucket &&
        PublicAccessBlock::FromStored(ctx.bucket->public_access_block).block_public_acls &&
        AclIsPublic(acl)) {
      return Deny(ctx, "the bucket's public access block refuses public ACLs (BlockPublicAcls)");
    }
    return Status::Ok();
  }

  // Bucket policy evaluation, on every request: explicit Deny > Allow > implicit deny; the
  // bucket owner and admin keys are allowed unless a statement denies them (admins can always
  // manage the policy itself, so a bad policy can never lock the operator out).
  Status Authorize(Context& ctx, std::string_view action, const std::string& bucket_name,
                   const std::string& key) {
    auto bucket = LoadBucket(ctx, bucket_name);
    if (!bucket) return bucket.error();
    const bool privileged = !ctx.anonymous && (ctx.user.admin || (*bucket)->owner == ctx.user.name);
    std::string who = ctx.anonymous ? "anonymous" : "user/" + ctx.user.name;
    auto parsed = ParsedPolicy(**bucket);
    if (!parsed) {
      if (privileged || AclGrantsAccess(ctx, **bucket, action, key)) return Status::Ok();
      return Deny(ctx, "implicit deny: bucket " + bucket_name + " has no policy and " + who +
                           " (from " + ctx.client_ip + ") is not its owner");
    }
    // s3:ExistingObjectTag/<key> needs the object's tags: look them up only for policies that
    // use the key.
    std::vector<lifecycle::Tag> tags;
    bool with_tags =
        !key.empty() && (*bucket)->policy.find("ExistingObjectTag") != std::string::npos;
    if (with_tags) {
      if (auto info = store.HeadObject(bucket_name, key)) {
        tags = lifecycle::ParseTagSet(FindHeader(info->headers, "x-amz-tagging").value_or(""));
      }
    }
    policy::Request pr = PolicyRequest(ctx, action, bucket_name, key, with_tags ? &tags : nullptr);
    policy::Explanation e = parsed->Evaluate(pr);
    switch (e.decision) {
      case policy::Decision::kAllow:
        if (ctx.anonymous &&
            PublicAccessBlock::FromStored((*bucket)->public_access_block).restrict_public_buckets &&
            parsed->IsPublic()) {
          return Deny(ctx, e.ToString(pr) +
                               ", but the bucket's public access block keeps anonymous callers "
                               "out of a public policy (RestrictPublicBuckets)");
        }
        if (!privileged) decisions.Record(ctx.request.request_id, e.ToString(pr));
        return Status::Ok();
      case policy::Decision::kExplicitDeny:
        if (ctx.user.admin && !ctx.anonymous && ManagesPolicy(action)) {
          Log().warn("{} admin {} overrides {}", ctx.request.request_id, ctx.user.name,
                     e.ToString(pr));
          return Status::Ok();
        }
        return Deny(ctx, e.ToString(pr));
      case policy::Decision::kImplicitDeny:
        if (privileged || AclGrantsAccess(ctx, **bucket, action, key)) return Status::Ok();
        return Deny(ctx, e.ToString(pr) + " (from " + ctx.client_ip + ")");
    }
    return Error(ErrorCode::kAccessDenied);
  }

  // The check every operation gets before its handler runs.
  Status AuthorizeEndpoint(Context& ctx) {
    const Operation op = ctx.endpoint.operation;
    switch (op) {
      case Operation::kListBuckets:
      case Operation::kCreateBucket:
        if (ctx.anonymous) {
          return Deny(ctx, std::string(IamAction(op)) + " needs credentials (anonymous from " +
                               ctx.client_ip + ")");
        }
        return Status::Ok();
      case Operation::kExplain:
        if (ctx.anonymous || !ctx.user.admin) {
          return Deny(ctx, "the explain endpoint is for admin keys");
        }
        return Status::Ok();
      case Operation::kDeleteObjects: {
        // Checked per key (s3:DeleteObject), as AWS does; the bucket must exist.
        auto b = LoadBucket(ctx, ctx.endpoint.bucket);
        return b ? Status::Ok() : b.error();
      }
      default:
        break;
    }
    std::string_view action = IamAction(op);
    Status allowed = Authorize(ctx, action, ctx.endpoint.bucket,
                               IsObjectOperation(op) ? ctx.endpoint.key : std::string());
    if (!allowed.ok() && allowed.code() == ErrorCode::kAccessDenied &&
        (op == Operation::kGetObject || op == Operation::kHeadObject)) {
      // Not allowed to read it, but allowed to list it and it does not exist: 404, as AWS and
      // RGW answer (the caller could learn that from a listing anyway).
      auto existing = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
      if (!existing && existing.error().code() == ErrorCode::kNoSuchKey &&
          Authorize(ctx, "s3:ListBucket", ctx.endpoint.bucket, "").ok()) {
        return existing.error();
      }
    }
    return allowed;
  }

  void AddExpiration(Context& ctx, Response& r, const ObjectInfo& info) {
    if (!ctx.bucket || ctx.bucket->lifecycle.empty()) return;
    auto config = ParsedLifecycle(*ctx.bucket);
    if (!config) return;
    auto tags = lifecycle::ParseTagSet(FindHeader(info.headers, "x-amz-tagging").value_or(""));
    if (auto v = lifecycle::ExpirationHeader(*config, info.key, info.size, tags,
                                             info.last_modified_ms)) {
      r.SetHeader("x-amz-expiration", *v);
    }
  }

  // ----------------------------------------------------------------- bucket documents

  Result<Response> GetBucketPolicy(Context& ctx) {
    auto b = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!b) return b.error();
    if ((*b)->policy.empty()) return Error(ErrorCode::kNoSuchBucketPolicy);
    Response r;
    r.SetHeader("content-type", "application/json");
    r.body = (*b)->policy;
    return r;
  }

  Result<Response> PutBucketPolicy(Context& ctx) {
    auto body = ReadSmallBody(ctx);
    if (!body) {
      if (body.error().code() == ErrorCode::kMalformedXML) {
        return Error(ErrorCode::kMalformedPolicy, "Policies must be no larger than 20 KB");
      }
      return body.error();
    }
    policy::ParseOptions parse;
    parse.bucket = ctx.endpoint.bucket;
    auto known = users.ListUsers();
    if (!known) return known.error();
    parse.user_exists = [&](std::string_view name) {
      return std::any_of(known->begin(), known->end(),
                         [&](const store::User& u) { return u.name == name; });
    };
    auto parsed = policy::Policy::Parse(*body, parse);
    if (!parsed) return parsed.error();
    if (ctx.bucket &&
        PublicAccessBlock::FromStored(ctx.bucket->public_access_block).block_public_policy &&
        parsed->IsPublic()) {
      return Deny(ctx,
                  "the bucket's public access block refuses public policies "
                  "(BlockPublicPolicy)");
    }
    LB_RETURN_IF_ERROR(store.SetBucketPolicy(ctx.endpoint.bucket, *body));
    Log().info("{} bucket {}: policy set by {} ({} statements)", ctx.request.request_id,
               ctx.endpoint.bucket, ctx.user.name, parsed->statement_count());
    Response r;
    r.status = 204;
    return r;
  }

  Result<Response> DeleteBucketPolicy(Context& ctx) {
    LB_RETURN_IF_ERROR(store.SetBucketPolicy(ctx.endpoint.bucket, ""));
    Log().info("{} bucket {}: policy deleted by {}", ctx.request.request_id, ctx.endpoint.bucket,
               ctx.user.name);
    Response r;
    r.status = 204;
    return r;
  }

  Result<Response> GetBucketPolicyStatus(Context& ctx) {
    auto b = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!b) return b.error();
    auto parsed = ParsedPolicy(**b);
    // Public through the policy, or through the bucket's ACL unless that is ignored.
    const bool acl_public =
        (*b)->ownership != kBucketOwnerEnforced &&
        !PublicAccessBlock::FromStored((*b)->public_access_block).ignore_public_acls &&
        AclIsPublic(DecodeAcl((*b)->acl, (*b)->owner));
    XmlWriter xml("PolicyStatus");
    xml.Element("IsPublic", (parsed && parsed->IsPublic()) || acl_public ? "true" : "false");
    return XmlResponse(xml.Finish());
  }

  Result<Response> GetBucketLifecycle(Context& ctx) {
    auto b = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!b) return b.error();
    if ((*b)->lifecycle.empty()) return Error(ErrorCode::kNoSuchLifecycleConfiguration);
    return XmlResponse((*b)->lifecycle);
  }

  Result<Response> PutBucketLifecycle(Context& ctx) {
    auto body = ReadSmallBody(ctx);
    if (!body) return body.error();
    auto parsed = lifecycle::Parse(*body);
    if (!parsed) return parsed.error();
    // Stored in canonical form, so generated rule IDs stay stable.
    LB_RETURN_IF_ERROR(store.SetBucketLifecycle(ctx.endpoint.bucket, lifecycle::ToXml(*parsed)));
    Log().info("{} bucket {}: lifecycle set by {} ({} rules)", ctx.request.request_id,
               ctx.endpoint.bucket, ctx.user.name, parsed->rules.size());
    return Response{};
  }

  Result<Response> DeleteBucketLifecycle(Context& ctx) {
    LB_RETURN_IF_ERROR(store.SetBucketLifecycle(ctx.endpoint.bucket, ""));
    Response r;
    r.status = 204;
    return r;
  }

  // ----------------------------------------------------------------- ownership, public access

  Result<Response> GetOwnershipControls(Context& ctx) {
    auto b = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!b) return b.error();
    if ((*b)->ownership.empty()) return Error(ErrorCode::kOwnershipControlsNotFoundError);
    return XmlResponse(OwnershipControlsXml((*b)->ownership));
  }

  Result<Response> PutOwnershipControls(Context& ctx) {
    auto b = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!b) return b.error();
    auto body = ReadSmallBody(ctx);
    if (!body) return body.error();
    auto ownership = ParseOwnershipControls(*body);
    if (!ownership) return ownership.error();
    // Turning ACLs off while the bucket's own ACL grants something would hide that grant.
    if (*ownership == kBucketOwnerEnforced && !(*b)->acl.empty() &&
        DecodeAcl((*b)->acl, (*b)->owner) != PrivateAcl((*b)->owner)) {
      return Error(ErrorCode::kInvalidBucketAclWithObjectOwnership);
    }
    LB_RETURN_IF_ERROR(store.SetBucketDocument(ctx.endpoint.bucket,
                                               store::BucketDocument::kOwnership, *ownership));
    return Response{};
  }

  Result<Response> GetPublicAccessBlock(Context& ctx) {
    auto b = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!b) return b.error();
    if ((*b)->public_access_block.empty()) {
      return Error(ErrorCode::kNoSuchPublicAccessBlockConfiguration);
    }
    return XmlResponse(
        PublicAccessBlockXml(PublicAccessBlock::FromStored((*b)->public_access_block)));
  }

  Result<Response> PutPublicAccessBlock(Context& ctx) {
    auto body = ReadSmallBody(ctx);
    if (!body) return body.error();
    auto block = ParsePublicAccessBlock(*body);
    if (!block) return block.error();
    LB_RETURN_IF_ERROR(store.SetBucketDocument(
        ctx.endpoint.bucket, store::BucketDocument::kPublicAccessBlock, block->ToStored()));
    return Response{};
  }

  Result<Response> DeleteBucketDocument(Context& ctx, store::BucketDocument which) {
    LB_RETURN_IF_ERROR(store.SetBucketDocument(ctx.endpoint.bucket, which, ""));
    Response r;
    r.status = 204;
    return r;
  }

  // ----------------------------------------------------------------- CORS

  std::shared_ptr<const cors::Configuration> ParsedCors(const store::Bucket& b) {
    if (b.cors.empty()) return nullptr;
    if (auto cached = cors_configs.Find(b.name, b.cors)) return cached;
    auto parsed = cors::Parse(b.cors);
    if (!parsed) return nullptr;
    auto shared = std::make_shared<const cors::Configuration>(std::move(*parsed));
    cors_configs.Insert(b.name, b.cors, shared);
    return shared;
  }

  Result<Response> GetBucketCors(Context& ctx) {
    auto b = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!b) return b.error();
    if ((*b)->cors.empty()) return Error(ErrorCode::kNoSuchCORSConfiguration);
    return XmlResponse((*b)->cors);
  }

  Result<Response> PutBucketCors(Context& ctx) {
    auto body = ReadSmallBody(ctx);
    if (!body) return body.error();
    auto parsed = cors::Parse(*body);
    if (!parsed) return parsed.error();
    LB_RETURN_IF_ERROR(store.SetBucketDocument(ctx.endpoint.bucket, store::BucketDocument::kCors,
                                               cors::ToXml(*parsed)));
    Log().info("{} bucket {}: CORS set by {} ({} rules)", ctx.request.request_id,
               ctx.endpoint.bucket, ctx.user.name, parsed->rules.size());
    return Response{};
  }

  // OPTIONS: what a browser asks before a cross-origin request. Unauthenticated (browsers send
  // no credentials with it), answered from the bucket's rules alone.
  Response Preflight(Context& ctx) {
    auto origin = ctx.Header("origin");
    auto method = ctx.Header("access-control-request-method");
    if (!origin || !method) {
      return ErrorResponse(&ctx, ctx.request,
                           {Error(ErrorCode::kBadRequest,
                                  "Insufficient information. Origin and "
                                  "Access-Control-Request-Method request headers needed."),
                            {}});
    }
    auto bucket = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!bucket) return ErrorResponse(&ctx, ctx.request, {bucket.error(), {}});
    auto config = ParsedCors(**bucket);
    auto request_headers =
        cors::SplitHeaderList(ctx.Header("access-control-request-headers").value_or(""));
    const cors::Rule* rule = config && request_headers
                                 ? cors::Match(*config, *origin, *method, *request_headers)
                                 : nullptr;
    if (rule == nullptr) {
      return ErrorResponse(&ctx, ctx.request, {Error(ErrorCode::kAccessForbidden), {}});
    }
    Response r;
    cors::AddHeaders(*rule, *origin, *request_headers, r.headers);
    r.SetHeader("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
    return r;
  }

  // Access-Control-* on an ordinary answer (errors too: a page must be able to read why it
  // failed), when a rule allows the origin and method.
  void AddCorsHeaders(Context& ctx, std::string_view origin, Response& r) {
    auto bucket = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!bucket) return;
    auto config = ParsedCors(**bucket);
    if (!config) return;
    r.SetHeader("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
    // The method a rule must allow: the request's own, or the one a client names as RGW reads.
    std::string_view method =
        ctx.Header("access-control-request-method").value_or(ctx.request.method);
    if (const cors::Rule* rule = cors::Match(*config, origin, method)) {
      cors::AddHeaders(*rule, origin, {}, r.headers);
    }
  }

  // ----------------------------------------------------------------- object attributes

  // GetObjectAttributes: what x-amz-object-attributes names, from the metadata alone.
  Result<Response> GetObjectAttributes(Context& ctx) {
    LB_RETURN_IF_ERROR(CheckVersionId(ctx));
    auto asked = ctx.Header("x-amz-object-attributes");
    if (!asked || TrimWhitespace(*asked).empty()) {
      return Error(ErrorCode::kInvalidArgument, "x-amz-object-attributes is required.");
    }
    std::set<std::string, std::less<>> wanted;
    for (std::string_view name : Split(*asked, ',')) {
      name = TrimWhitespace(name);
      static constexpr std::array<std::string_view, 5> kKnown = {"ETag", "Checksum", "ObjectParts",
                                                                 "StorageClass", "ObjectSize"};
      if (std::find(kKnown.begin(), kKnown.end(), name) == kKnown.end()) {
        return Error(ErrorCode::kInvalidArgument,
                     "Invalid attribute name specified: " + std::string(name));
      }
      wanted.emplace(name);
    }
    auto number_header = [&](std::string_view name, int64_t fallback) -> Result<int64_t> {
      auto v = ctx.Header(name);
      if (!v) return fallback;
      auto n = ParseDecimal(*v);
      if (!n || *n < 0) {
        return Error(ErrorCode::kInvalidArgument, std::string(name) + " must be a number");
      }
      return *n;
    };
    auto max_parts = number_header("x-amz-max-parts", 1000);
    if (!max_parts) return max_parts.error();
    auto marker = number_header("x-amz-part-number-marker", 0);
    if (!marker) return marker.error();
    *marker = std::min<int64_t>(*marker, store::kMaxPartNumber);  // past the last part: none
    auto info = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
    if (!info) return info.error();

    XmlWriter xml("GetObjectAttributesResponse");
    if (wanted.count("ETag")) xml.Element("ETag", info->etag);
    if (wanted.count("Checksum") && info->checksum.algorithm != ChecksumAlgorithm::kNone) {
      xml.Open("Checksum")
          .Element("Checksum" + std::string(ChecksumName(info->checksum.algorithm)),
                   info->checksum.value)
          .Element("ChecksumType",
                   info->checksum.type.empty() ? "FULL_OBJECT" : info->checksum.type)
          .Close("Checksum");
    }
    const auto parts = static_cast<int64_t>(info->part_sizes.size());
    if (wanted.count("ObjectParts") && info->parts_count > 0) {
      xml.Open("ObjectParts").Element("PartsCount", std::to_string(info->parts_count));
      xml.Element("PartNumberMarker", std::to_string(*marker));
      const int64_t first = *marker + 1;
      const int64_t last = std::min(parts, *marker + std::min<int64_t>(*max_parts, 1000));
      if (last >= first) xml.Element("NextPartNumberMarker", std::to_string(last));
      xml.Element("MaxParts", std::to_string(*max_parts));
      xml.Element("IsTruncated", last < parts ? "true" : "false");
      for (int64_t n = first; n <= last; ++n) {
        xml.Open("Part").Element("PartNumber", std::to_string(n));
        if (static_cast<size_t>(n) <= info->part_checksums.size() &&
            !info->part_checksums[n - 1].empty()) {
          xml.Element("Checksum" + std::string(ChecksumName(info->checksum.algorithm)),
                      info->part_checksums[n - 1]);
        }
        xml.Element("Size", std::to_string(info->part_sizes[n - 1])).Close("Part");
      }
      xml.Close("ObjectParts");
    }
    if (wanted.count("StorageClass")) xml.Element("StorageClass", "STANDARD");
    if (wanted.count("ObjectSize")) xml.Element("ObjectSize", std::to_string(info->size));
    Response r = XmlResponse(xml.Finish());
    r.SetHeader("last-modified", FormatHttpDate(info->last_modified_ms));
    return r;
  }

  // ----------------------------------------------------------------- object tagging

  Result<Response> GetObjectTagging(Context& ctx) {
    LB_RETURN_IF_ERROR(CheckVersionId(ctx));
    auto info = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
    if (!info) return info.error();
    auto tags = lifecycle::ParseTagSet(FindHeader(info->headers, "x-amz-tagging").value_or(""));
    return XmlResponse(lifecycle::TaggingXml(tags));
  }

  Result<Response> PutOrDeleteObjectTagging(Context& ctx, bool put) {
    LB_RETURN_IF_ERROR(CheckVersionId(ctx));
    std::vector<lifecycle::Tag> tags;
    if (put) {
      auto body = ReadSmallBody(ctx);
      if (!body) return body.error();
      auto parsed = lifecycle::ParseTaggingXml(*body);
      if (!parsed) return parsed.error();
      tags = std::move(*parsed);
    }
    auto info = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
    if (!info) return info.error();
    Headers headers = info->headers;
    std::erase_if(headers, [](const Header& h) { return h.name == "x-amz-tagging"; });
    if (!tags.empty()) headers.push_back({"x-amz-tagging", lifecycle::EncodeTagSet(tags)});
    LB_RETURN_IF_ERROR(store.UpdateObjectHeaders(ctx.endpoint.bucket, ctx.endpoint.key, headers));
    Response r;
    r.status = put ? 200 : 204;
    r.SetHeader("x-amz-version-id", "null");
    return r;
  }

  // GET /_logbucket/explain?request-id=ID: why a recent request was allowed or denied.
  // GET /_logbucket/explain?bucket=B&action=A[&key=K][&ip=IP][&user=NAME]: what the bucket's
  // live policy decides for such a request (anonymous unless user is given).
  Result<Response> Explain(Context& ctx) {
    nlohmann::json out;
    if (ctx.HasQuery("request-id")) {
      std::string id(ctx.Query("request-id"));
      auto found = decisions.Find(id);
      if (!found) {
        return Error(ErrorCode::kNotFound, "no recorded decision for request " + id +
                                               " (only policy decisions and denials are kept)");
      }
      out = {{"request_id", id}, {"explanation", *found}};
    } else {
      std::string bucket(ctx.Query("bucket"));
      std::string action(ctx.Query("action"));
      if (bucket.empty() || action.empty()) {
        return Error(ErrorCode::kInvalidArgument, "give request-id, or bucket and action");
      }
      Context sim{ctx.request, ctx.query, ctx.endpoint, {}, {}, ctx.now_ms};
      sim.anonymous = !ctx.HasQuery("user");
      if (!sim.anonymous) sim.user.name = std::string(ctx.Query("user"));
      sim.client_ip = ctx.HasQuery("ip") ? std::string(ctx.Query("ip")) : ctx.client_ip;
      auto b = store.GetBucket(bucket);
      if (!b) return b.error();
      std::string key(ctx.Query("key"));
      policy::Request pr = PolicyRequest(sim, action, bucket, key);
      bool privileged = !sim.anonymous && b->owner == sim.user.name;
      auto parsed = ParsedPolicy(*b);
      std::string text;
      std::string decision;
      if (!parsed) {
        decision = privileged ? "allow" : "implicit deny";
        text = privileged ? "allowed: the bucket owner (no policy)" : "implicit deny: no policy";
      } else {
        auto e = parsed->Evaluate(pr);
        decision = std::string(policy::DecisionName(e.decision));
        if (e.decision == policy::Decision::kImplicitDeny && privileged) decision = "allow";
        text = e.ToString(pr);
      }
      out = {{"decision", decision}, {"explanation", text}, {"source_ip", sim.client_ip}};
    }
    Response r;
    r.SetHeader("content-type", "application/json");
    r.body = out.dump() + "\n";
    return r;
  }

  // ----------------------------------------------------------------- buckets

  Result<Response> ListBuckets(Context& ctx) {
    auto buckets = store.ListBuckets();
    if (!buckets) return buckets.error();
    XmlWriter xml("ListAllMyBucketsResult");
    xml.Open("Owner")
        .Element("ID", ctx.user.name)
        .Element("DisplayName", ctx.user.name)
        .Close("Owner");
    // Paged like AWS: max-buckets (1-10,000), prefix, continuation-token (the last name given,
    // base64; empty: from the start), in name order.
    size_t max_buckets = 10000;
    if (ctx.HasQuery("max-buckets")) {
      auto n = ParseDecimal(ctx.Query("max-buckets"));
      if (!n || *n < 1 || *n > 10000) {
        return Error(ErrorCode::kInvalidArgument, "max-buckets must be between 1 and 10000.");
      }
      max_buckets = static_cast<size_t>(*n);
    }
    std::string after;
    if (std::string_view token = ctx.Query("continuation-token"); !token.empty()) {
      auto decoded = Base64Decode(token);
      if (!decoded) {
        return Error(ErrorCode::kInvalidArgument, "The continuation token provided is incorrect");
      }
      after = *decoded;
    }
    const std::string_view prefix = ctx.Query("prefix");  // (buckets come in name order)
    xml.Open("Buckets");
    size_t listed = 0;
    std::string next;
    std::string last_name;
    for (const store::Bucket& b : *buckets) {
      if (!ctx.user.admin && b.owner != ctx.user.name) continue;
      if (!b.name.starts_with(prefix) || (!after.empty() && b.name <= after)) continue;
      if (listed == max_buckets) {
        next = Base64Encode(last_name);
        break;
      }
      xml.Open("Bucket")
          .Element("Name", b.name)
          .Element("CreationDate", FormatIso8601(b.created_ms));
      xml.Element("BucketRegion", b.region.empty() ? options.s3.region : b.region);
      xml.Close("Bucket");
      last_name = b.name;
      ++listed;
    }
    xml.Close("Buckets");
    if (!next.empty()) xml.Element("ContinuationToken", next);
    if (ctx.HasQuery("prefix")) xml.Element("Prefix", prefix);
    return XmlResponse(xml.Finish());
  }

  Result<Response> CreateBucket(Context& ctx) {
    LB_RETURN_IF_ERROR(store::ValidateBucketName(ctx.endpoint.bucket));
    LB_RETURN_IF_ERROR(RejectUnsupportedHeaders(ctx.request.headers));
    if (auto lock = ctx.Header("x-amz-bucket-object-lock-enabled");
        lock && EqualsIgnoreCase(*lock, "true")) {
      return Error(ErrorCode::kNotImplemented, "Object lock is not supported.");
    }
    auto body = ReadSmallBody(ctx);
    if (!body) return body.error();
    auto config = ParseCreateBucketRequest(*body);
    if (!config) return config.error();
    const std::string& region = options.s3.region;
    const std::string& asked = config->location_constraint;
    // Like AWS: no constraint means the default region; a constraint must name ours (us-east-1
    // is never given explicitly on AWS, but Ceph and older tools send it, so accept it there).
    if (!asked.empty() && asked != region && !(asked == "us-east-1" && region == "us-east-1")) {
      return Error(ErrorCode::kInvalidArgument,
                   "The specified location-constraint '" + asked +
                       "' is not valid; this endpoint serves region '" + region + "'.");
    }
    store::Bucket bucket{ctx.endpoint.bucket, ctx.now_ms, ctx.user.name, region, {}, {}};
    auto acl = AclFromHeaders(ctx.request.headers,
                              AclContextFor(ctx.user.name, ctx.user.name, /*for_bucket=*/true));
    if (!acl) return acl.error();
    if (*acl) bucket.acl = EncodeAcl(**acl, ctx.user.name);
    if (auto ownership = ctx.Header("x-amz-object-ownership")) {
      auto parsed = ParseObjectOwnership(*ownership);
      if (!parsed) return parsed.error();
      if (*parsed == kBucketOwnerEnforced && !bucket.acl.empty()) {
        return Error(ErrorCode::kInvalidBucketAclWithObjectOwnership);
      }
      bucket.ownership = std::move(*parsed);
    }
    // A repeated create by the owner: 200 in us-east-1 (AWS's legacy behaviour there, and Ceph
    // RGW's), 409 BucketAlreadyOwnedByYou in any other region (as AWS answers there). Asking
    // for another ACL that way is refused (409 BucketAlreadyExists, as RGW answers): an ACL
    // changes through PutBucketAcl only.
    Status created = store.CreateBucket(bucket);
    if (!created.ok() &&
        !(created.code() == ErrorCode::kBucketAlreadyOwnedByYou && region == "us-east-1")) {
      return created;
    }
    if (!created.ok()) {
      auto existing = store.GetBucket(bucket.name);
      if (!existing) return existing.error();
      if (existing->acl != bucket.acl) return Error(ErrorCode::kBucketAlreadyExists);
    }
    Response r;
    r.SetHeader("location", "/" + ctx.endpoint.bucket);
    return r;
  }

  Result<Response> HeadBucket(Context& ctx) {
    Response r;
    r.SetHeader("x-amz-bucket-region", options.s3.region);
    // Ceph RGW's ?read-stats=true: the bucket's object count and bytes, for whoever may list it.
    if (ctx.Query("read-stats") == "true") {
      auto usage = store.GetBucketUsage(ctx.endpoint.bucket);
      if (!usage) return usage.error();
      r.SetHeader("x-rgw-object-count", std::to_string(usage->objects));
      r.SetHeader("x-rgw-bytes-used", std::to_string(usage->bytes));
    }
    return r;
  }

  Result<Response> DeleteBucket(Context& ctx) {
    LB_RETURN_IF_ERROR(store.DeleteBucket(ctx.endpoint.bucket));
    Response r;
    r.status = 204;
    return r;
  }

  Result<Response> GetBucketLocation(Context& ctx) {
    auto bucket = store.GetBucket(ctx.endpoint.bucket);
    if (!bucket) return bucket.error();
    // AWS answers an empty constraint for us-east-1.
    std::string region = bucket->region == "us-east-1" ? "" : bucket->region;
    std::string body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" +
        XmlEscape(region) + "</LocationConstraint>";
    return XmlResponse(std::move(body));
  }

  Result<Response> GetBucketVersioning(Context&) {
    XmlWriter xml("VersioningConfiguration");  // never enabled: no Status element
    return XmlResponse(xml.Finish());
  }

  Result<Response> GetAcl(Context& ctx) {
    auto bucket = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!bucket) return bucket.error();
    const std::string& bucket_owner = (*bucket)->owner;
    const bool enforced = (*bucket)->ownership == kBucketOwnerEnforced;
    if (ctx.endpoint.operation == Operation::kGetBucketAcl) {
      if (enforced) return XmlResponse(AclToXml(PrivateAcl(bucket_owner), bucket_owner));
      return XmlResponse(AclToXml(DecodeAcl((*bucket)->acl, bucket_owner), bucket_owner));
    }
    LB_RETURN_IF_ERROR(CheckVersionId(ctx));
    auto info = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
    if (!info) return info.error();
    // ACLs off: the bucket owner owns every object, alone.
    if (enforced) return XmlResponse(AclToXml(PrivateAcl(bucket_owner), bucket_owner));
    const Acl acl =
        DecodeAcl(FindHeader(info->headers, kStoredAclHeader).value_or(""), info->owner);
    return XmlResponse(AclToXml(acl, info->owner));
  }

  // PutBucketAcl / PutObjectAcl: a canned ACL or grant headers, or an AccessControlPolicy
  // document; the whole ACL is replaced.
  Result<Response> PutAcl(Context& ctx) {
    const bool on_object = ctx.endpoint.operation == Operation::kPutObjectAcl;
    auto bucket = LoadBucket(ctx, ctx.endpoint.bucket);
    if (!bucket) return bucket.error();
    if ((*bucket)->ownership == kBucketOwnerEnforced) {
      return Error(ErrorCode::kAccessControlListNotSupported);
    }
    std::optional<ObjectInfo> info;
    if (on_object) {
      LB_RETURN_IF_ERROR(CheckVersionId(ctx));
      auto head = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
      if (!head) return head.error();
      info = std::move(*head);
    }
    const std::string owner = on_object ? info->owner : (*bucket)->owner;
    const AclContext context = AclContextFor(owner, (*bucket)->owner, !on_object);
    auto body = ReadSmallBody(ctx);
    if (!body) return body.error();
    auto from_headers = AclFromHeaders(ctx.request.headers, context);
    if (!from_headers) return from_headers.error();
    Acl acl;
    if (*from_headers) {
      if (!TrimWhitespace(*body).empty()) {
        return Error(ErrorCode::kInvalidRequest,
                     "Give the ACL either in headers or as a document, not both.");
      }
      acl = std::move(**from_headers);
    } else {
      if (TrimWhitespace(*body).empty()) {
        return Error(ErrorCode::kMalformedACLError,
                     "PutAcl needs x-amz-acl, x-amz-grant-* or an AccessControlPolicy body.");
      }
      auto parsed = AclFromXml(*body, context);
      if (!parsed) return parsed.error();
      acl = std::move(*parsed);
    }
    LB_RETURN_IF_ERROR(CheckPublicAclAllowed(ctx, acl));
    std::string stored = EncodeAcl(acl, owner);
    if (!on_object) {
      LB_RETURN_IF_ERROR(
          store.SetBucketDocument(ctx.endpoint.bucket, store::BucketDocument::kAcl, stored));
    } else {
      Headers headers = info->headers;
      std::erase_if(headers, [](const Header& h) { return h.name == kStoredAclHeader; });
      if (!stored.empty()) headers.push_back({std::string(kStoredAclHeader), std::move(stored)});
      LB_RETURN_IF_ERROR(store.UpdateObjectHeaders(ctx.endpoint.bucket, ctx.endpoint.key, headers));
    }
    return Response{};
  }

  // ----------------------------------------------------------------- listing

  Result<int> MaxKeys(const Context& ctx, std::string_view name) {
    if (!ctx.HasQuery(name)) return kMaxListKeys;
    auto n = ParseDecimal(ctx.Query(name));
    if (!n) {
      return Error(ErrorCode::kInvalidArgument,
                   "Provided " + std::string(name) + " not an integer or within integer range");
    }
    return static_cast<int>(std::min<int64_t>(*n, kMaxListKeys));
  }

  Result<bool> UrlEncoding(const Context& ctx) {
    if (!ctx.HasQuery("encoding-type")) return false;
    if (ctx.Query("encoding-type") != "url") {
      return Error(ErrorCode::kInvalidArgument, "Invalid Encoding Method specified in Request");
    }
    return true;
  }

  Result<Response> ListObjects(Context& ctx, bool v2) {
    auto max_keys = MaxKeys(ctx, "max-keys");
    if (!max_keys) return max_keys.error();
    auto url = UrlEncoding(ctx);
    if (!url) return url.error();
    auto enc = [&](std::string_view s) { return *url ? UriEncode(s, true) : std::string(s); };

    store::ListOptions opts;
    opts.prefix = std::string(ctx.Query("prefix"));
    opts.delimiter = std::string(ctx.Query("delimiter"));
    opts.max_keys = *max_keys;
    // Ceph RGW's allow-unordered=true (the production store's extension, which tools written
    // for it send): any order is allowed, so key order is one; with a delimiter RGW refuses it.
    if (EqualsIgnoreCase(ctx.Query("allow-unordered"), "true") && !opts.delimiter.empty()) {
      return Error(ErrorCode::kInvalidArgument, "allow-unordered cannot be used with a delimiter.");
    }
    std::string token;
    if (v2) {
      token = std::string(ctx.Query("continuation-token"));
      if (!token.empty()) {  // (an empty one is no token: the listing starts, as on AWS)
        auto decoded = Base64Decode(token);
        if (!decoded || decoded->empty()) {
          return Error(ErrorCode::kInvalidArgument, "The continuation token provided is incorrect");
        }
        opts.after = *decoded;
      } else {
        opts.after = std::string(ctx.Query("start-after"));
      }
    } else {
      opts.after = std::string(ctx.Query("marker"));
    }
    auto listed = store.ListObjects(ctx.endpoint.bucket, opts);
    if (!listed) return listed.error();
    const bool fetch_owner = !v2 || ctx.Query("fetch-owner") == "true";

    XmlWriter xml("ListBucketResult");
    xml.Element("Name", ctx.endpoint.bucket);
    // Version 1 answers Prefix as given even under encoding-type=url: clients (botocore) decode
    // it only in version 2.
    xml.Element("Prefix", v2 ? enc(opts.prefix) : opts.prefix);
    if (v2) {
      if (ctx.HasQuery("continuation-token")) xml.Element("ContinuationToken", token);
      if (ctx.HasQuery("start-after")) xml.Element("StartAfter", enc(ctx.Query("start-after")));
      xml.Element("KeyCount",
                  std::to_string(listed->objects.size() + listed->common_prefixes.size()));
    } else {
      xml.Element("Marker", enc(opts.after));
    }
    xml.Element("MaxKeys", std::to_string(opts.max_keys));
    if (!opts.delimiter.empty()) xml.Element("Delimiter", enc(opts.delimiter));
    if (*url) xml.Element("EncodingType", "url");
    xml.Element("IsTruncated", listed->truncated ? "true" : "false");
    if (listed->truncated) {
      if (v2) {
        xml.Element("NextContinuationToken", Base64Encode(listed->last_item));
      } else {
        xml.Element("NextMarker", enc(listed->last_item));
      }
    }
    for (const ObjectInfo& o : listed->objects) {
      xml.Open("Contents");
      xml.Element("Key", enc(o.key));
      xml.Element("LastModified", FormatIso8601(o.last_modified_ms));
      xml.Element("ETag", Quote(o.etag));
      if (o.checksum.algorithm != ChecksumAlgorithm::kNone) {
        xml.Element("ChecksumAlgorithm", ChecksumName(o.checksum.algorithm));
      }
      xml.Element("Size", std::to_string(o.size));
      xml.Element("StorageClass", "STANDARD");
      if (fetch_owner) {
        xml.Open("Owner").Element("ID", o.owner).Element("DisplayName", o.owner).Close("Owner");
      }
      xml.Close("Contents");
    }
    for (const std::string& p : listed->common_prefixes) {
      xml.Open("CommonPrefixes").Element("Prefix", enc(p)).Close("CommonPrefixes");
    }
    return XmlResponse(xml.Finish());
  }

  Result<Response> ListObjectVersions(Context& ctx) {
    auto max_keys = MaxKeys(ctx, "max-keys");
    if (!max_keys) return max_keys.error();
    auto url = UrlEncoding(ctx);
    if (!url) return url.error();
    auto enc = [&](std::string_view s) { return *url ? UriEncode(s, true) : std::string(s); };
    store::ListOptions opts;
    opts.prefix = std::string(ctx.Query("prefix"));
    opts.delimiter = std::string(ctx.Query("delimiter"));
    opts.after = std::string(ctx.Query("key-marker"));
    opts.max_keys = *max_keys;
    auto listed = store.ListObjects(ctx.endpoint.bucket, opts);
    if (!listed) return listed.error();
    XmlWriter xml("ListVersionsResult");
    xml.Element("Name", ctx.endpoint.bucket);
    xml.Element("Prefix", enc(opts.prefix));
    xml.Element("KeyMarker", enc(opts.after));
    xml.Element("VersionIdMarker", ctx.Query("version-id-marker"));
    xml.Element("MaxKeys", std::to_string(opts.max_keys));
    if (!opts.delimiter.empty()) xml.Element("Delimiter", enc(opts.delimiter));
    if (*url) xml.Element("EncodingType", "url");
    xml.Element("IsTruncated", listed->truncated ? "true" : "false");
    if (listed->truncated) {
      xml.Element("NextKeyMarker", enc(listed->last_item));
      xml.Element("NextVersionIdMarker", "null");
    }
    for (const ObjectInfo& o : listed->objects) {
      xml.Open("Version");
      xml.Element("Key", enc(o.key));
      xml.Element("VersionId", "null");
      xml.Element("IsLatest", "true");
      xml.Element("LastModified", FormatIso8601(o.last_modified_ms));
      xml.Element("ETag", Quote(o.etag));
      xml.Element("Size", std::to_string(o.size));
      xml.Element("StorageClass", "STANDARD");
      xml.Open("Owner").Element("ID", o.owner).Element("DisplayName", o.owner).Close("Owner");
      xml.Close("Version");
    }
    for (const std::string& p : listed->common_prefixes) {
      xml.Open("CommonPrefixes").Element("Prefix", enc(p)).Close("CommonPrefixes");
    }
    return XmlResponse(xml.Finish());
  }

  // ----------------------------------------------------------------- objects

  Status CheckVersionId(const Context& ctx) {
    if (ctx.HasQuery("versionId") && ctx.Query("versionId") != "null") {
      return Error(ErrorCode::kNoSuchVersion);
    }
    return Status::Ok();
  }

  // If-Match / If-None-Match of a write (PutObject, CompleteMultipartUpload).
  static store::Precondition WritePrecondition(const Context& ctx) {
    store::Precondition p;
    if (auto v = ctx.Header("if-match")) p.if_match = std::string(*v);
    if (auto v = ctx.Header("if-none-match")) p.if_none_match = std::string(*v);
    return p;
  }

  // The precondition against the object as it is now (the store checks it again when it
  // commits).
  Status CheckEarly(const Context& ctx, const store::Precondition& p) {
    if (p.empty()) return Status::Ok();
    auto existing = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
    if (!existing && existing.error().code() != ErrorCode::kNoSuchKey) return existing.error();
    return store::CheckPrecondition(p, existing ? &*existing : nullptr);
  }

  // A conditional delete's If-Match, x-amz-if-match-size, x-amz-if-match-last-modified-time
  // (DeleteObjects: the entry's ETag, Size, LastModifiedTime); a value that does not parse is
  // refused, never ignored.
  static Result<store::Precondition> DeletePrecondition(std::optional<std::string_view> etag,
                                                        std::optional<std::string_view> size,
                                                        std::optional<std::string_view> modified) {
    store::Precondition p;
    p.missing_ok = true;  // a conditional delete of a missing key deletes nothing: 204
    if (etag) p.if_match = std::string(*etag);
    if (size) {
      auto n = ParseDecimal(TrimWhitespace(*size));
      if (!n || *n < 0) {
        return Error(ErrorCode::kInvalidArgument, "The size precondition must be a byte count.");
      }
      p.if_size = static_cast<uint64_t>(*n);
    }
    if (modified) {
      auto ms = ParseHttpDate(TrimWhitespace(*modified));
      if (!ms) {
        return Error(ErrorCode::kInvalidArgument,
                     "The last-modified-time precondition must be an HTTP or ISO 8601 date.");
      }
      p.if_modified_s = *ms / 1000;
    }
    return p;
  }

  Result<Response> PutObject(Context& ctx) {
    LB_RETURN_IF_ERROR(RequireLength(ctx));
    LB_RETURN_IF_ERROR(store::ValidateKey(ctx.endpoint.key));
    LB_RETURN_IF_ERROR(RejectUnsupportedHeaders(ctx.request.headers));
    auto headers = StoredHeadersFrom(ctx.request.headers);
    if (!headers) return headers.error();
    auto owner = ApplyRequestedAcl(ctx, *headers);
    if (!owner) return owner.error();
    // Conditional writes (If-None-Match / If-Match) as S3 offers them since 2024: looked at
    // now, so a write bound to fail does not upload its body, and checked again by the store
    // in the commit itself (of two racing writers, one wins).
    const store::Precondition precondition = WritePrecondition(ctx);
    LB_RETURN_IF_ERROR(CheckEarly(ctx, precondition));
    // Refused before the body is read when the disk cannot take it (s3.min_free_bytes).
    LB_RETURN_IF_ERROR(store.CheckSpaceFor(ctx.request.content_length.value_or(0)));
    auto blob = store.NewBlob();
    if (!blob) return blob.error();
    store::BlobWriter* writer = blob->get();
    auto body = ReceiveBody(ctx, options.s3.max_object_bytes, ChecksumAlgorithm::kNone,
                            [&](std::string_view d) { return writer->Append(d); });
    if (!body) return body.error();
    ObjectInfo info;
    info.bucket = ctx.endpoint.bucket;
    info.key = ctx.endpoint.key;
    info.etag = body->md5_hex;
    info.headers = std::move(*headers);
    info.checksum = body->checksum;
    info.owner = std::move(*owner);
    auto stored = store.PutObject(std::move(info), std::move(*blob), precondition);
    if (!stored) return stored.error();
    Response r;
    r.SetHeader("etag", Quote(stored->etag));
    AddChecksumHeaders(r, stored->checksum);
    AddExpiration(ctx, r, *stored);
    return r;
  }

  // A missing key is NoSuchKey only to a caller who may list the bucket; anyone else gets
  // AccessDenied, as from AWS, so a reader allowed GetObject alone cannot probe which keys exist.
  Status MissingKey(Context& ctx, Status error) {
    if (error.code() != ErrorCode::kNoSuchKey) return error;
    Status may_list = Authorize(ctx, "s3:ListBucket", ctx.endpoint.bucket, "");
    return may_list.ok() ? error : may_list;
  }

  Result<Response> GetOrHeadObject(Context& ctx, bool head) {
    LB_RETURN_IF_ERROR(CheckVersionId(ctx));
    Response r;
    store::OpenedObject opened;
    if (head) {
      auto info = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
      if (!info) return MissingKey(ctx, info.error());
      opened.info = std::move(*info);
    } else {
      auto got = store.GetObject(ctx.endpoint.bucket, ctx.endpoint.key);
      if (!got) return MissingKey(ctx, got.error());
      opened = std::move(*got);
    }
    const ObjectInfo& info = opened.info;
    Status cond = CheckConditions(ctx.request.headers, info, "");
    if (cond.code() == ErrorCode::kNotModified) {
      r.status = 304;
      r.SetHeader("etag", Quote(info.etag));
      r.SetHeader("last-modified", FormatHttpDate(info.last_modified_ms));
      return r;
    }
    LB_RETURN_IF_ERROR(cond);

    ByteRange range{0, info.size};
    bool partial = false;
    if (ctx.HasQuery("partNumber")) {
      auto n = ParseDecimal(ctx.Query("partNumber"));
      if (!n || *n < 1 || *n > store::kMaxPartNumber) {
        return Error(ErrorCode::kInvalidArgument,
                     "Part number must be an integer between 1 and 10000.");
      }
      if (ctx.Header("range")) {
        return Error(ErrorCode::kInvalidRequest,
                     "Cannot specify both Range header and partNumber query parameter");
      }
      if (info.parts_count == 0) {
        if (*n != 1) return Error(ErrorCode::kInvalidPartNumber);
      } else {
        if (*n > static_cast<int64_t>(info.part_sizes.size()))
          return Error(ErrorCode::kInvalidPartNumber);
        uint64_t offset = 0;
        for (int64_t i = 0; i + 1 < *n; ++i) offset += info.part_sizes[i];
        range = {offset, info.part_sizes[*n - 1]};
        partial = true;
        // A part read whole carries that part's checksum, when asked for.
        auto mode = ctx.Header("x-amz-checksum-mode");
        if (mode && EqualsIgnoreCase(*mode, "ENABLED") &&
            static_cast<size_t>(*n) <= info.part_checksums.size()) {
          store::Checksum part = info.checksum;
          part.value = info.part_checksums[*n - 1];
          AddChecksumHeaders(r, part);
        }
      }
    } else if (auto range_header = ctx.Header("range")) {
      auto parsed = ParseRange(*range_header, info.size);
      if (!parsed) {
        Failure f{parsed.error(), {}};
        Response e = ErrorResponse(&ctx, ctx.request, f);
        e.SetHeader("content-range", "bytes */" + std::to_string(info.size));
        return e;
      }
      if (parsed->has_value()) {
        range = **parsed;
        partial = true;
      }
    }

    AddObjectHeaders(r, info);
    AddExpiration(ctx, r, info);
    // Checksums describe the whole object: only on full reads, and only when asked.
    if (!partial) {
      auto mode = ctx.Header("x-amz-checksum-mode");
      if (mode && EqualsIgnoreCase(*mode, "ENABLED")) AddChecksumHeaders(r, info.checksum);
    }
    // response-* overrides: signed requests only, as in S3 (an anonymous link must not make a
    // log render as HTML on this origin).
    static constexpr std::array<std::pair<const char*, const char*>, 6> kOverrides = {{
        {"response-content-type", "content-type"},
        {"response-content-disposition", "content-disposition"},
        {"response-content-encoding", "content-encoding"},
        {"response-content-language", "content-language"},
        {"response-cache-control", "cache-control"},
        {"response-expires", "expires"},
    }};
    for (const auto& [param, header] : kOverrides) {
      if (!ctx.HasQuery(param)) continue;
      if (ctx.anonymous) {
        return Error(ErrorCode::kInvalidRequest,
                     "Request specific response headers cannot be used for anonymous GET "
                     "requests.");
      }
      if (!IsSafeHeaderValue(ctx.Query(param))) {
        return Error(ErrorCode::kInvalidArgument,
                     std::string(param) + " must not contain control characters.");
      }
      std::string_view name = header;
      r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(),
                                     [&](const Header& h) { return h.name == name; }),
                      r.headers.end());
      r.SetHeader(header, std::string(ctx.Query(param)));
    }
    if (partial) {
      r.status = 206;
      r.SetHeader("content-range", "bytes " + std::to_string(range.first) + "-" +
                                       std::to_string(range.first + range.length - 1) + "/" +
                                       std::to_string(info.size));
    }
    if (head) {
      r.SetHeader("content-length", std::to_string(range.length));
      r.omit_body = true;
      return r;
    }
    if (auto fd = opened.body->SharedFd()) {
      auto file = std::make_unique<http::FileBody>();
      file->fd = std::move(fd);
      file->offset = range.first;
      file->length = range.length;
      r.file = std::move(file);
      return r;
    }
    // Not file-backed (a small object stored inline): copied, within a bound.
    if (range.length > kMaxBufferedBodyBytes) {
      return Error(ErrorCode::kInternalError, "object body has no descriptor");
    }
    r.body.resize(static_cast<size_t>(range.length));
    size_t done = 0;
    while (done < r.body.size()) {
      auto n = opened.body->ReadAt(range.first + done, r.body.data() + done, r.body.size() - done);
      if (!n) return n.error();
      if (*n == 0) return Error(ErrorCode::kInternalError, "object shorter than recorded");
      done += *n;
    }
    return r;
  }

  Result<Response> DeleteObject(Context& ctx) {
    LB_RETURN_IF_ERROR(CheckVersionId(ctx));
    auto precondition =
        DeletePrecondition(ctx.Header("if-match"), ctx.Header("x-amz-if-match-size"),
                           ctx.Header("x-amz-if-match-last-modified-time"));
    if (!precondition) return precondition.error();
    LB_RETURN_IF_ERROR(store.DeleteObject(ctx.endpoint.bucket, ctx.endpoint.key, *precondition));
    Response r;
    r.status = 204;
    return r;
  }

  Result<Response> DeleteObjects(Context& ctx) {
    auto body = ReadSmallBody(ctx);
    if (!body) return body.error();
    auto request = ParseDeleteRequest(*body);
    if (!request) return request.error();
    std::vector<std::string> keys;
    std::vector<store::Precondition> preconditions;
    std::vector<Status> results(request->objects.size());
    std::vector<size_t> index;
    for (size_t i = 0; i < request->objects.size(); ++i) {
      const auto& o = request->objects[i];
      if (!o.version_id.empty() && o.version_id != "null") {
        results[i] = Error(ErrorCode::kNoSuchVersion);
        continue;
      }
      Status valid = store::ValidateKey(o.key);
      if (!valid.ok()) {
        results[i] = valid;
        continue;
      }
      Status allowed = Authorize(ctx, "s3:DeleteObject", ctx.endpoint.bucket, o.key);
      if (!allowed.ok()) {
        results[i] = allowed;
        continue;
      }
      auto precondition = DeletePrecondition(o.etag, o.size, o.last_modified);
      if (!precondition) {
        results[i] = precondition.error();
        continue;
      }
      keys.push_back(o.key);
      preconditions.push_back(std::move(*precondition));
      index.push_back(i);
    }
    if (!keys.empty()) {
      auto deleted = store.DeleteObjects(ctx.endpoint.bucket, keys, preconditions);
      if (!deleted) return deleted.error();
      for (size_t k = 0; k < index.size(); ++k) results[index[k]] = (*deleted)[k];
    }
    XmlWriter xml("DeleteResult");
    for (size_t i = 0; i < request->objects.size(); ++i) {
      const auto& o = request->objects[i];
      if (results[i].ok()) {
        if (request->quiet) continue;
        xml.Open("Deleted").Element("Key", o.key);
        if (!o.version_id.empty()) xml.Element("VersionId", o.version_id);
        xml.Close("Deleted");
      } else {
        const ErrorInfo& info = Describe(results[i].code());
        xml.Open("Error").Element("Key", o.key);
        if (!o.version_id.empty()) xml.Element("VersionId", o.version_id);
        xml.Element("Code", info.s3_code);
        xml.Element("Message", results[i].message().empty() || info.http_status >= 500
                                   ? info.message
                                   : results[i].message());
        xml.Close("Error");
      }
    }
    return XmlResponse(xml.Finish());
  }

  struct CopySource {
    std::string bucket;
    std::string key;
  };

  Result<CopySource> ParseCopySource(const Context& ctx) {
    std::string_view raw = *ctx.Header("x-amz-copy-source");
    std::string_view version;
    size_t q = raw.find('?');
    if (q != std::string_view::npos) {
      std::string_view query = raw.substr(q + 1);
      raw = raw.substr(0, q);
      if (query.rfind("versionId=", 0) == 0) version = query.substr(10);
    }
    auto decoded = UriDecode(raw);
    if (!decoded) return Error(ErrorCode::kInvalidArgument, "Invalid copy source encoding.");
    std::string_view path = *decoded;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    size_t slash = path.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) {
      return Error(ErrorCode::kInvalidArgument,
                   "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.");
    }
    if (!version.empty() && version != "null") return Error(ErrorCode::kNoSuchVersion);
    return CopySource{std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
  }

  // Copies [first, first+length) of an open object into a new blob, hashing on the way.
  struct CopiedBlob {
    std::unique_ptr<store::BlobWriter> blob;
    std::string md5_hex;
    store::Checksum checksum;
  };

  Result<CopiedBlob> CopyBody(store::ObjectBody& body, uint64_t first, uint64_t length,
                              ChecksumAlgorithm algorithm) {
    LB_RETURN_IF_ERROR(store.CheckSpaceFor(length));
    auto blob = store.NewBlob();
    if (!blob) return blob.error();
    auto md5 = NewMd5();
    std::unique_ptr<Hasher> checksum;
    if (algorithm != ChecksumAlgorithm::kNone) checksum = NewChecksum(algorithm);
    std::string buffer(kIoBuffer, '\0');
    uint64_t done = 0;
    while (done < length) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
      auto n = body.ReadAt(first + done, buffer.data(), want);
      if (!n) return n.error();
      if (*n == 0) return Error(ErrorCode::kInternalError, "source object shorter than recorded");
      std::string_view chunk(buffer.data(), *n);
      md5->Update(chunk);
      if (checksum) checksum->Update(chunk);
      LB_RETURN_IF_ERROR((*blob)->Append(chunk));
      done += *n;
    }
    CopiedBlob out{std::move(*blob), HexEncode(md5->Finish()), {}};
    if (checksum) out.checksum = {algorithm, Base64Encode(checksum->Finish()), "FULL_OBJECT"};
    return out;
  }

  Result<Response> CopyObject(Context& ctx) {
    LB_RETURN_IF_ERROR(store::ValidateKey(ctx.endpoint.key));
    LB_RETURN_IF_ERROR(RejectUnsupportedHeaders(ctx.request.headers));
    auto source = ParseCopySource(ctx);
    if (!source) return source.error();
    LB_RETURN_IF_ERROR(Authorize(ctx, "s3:GetObject", source->bucket, source->key));
    auto opened = store.GetObject(source->bucket, source->key);
    if (!opened) return opened.error();
    const ObjectInfo& src = opened->info;
    LB_RETURN_IF_ERROR(CheckConditions(ctx.request.headers, src, "x-amz-copy-source-"));

    std::string directive(ctx.Header("x-amz-metadata-directive").value_or("COPY"));
    if (directive != "COPY" && directive != "REPLACE") {
      return Error(ErrorCode::kInvalidArgument, "Unknown metadata directive.");
    }
    const bool same = source->bucket == ctx.endpoint.bucket && source->key == ctx.endpoint.key;
    if (same && directive == "COPY") {
      return Error(ErrorCode::kInvalidRequest,
                   "This copy request is illegal because it is trying to copy an object to itself "
                   "without changing the object's metadata, storage class, website redirect "
                   "location or encryption attributes.");
    }
    if (src.size > options.s3.max_object_bytes) {
      return Error(ErrorCode::kInvalidRequest,
                   "The source is larger than the maximum allowable "
                   "size for a copy source; use UploadPartCopy.");
    }
    ObjectInfo info;
    info.bucket = ctx.endpoint.bucket;
    info.key = ctx.endpoint.key;
    if (directive == "REPLACE") {
      auto headers = StoredHeadersFrom(ctx.request.headers);
      if (!headers) return headers.error();
      info.headers = std::move(*headers);
    } else {
      info.headers = src.headers;
    }
    // Tags follow their own directive: copied unless x-amz-tagging-directive is REPLACE.
    std::string tagging_directive(ctx.Header("x-amz-tagging-directive").value_or("COPY"));
    if (tagging_directive != "COPY" && tagging_directive != "REPLACE") {
      return Error(ErrorCode::kInvalidArgument, "Unknown tagging directive.");
    }
    std::erase_if(info.headers, [](const Header& h) { return h.name == "x-amz-tagging"; });
    // An ACL is never copied: the copy gets the one asked for, or private (AWS).
    auto owner = ApplyRequestedAcl(ctx, info.headers);
    if (!owner) return owner.error();
    info.owner = std::move(*owner);
    if (tagging_directive == "COPY") {
      if (auto t = FindHeader(src.headers, "x-amz-tagging")) {
        info.headers.push_back({"x-amz-tagging", std::string(*t)});
      }
    } else if (auto t = ctx.Header("x-amz-tagging")) {
      auto tags = lifecycle::ParseTaggingHeader(*t);
      if (!tags) return tags.error();
      if (!tags->empty()) info.headers.push_back({"x-amz-tagging", lifecycle::EncodeTagSet(*tags)});
    }
    ChecksumAlgorithm algorithm = src.checksum.algorithm;
    if (auto a = ctx.Header("x-amz-checksum-algorithm")) {
      auto parsed = ParseChecksumName(*a);
      if (!parsed) return Error(ErrorCode::kInvalidRequest, "Unknown checksum algorithm.");
      algorithm = *parsed;
    }
    auto copied = CopyBody(*opened->body, 0, src.size, algorithm);
    if (!copied) return copied.error();
    // Same bytes, same ETag: a copy of a multipart object keeps its "-N" ETag.
    info.etag = src.parts_count > 0 ? src.etag : copied->md5_hex;
    info.parts_count = src.parts_count;
    info.part_sizes = src.part_sizes;
    if (algorithm == src.checksum.algorithm) info.part_checksums = src.part_checksums;
    info.checksum = copied->checksum;
    if (algorithm == src.checksum.algorithm && src.checksum.type == "COMPOSITE") {
      info.checksum = src.checksum;
    }
    auto stored = store.PutObject(std::move(info), std::move(copied->blob));
    if (!stored) return stored.error();
    XmlWriter xml("CopyObjectResult");
    xml.Element("LastModified", FormatIso8601(stored->last_modified_ms));
    xml.Element("ETag", Quote(stored->etag));
    if (stored->checksum.algorithm != ChecksumAlgorithm::kNone) {
      xml.Element("Checksum" + std::string(ChecksumName(stored->checksum.algorithm)),
                  stored->checksum.value);
    }
    Response r = XmlResponse(xml.Finish());
    r.SetHeader("x-amz-copy-source-version-id", "null");
    AddExpiration(ctx, r, *stored);
    return r;
  }

  // ----------------------------------------------------------------- multipart

  Result<store::Upload> FindUpload(const Context& ctx) {
    std::string upload_id(ctx.Query("uploadId"));
    if (upload_id.empty()) return Error(ErrorCode::kNoSuchUpload);
    return store.GetUpload(ctx.endpoint.bucket, ctx.endpoint.key, upload_id);
  }

  Result<int> PartNumber(const Context& ctx) {
    auto n = ParseDecimal(ctx.Query("partNumber"));
    if (!n || *n < 1 || *n > store::kMaxPartNumber) {
      return Error(ErrorCode::kInvalidArgument,
                   "Part number must be an integer between 1 and 10000, inclusive");
    }
    return static_cast<int>(*n);
  }

  Result<Response> CreateMultipartUpload(Context& ctx) {
    LB_RETURN_IF_ERROR(store::ValidateKey(ctx.endpoint.key));
    LB_RETURN_IF_ERROR(RejectUnsupportedHeaders(ctx.request.headers));
    auto headers = StoredHeadersFrom(ctx.request.headers);
    if (!headers) return headers.error();
    store::Upload upload;
    upload.bucket = ctx.endpoint.bucket;
    upload.key = ctx.endpoint.key;
    upload.headers = std::move(*headers);
    auto owner = ApplyRequestedAcl(ctx, upload.headers);
    if (!owner) return owner.error();
    upload.owner = std::move(*owner);
    if (auto a = ctx.Header("x-amz-checksum-algorithm")) {
      auto parsed = ParseChecksumName(*a);
      if (!parsed) return Error(ErrorCode::kInvalidRequest, "Unknown checksum algorithm.");
      upload.checksum_algorithm = *parsed;
      upload.checksum_type = *parsed == ChecksumAlgorithm::kCrc64Nvme ? "FULL_OBJECT" : "COMPOSITE";
      if (auto t = ctx.Header("x-amz-checksum-type")) {
        std::string type = AsciiUpper(*t);
        if (type != "FULL_OBJECT" && type != "COMPOSITE") {
          return Error(ErrorCode::kInvalidRequest,
                       "x-amz-checksum-type must be COMPOSITE or FULL_OBJECT.");
        }
        bool is_sha = *parsed == ChecksumAlgorithm::kSha1 || *parsed == ChecksumAlgorithm::kSha256;
        if ((type == "FULL_OBJECT" && is_sha) ||
            (type == "COMPOSITE" && *parsed == ChecksumAlgorithm::kCrc64Nvme)) {
          return Error(ErrorCode::kInvalidRequest,
                       "The checksum type is not supported for this algorithm.");
        }
        upload.checksum_type = type;
      }
    }
    auto created = store.CreateUpload(std::move(upload));
    if (!created) return created.error();
    XmlWriter xml("InitiateMultipartUploadResult");
    xml.Element("Bucket", created->bucket).Element("Key", created->key);
    xml.Element("UploadId", created->upload_id);
    Response r = XmlResponse(xml.Finish());
    if (created->checksum_algorithm != ChecksumAlgorithm::kNone) {
      r.SetHeader("x-amz-checksum-algorithm",
                  std::string(ChecksumName(created->checksum_algorithm)));
      r.SetHeader("x-amz-checksum-type", created->checksum_type);
    }
    return r;
  }

  // An object's bytes must say how many they are (Content-Length, or chunked framing): a PUT
  // with neither is 411 MissingContentLength, as on AWS, not an empty object.
  static Status RequireLength(const Context& ctx) {
    if (ctx.request.content_length || FindHeader(ctx.request.headers, "transfer-encoding")) {
      return Status::Ok();
    }
    return Error(ErrorCode::kMissingContentLength);
  }

  Result<Response> UploadPart(Context& ctx) {
    LB_RETURN_IF_ERROR(RequireLength(ctx));
    auto number = PartNumber(ctx);
    if (!number) return number.error();
    auto upload = FindUpload(ctx);
    if (!upload) return upload.error();
    LB_RETURN_IF_ERROR(store.CheckSpaceFor(ctx.request.content_length.value_or(0)));
    auto blob = store.NewBlob();
    if (!blob) return blob.error();
    store::BlobWriter* writer = blob->get();
    auto body = ReceiveBody(ctx, options.s3.max_object_bytes, upload->checksum_algorithm,
                            [&](std::string_view d) { return writer->Append(d); });
    if (!body) return body.error();
    if (upload->checksum_algorithm != ChecksumAlgorithm::kNone &&
        body->checksum.algorithm != upload->checksum_algorithm) {
      return Error(ErrorCode::kInvalidRequest,
                   "The upload was created with checksum algorithm " +
                       std::string(ChecksumName(upload->checksum_algorithm)) +
                       "; parts must use it too.");
    }
    store::Part part;
    part.number = *number;
    part.etag = body->md5_hex;
    part.checksum = body->checksum;
    auto stored = store.PutPart(*upload, std::move(part), std::move(*blob));
    if (!stored) return stored.error();
    Response r;
    r.SetHeader("etag", Quote(stored->etag));
    if (upload->checksum_algorithm != ChecksumAlgorithm::kNone) {
      r.SetHeader(std::string(ChecksumHeader(upload->checksum_algorithm)), body->checksum.value);
    }
    return r;
  }

  Result<Response> UploadPartCopy(Context& ctx) {
    auto number = PartNumber(ctx);
    if (!number) return number.error();
    auto source = ParseCopySource(ctx);
    if (!source) return source.error();
    LB_RETURN_IF_ERROR(Authorize(ctx, "s3:GetObject", source->bucket, source->key));
    auto upload = FindUpload(ctx);
    if (!upload) return upload.error();
    auto opened = store.GetObject(source->bucket, source->key);
    if (!opened) return opened.error();
    LB_RETURN_IF_ERROR(CheckConditions(ctx.request.headers, opened->info, "x-amz-copy-source-"));
    ByteRange range{0, opened->info.size};
    if (auto r = ctx.Header("x-amz-copy-source-range")) {
      auto parsed = ParseCopySourceRange(*r, opened->info.size);
      if (!parsed) return parsed.error();
      range = *parsed;
    }
    if (range.length > options.s3.max_object_bytes) return Error(ErrorCode::kEntityTooLarge);
    auto copied = CopyBody(*opened->body, range.first, range.length, upload->checksum_algorithm);
    if (!copied) return copied.error();
    store::Part part;
    part.number = *number;
    part.etag = copied->md5_hex;
    part.checksum = copied->checksum;
    auto stored = store.PutPart(*upload, std::move(part), std::move(copied->blob));
    if (!stored) return stored.error();
    XmlWriter xml("CopyPartResult");
    xml.Element("LastModified", FormatIso8601(stored->last_modified_ms));
    xml.Element("ETag", Quote(stored->etag));
    if (upload->checksum_algorithm != ChecksumAlgorithm::kNone) {
      xml.Element("Checksum" + std::string(ChecksumName(upload->checksum_algorithm)),
                  stored->checksum.value);
    }
    return XmlResponse(xml.Finish());
  }

  // A completion that already happened: the object at the key is the one these parts made
  // (its ETag is theirs), so a retry after a lost answer gets the same answer, as from AWS
  // and RGW, instead of NoSuchUpload. Null when it is not.
  std::optional<ObjectInfo> AlreadyCompleted(const Context& ctx,
                                             const std::vector<store::CompletedPart>& parts) {
    std::vector<std::string> md5s;
    for (const auto& p : parts) md5s.push_back(p.etag);
    auto existing = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
    if (!existing || parts.empty() || existing->etag != store::MultipartEtag(md5s)) {
      return std::nullopt;
    }
    return *existing;
  }

  Result<Response> CompleteMultipartUpload(Context& ctx) {
    auto upload = FindUpload(ctx);
    if (!upload && upload.error().code() != ErrorCode::kNoSuchUpload) return upload.error();
    auto body = ReadSmallBody(ctx, /*checksum_headers=*/false);
    if (!body) return body.error();
    auto request = ParseCompleteRequest(*body);
    if (!request) return request.error();
    std::vector<store::CompletedPart> parts;
    parts.reserve(request->parts.size());
    for (const auto& p : request->parts) parts.push_back({p.part_number, p.etag});
    // x-amz-checksum-<algorithm>: the whole object's, FULL_OBJECT ("WgDhBQ==") or composite
    // ("…=-3"), compared with what the parts make before the object is committed.
    std::string expected_checksum;
    for (const Header& h : ctx.request.headers) {
      auto algorithm = ParseChecksumHeader(h.name);
      if (!algorithm) continue;
      if (!expected_checksum.empty()) {
        return Error(ErrorCode::kInvalidRequest, "Expecting a single x-amz-checksum- header.");
      }
      if (upload && upload->checksum_algorithm != ChecksumAlgorithm::kNone &&
          *algorithm != upload->checksum_algorithm) {
        return Error(ErrorCode::kInvalidRequest,
                     "The upload was created for " +
                         std::string(ChecksumName(upload->checksum_algorithm)) +
                         " checksums, not " + std::string(ChecksumName(*algorithm)) + ".");
      }
      expected_checksum = std::string(TrimWhitespace(h.value));
      if (expected_checksum.empty()) return Error(ErrorCode::kInvalidRequest, "Empty checksum.");
    }
    Result<ObjectInfo> info = Error(ErrorCode::kNoSuchUpload);
    if (upload) {
      info = store.CompleteUpload(*upload, parts, options.min_part_bytes, WritePrecondition(ctx),
                                  expected_checksum);
    }
    if (!info && info.error().code() == ErrorCode::kNoSuchUpload) {
      if (auto done = AlreadyCompleted(ctx, parts)) info = std::move(*done);
    }
    if (!info) return info.error();
    XmlWriter xml("CompleteMultipartUploadResult");
    std::string host(ctx.Header("host").value_or("localhost"));
    xml.Element("Location",
                "http://" + host + "/" + info->bucket + "/" + UriEncode(info->key, true));
    xml.Element("Bucket", info->bucket).Element("Key", info->key);
    xml.Element("ETag", Quote(info->etag));
    if (info->checksum.algorithm != ChecksumAlgorithm::kNone) {
      xml.Element("Checksum" + std::string(ChecksumName(info->checksum.algorithm)),
                  info->checksum.value);
      xml.Element("ChecksumType", info->checksum.type);
    }
    Response r = XmlResponse(xml.Finish());
    AddExpiration(ctx, r, *info);
    return r;
  }

  Result<Response> AbortMultipartUpload(Context& ctx) {
    auto upload = FindUpload(ctx);
    if (!upload) return upload.error();
    LB_RETURN_IF_ERROR(store.AbortUpload(*upload));
    Response r;
    r.status = 204;
    return r;
  }

  Result<Response> ListParts(Context& ctx) {
    auto upload = FindUpload(ctx);
    if (!upload) return upload.error();
    auto max_parts = MaxKeys(ctx, "max-parts");
    if (!max_parts) return max_parts.error();
    int marker = 0;
    if (ctx.HasQuery("part-number-marker")) {
      auto m = ParseDecimal(ctx.Query("part-number-marker"));
      if (!m) return Error(ErrorCode::kInvalidArgument, "part-number-marker must be an integer");
      marker = static_cast<int>(std::min<int64_t>(*m, store::kMaxPartNumber));
    }
    auto listed = store.ListParts(*upload, marker, *max_parts);
    if (!listed) return listed.error();
    XmlWriter xml("ListPartsResult");
    xml.Element("Bucket", upload->bucket).Element("Key", upload->key);
    xml.Element("UploadId", upload->upload_id);
    xml.Open("Initiator")
        .Element("ID", upload->owner)
        .Element("DisplayName", upload->owner)
        .Close("Initiator");
    xml.Open("Owner")
        .Element("ID", upload->owner)
        .Element("DisplayName", upload->owner)
        .Close("Owner");
    xml.Element("StorageClass", "STANDARD");
    xml.Element("PartNumberMarker", std::to_string(marker));
    xml.Element("NextPartNumberMarker", std::to_string(listed->next_part_number_marker));
    xml.Element("MaxParts", std::to_string(*max_parts));
    xml.Element("IsTruncated", listed->truncated ? "true" : "false");
    if (upload->checksum_algorithm != ChecksumAlgorithm::kNone) {
      xml.Element("ChecksumAlgorithm", ChecksumName(upload->checksum_algorithm));
      xml.Element("ChecksumType", upload->checksum_type);
    }
    for (const store::Part& p : listed->parts) {
      xml.Open("Part");
      xml.Element("PartNumber", std::to_string(p.number));
      xml.Element("LastModified", FormatIso8601(p.last_modified_ms));
      xml.Element("ETag", Quote(p.etag));
      xml.Element("Size", std::to_string(p.size));
      if (p.checksum.algorithm != ChecksumAlgorithm::kNone && !p.checksum.value.empty()) {
        xml.Element("Checksum" + std::string(ChecksumName(p.checksum.algorithm)), p.checksum.value);
      }
      xml.Close("Part");
    }
    return XmlResponse(xml.Finish());
  }

  Result<Response> ListMultipartUploads(Context& ctx) {
    auto max = MaxKeys(ctx, "max-uploads");
    if (!max) return max.error();
    auto url = UrlEncoding(ctx);
    if (!url) return url.error();
    auto enc = [&](std::string_view s) { return *url ? UriEncode(s, true) : std::string(s); };
    store::ListUploadsOptions opts;
    opts.prefix = std::string(ctx.Query("prefix"));
    opts.delimiter = std::string(ctx.Query("delimiter"));
    opts.key_marker = std::string(ctx.Query("key-marker"));
    opts.upload_id_marker = std::string(ctx.Query("upload-id-marker"));
    opts.max_uploads = *max;
    auto listed = store.ListUploads(ctx.endpoint.bucket, opts);
    if (!listed) return listed.error();
    XmlWriter xml("ListMultipartUploadsResult");
    xml.Element("Bucket", ctx.endpoint.bucket);
    xml.Element("KeyMarker", enc(opts.key_marker));
    xml.Element("UploadIdMarker", opts.upload_id_marker);
    xml.Element("NextKeyMarker", enc(listed->next_key_marker));
    xml.Element("NextUploadIdMarker", listed->next_upload_id_marker);
    xml.Element("Prefix", enc(opts.prefix));
    if (!opts.delimiter.empty()) xml.Element("Delimiter", enc(opts.delimiter));
    xml.Element("MaxUploads", std::to_string(opts.max_uploads));
    if (*url) xml.Element("EncodingType", "url");
    xml.Element("IsTruncated", listed->truncated ? "true" : "false");
    for (const store::Upload& u : listed->uploads) {
      xml.Open("Upload");
      xml.Element("Key", enc(u.key));
      xml.Element("UploadId", u.upload_id);
      xml.Open("Initiator")
          .Element("ID", u.owner)
          .Element("DisplayName", u.owner)
          .Close("Initiator");
      xml.Open("Owner").Element("ID", u.owner).Element("DisplayName", u.owner).Close("Owner");
      xml.Element("StorageClass", "STANDARD");
      xml.Element("Initiated", FormatIso8601(u.initiated_ms));
      if (u.checksum_algorithm != ChecksumAlgorithm::kNone) {
        xml.Element("ChecksumAlgorithm", ChecksumName(u.checksum_algorithm));
      }
      xml.Close("Upload");
    }
    for (const std::string& p : listed->common_prefixes) {
      xml.Open("CommonPrefixes").Element("Prefix", enc(p)).Close("CommonPrefixes");
    }
    return XmlResponse(xml.Finish());
  }

  // ----------------------------------------------------------------- dispatch

  Result<Response> Dispatch(Context& ctx) {
    if (ctx.endpoint.operation != Operation::kNotImplemented) {
      LB_RETURN_IF_ERROR(AuthorizeEndpoint(ctx));
    }
    switch (ctx.endpoint.operation) {
      case Operation::kGetBucketPolicy:
        return GetBucketPolicy(ctx);
      case Operation::kPutBucketPolicy:
        return PutBucketPolicy(ctx);
      case Operation::kDeleteBucketPolicy:
        return DeleteBucketPolicy(ctx);
      case Operation::kGetBucketPolicyStatus:
        return GetBucketPolicyStatus(ctx);
      case Operation::kGetBucketLifecycle:
        return GetBucketLifecycle(ctx);
      case Operation::kPutBucketLifecycle:
        return PutBucketLifecycle(ctx);
      case Operation::kDeleteBucketLifecycle:
        return DeleteBucketLifecycle(ctx);
      case Operation::kExplain:
        return Explain(ctx);
      case Operation::kGetObjectTagging:
        return GetObjectTagging(ctx);
      case Operation::kPutObjectTagging:
        return PutOrDeleteObjectTagging(ctx, true);
      case Operation::kDeleteObjectTagging:
        return PutOrDeleteObjectTagging(ctx, false);
      case Operation::kListBuckets:
        return ListBuckets(ctx);
      case Operation::kCreateBucket:
        return CreateBucket(ctx);
      case Operation::kHeadBucket:
        return HeadBucket(ctx);
      case Operation::kDeleteBucket:
        return DeleteBucket(ctx);
      case Operation::kGetBucketLocation:
        return GetBucketLocation(ctx);
      case Operation::kGetBucketVersioning:
        return GetBucketVersioning(ctx);
      case Operation::kGetBucketAcl:
      case Operation::kGetObjectAcl:
        return GetAcl(ctx);
      case Operation::kPutBucketAcl:
      case Operation::kPutObjectAcl:
        return PutAcl(ctx);
      case Operation::kGetBucketCors:
        return GetBucketCors(ctx);
      case Operation::kPutBucketCors:
        return PutBucketCors(ctx);
      case Operation::kDeleteBucketCors:
        return DeleteBucketDocument(ctx, store::BucketDocument::kCors);
      case Operation::kGetBucketOwnershipControls:
        return GetOwnershipControls(ctx);
      case Operation::kGetObjectAttributes:
        return GetObjectAttributes(ctx);
      case Operation::kPutBucketOwnershipControls:
        return PutOwnershipControls(ctx);
      case Operation::kDeleteBucketOwnershipControls:
        return DeleteBucketDocument(ctx, store::BucketDocument::kOwnership);
      case Operation::kGetPublicAccessBlock:
        return GetPublicAccessBlock(ctx);
      case Operation::kPutPublicAccessBlock:
        return PutPublicAccessBlock(ctx);
      case Operation::kDeletePublicAccessBlock:
        return DeleteBucketDocument(ctx, store::BucketDocument::kPublicAccessBlock);
      case Operation::kListObjects:
        return ListObjects(ctx, false);
      case Operation::kListObjectsV2:
        return ListObjects(ctx, true);
      case Operation::kListObjectVersions:
        return ListObjectVersions(ctx);
      case Operation::kListMultipartUploads:
        return ListMultipartUploads(ctx);
      case Operation::kDeleteObjects:
        return DeleteObjects(ctx);
      case Operation::kPutObject:
        return PutObject(ctx);
      case Operation::kCopyObject:
        return CopyObject(ctx);
      case Operation::kGetObject:
        return GetOrHeadObject(ctx, false);
      case Operation::kHeadObject:
        return GetOrHeadObject(ctx, true);
      case Operation::kDeleteObject:
        return DeleteObject(ctx);
      case Operation::kCreateMultipartUpload:
        return CreateMultipartUpload(ctx);
      case Operation::kUploadPart:
        return UploadPart(ctx);
      case Operation::kUploadPartCopy:
        return UploadPartCopy(ctx);
      case Operation::kCompleteMultipartUpload:
        return CompleteMultipartUpload(ctx);
      case Operation::kAbortMultipartUpload:
        return AbortMultipartUpload(ctx);
      case Operation::kListParts:
        return ListParts(ctx);
      case Operation::kHealth:
      case Operation::kMetrics:
      case Operation::kCorsPreflight:  // answered before authentication (Preflight)
      case Operation::kNotImplemented:
        break;
    }
    return Error(ErrorCode::kNotImplemented,
                 ctx.endpoint.detail.empty()
                     ? std::string()
                     : ctx.endpoint.detail + " is not implemented by logbucket.");
  }

  Response Handle(Request& request) {
    std::string client = ClientAddress(
        request.peer_address, FindHeader(request.headers, "x-forwarded-for"), trusted_proxies);
    std::string_view operation = "Invalid";  // until routed
    Response r = HandleFor(request, client, operation);
    if (client != request.peer_address) r.log_client = std::move(client);
    r.operation = operation;
    return r;
  }

  // aws:SecureTransport: only a trusted proxy can tell us the client used TLS (this listener
  // speaks plain HTTP).
  bool SecureTransport(const Request& request) const {
    auto proto = FindHeader(request.headers, "x-forwarded-proto");
    if (!proto || !EqualsIgnoreCase(*proto, "https")) return false;
    auto peer = ParseIp(request.peer_address);
    if (!peer) return false;
    return std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                       [&](const Cidr& c) { return CidrContains(c, *peer); });
  }

  Response HandleFor(Request& request, const std::string& client, std::string_view& operation) {
    auto query = sigv4::ParseQuery(request.raw_query);
    if (!query) return ErrorResponse(nullptr, request, {Error(ErrorCode::kInvalidURI), {}});
    Context ctx{request, std::move(*query), {}, {}, {}, options.clock->NowMs()};
    ctx.client_ip = client;
    ctx.secure_transport = SecureTransport(request);
    Response r = HandleIn(ctx, operation);
    // A browser's cross-origin request: the bucket's CORS rules decide what it may read.
    if (auto origin = ctx.Header("origin"); origin && !ctx.endpoint.bucket.empty() &&
                                            ctx.endpoint.operation != Operation::kCorsPreflight) {
      AddCorsHeaders(ctx, *origin, r);
    }
    return r;
  }

  Response HandleIn(Context& ctx, std::string_view& operation) {
    Request& request = ctx.request;
    RouteInput route{request.method,   FindHeader(request.headers, "host").value_or(""),
                     request.raw_path, &ctx.query,
                     &request.headers, &options.s3.domains};
    auto endpoint = Route(route);
    if (!endpoint) return ErrorResponse(nullptr, request, {endpoint.error(), {}});
    ctx.endpoint = std::move(*endpoint);
    operation = OperationName(ctx.endpoint.operation);
    if (ctx.endpoint.operation == Operation::kHealth) {
      Response r;
      r.SetHeader("content-type", "text/plain");
      r.body = "ok\n";
      return r;
    }
    if (ctx.endpoint.operation == Operation::kMetrics) {
      if (options.metrics_page) return options.metrics_page(request);
      return ErrorResponse(&ctx, request,
                           {Error(ErrorCode::kNotImplemented, "metrics are off"), {}});
    }

    if (ctx.endpoint.operation == Operation::kCorsPreflight) return Preflight(ctx);
    if (ctx.endpoint.operation == Operation::kNotImplemented) {
      // Nothing to protect: say at once that the API is not offered.
      return ErrorResponse(&ctx, request, {Dispatch(ctx).error(), {}});
    }
    sigv4::RequestView view{request.method, request.raw_path, request.raw_query, &request.headers};
    std::optional<std::string> host_bucket;
    if (ctx.HasQuery("AWSAccessKeyId") ||
        ctx.Header("authorization").value_or("").substr(0, 4) == "AWS ") {
      // Signature Version 2 signs the bucket of a virtual-hosted request as part of the path.
      host_bucket = VirtualHostedBucket(route.host, route.domains);
      if (host_bucket) view.host_bucket = *host_bucket;
    }
    if (!sigv4::HasCredentials(view, ctx.query)) {
      // Anonymous: what a bucket policy grants to "*" (and nothing else).
      ctx.anonymous = true;
      auto result = Dispatch(ctx);
      Response r = result ? std::move(*result) : ErrorResponse(&ctx, request, {result.error(), {}});
      r.log_principal = "anonymous";
      return r;
    }
    std::optional<store::User> user;
    auto lookup = [&](std::string_view access_key) -> std::optional<std::string> {
      user = users.FindByAccessKey(std::string(access_key));
      if (!user) return std::nullopt;
      return user->secret_key;
    };
    Failure failure;
    auto auth = sigv4::Verify(view, ctx.query, lookup, ctx.now_ms, &failure.mismatch);
    if (!auth) {
      failure.status = auth.error();
      Response r = ErrorResponse(&ctx, request, failure);
      r.log_principal = user ? user->name : "-";
      return r;
    }
    ctx.user = std::move(*user);
    ctx.auth = std::move(*auth);
    auto result = Dispatch(ctx);
    Response r = result ? std::move(*result) : ErrorResponse(&ctx, request, {result.error(), {}});
    if (!result && result.error().code() == ErrorCode::kInternalError) {
      Log().error("{} {} {}: {}", request.request_id, request.method, request.raw_path,
                  result.error().message());
    }
    r.log_principal = ctx.user.name;
    return r;
  }
};

Service::Service(ServiceOptions options, store::Store& store, store::UserDirectory& users)
    : impl_(std::make_unique<Impl>(std::move(options), store, users)) {}

Service::~Service() = default;

http::Response Service::Handle(http::Request& request) { return impl_->Handle(request); }

}  // namespace logbucket::s3
