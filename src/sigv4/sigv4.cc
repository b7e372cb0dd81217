#include "sigv4/sigv4.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/encoding.h"

namespace logbucket::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr size_t kMaxChunkLine = 4096;
constexpr size_t kMaxTrailerBytes = 16 * 1024;

// Canonical header value: trimmed, runs of spaces folded to one.
std::string CanonicalHeaderValue(std::string_view value) {
  value = TrimWhitespace(value);
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      out.push_back(c);
      in_space = false;
    }
  }
  return out;
}

std::string CanonicalHeaders(const Headers& headers, const std::vector<std::string>& signed_names) {
  std::string out;
  for (const std::string& name : signed_names) {
    std::string joined;
    bool first = true;
    for (const Header& h : headers) {
      if (h.name != name) continue;
      if (!first) joined.push_back(',');
      joined += CanonicalHeaderValue(h.value);
      first = false;
    }
    out += name;
    out.push_back(':');
    out += joined;
    out.push_back('\n');
  }
  return out;
}

std::string CanonicalRequest(const RequestView& request, const QueryParams& query,
                             std::string_view skip_query_key,
                             const std::vector<std::string>& signed_names,
                             std::string_view signed_headers, std::string_view payload_hash) {
  std::string out;
  out += request.method;
  out.push_back('\n');
  out += CanonicalUri(request.raw_path);
  out.push_back('\n');
  out += CanonicalQuery(query, skip_query_key);
  out.push_back('\n');
  out += CanonicalHeaders(*request.headers, signed_names);
  out.push_back('\n');
  out += signed_headers;
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += Sha256Hex(canonical_request);
  return out;
}

struct Credential {
  std::string access_key, date, region, service;
  std::string Scope() const { return date + "/" + region + "/" + service + "/aws4_request"; }
};

Result<Credential> ParseCredential(std::string_view text, ErrorCode error) {
  auto parts = Split(text, '/');
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[0].empty() || parts[1].size() != 8 ||
      parts[3] != "s3") {
    return Error(error, "Credential must be <key>/<yyyymmdd>/<region>/s3/aws4_request");
  }
  return Credential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
                    std::string(parts[3])};
}

Result<std::vector<std::string>> ParseSignedHeaders(std::string_view text, ErrorCode error) {
  std::vector<std::string> names;
  for (std::string_view n : Split(text, ';')) {
    if (n.empty()) return Error(error, "empty name in SignedHeaders");
    names.emplace_back(AsciiLower(n));
  }
  if (!std::is_sorted(names.begin(), names.end())) {
    // Clients sort them; the canonical request uses the order given.
  }
  if (std::find(names.begin(), names.end(), "host") == names.end()) {
    return Error(error, "SignedHeaders must include host");
  }
  return names;
}

// The signing key changes once a day per secret and region: derive it once per thread instead
// of four HMACs per request. Keyed by a hash of the secret, never the secret itself.
std::string CachedSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  thread_local std::unordered_map<std::string, std::string> cache;
  std::string id = Sha256(secret);
  id.append(date).push_back('/');
  id.append(region).push_back('/');
  id.append(service);
  auto it = cache.find(id);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 256) cache.clear();
  std::string key = SigningKey(secret, date, region, service);
  cache.emplace(std::move(id), key);
  return key;
}

Result<Authenticated> VerifyHeader(const RequestView& request, const QueryParams& query,
                                   std::string_view authorization, const SecretLookup& lookup,
                                   int64_t now_ms, MismatchDetails* details) {
  constexpr ErrorCode kMalformed = ErrorCode::kAuthorizationHeaderMalformed;
  if (authorization.substr(0, kAlgorithm.size()) != kAlgorithm) {
    return Error(kMalformed, "unsupported authorization type");
  }
  std::string_view rest = authorization.substr(kAlgorithm.size());
  std::string_view credential_text, signed_text, signature;
  for (std::string_view part : Split(rest, ',')) {
    part = TrimWhitespace(part);
    if (part.substr(0, 11) == "Credential=")
      credential_text = part.substr(11);
    else if (part.substr(0, 14) == "SignedHeaders=")
      signed_text = part.substr(14);
    else if (part.substr(0, 10) == "Signature=")
      signature = part.substr(10);
  }
  if (credential_text.empty() || signed_text.empty() || signature.empty()) {
    return Error(kMalformed, "Authorization needs Credential, SignedHeaders and Signature");
  }
  auto credential = ParseCredential(credential_text, kMalformed);
  if (!credential) return credential.error();
  auto signed_names = ParseSignedHeaders(signed_text, kMalformed);
  if (!signed_names) return signed_names.error();

  std::optional<std::string_view> amz_date = FindHeader(*request.headers, "x-amz-date");
  std::optional<int64_t> request_ms;
  std::string amz_date_text;
  if (amz_date) {
    request_ms = ParseAmzDate(*amz_date);
    amz_date_text = std::string(*amz_date);
  } else if (auto date = FindHeader(*request.headers, "date")) {
    request_ms = ParseHttpDate(*date);
    if (request_ms) amz_date_text = FormatAmzDate(*request_ms);
  }
  if (!request_ms) {
    return Error(ErrorCode::kAccessDenied,
                 "AWS authentication requires a valid Date or x-amz-date header");
  }
  if (amz_date_text.substr(0, 8) != credential->date) {
    return Error(kMalformed, "the credential date does not match x-amz-date");
  }
  LB_RETURN_IF_ERROR(CheckSkew(*request_ms, now_ms));

  auto payload_header = FindHeader(*request.headers, "x-amz-content-sha256");
  if (!payload_header) {
    return Error(ErrorCode::kInvalidRequest,
                 "Missing required header for this request: "
                 "x-amz-content-sha256");
  }
  auto mode = ParsePayloadMode(*payload_header);
  if (!mode) return mode.error();

  auto secret = lookup(credential->access_key);
  if (!secret) return Error(ErrorCode::kInvalidAccessKeyId);

  std::string canonical =
      CanonicalRequest(request, query, {}, *signed_names, signed_text, *payload_header);
  std::string scope = credential->Scope();
  std::string to_sign = StringToSign(amz_date_text, scope, canonical);
  std::string key =
      CachedSigningKey(*secret, credential->date, credential->region, credential->service);
  std::string expected = HexEncode(HmacSha256(key, to_sign));
  if (!ConstantTimeEquals(expected, AsciiLower(signature))) {
    if (details != nullptr) {
      *details = {to_sign, canonical, std::string(signature)};
    }
    return Error(ErrorCode::kSignatureDoesNotMatch);
  }
  Authenticated auth;
  auth.access_key = credential->access_key;
  auth.payload_mode = *mode;
  if (*mode == PayloadMode::kSha256) auth.payload_sha256 = AsciiLower(*payload_header);
  auth.signing = {std::move(key), std::move(scope), std::move(amz_date_text), expected};
  return auth;
}

Result<Authenticated> VerifyPresigned(const RequestView& request, const QueryParams& query,
                                      const SecretLookup& lookup, int64_t now_ms,
                                      MismatchDetails* details) {
  constexpr ErrorCode kBad = ErrorCode::kAuthorizationQueryParametersError;
  auto get = [&](std::string_view k) -> std::string_view {
    const QueryParam* p = FindQuery(query, k);
    return p != nullptr ? std::string_view(p->value) : std::string_view();
  };
  if (get("X-Amz-Algorithm") != kAlgorithm) {
    return Error(kBad, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  std::string_view credential_text = get("X-Amz-Credential");
  std::string_view date_text = get("X-Amz-Date");
  std::string_view expires_text = get("X-Amz-Expires");
  std::string_view signed_text = get("X-Amz-SignedHeaders");
  std::string_view signature = get("X-Amz-Signature");
  if (credential_text.empty() || date_text.empty() || signed_text.empty() || signature.empty()) {
    return Error(kBad,
                 "Query-string authentication requires the X-Amz-Algorithm, "
                 "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                 "and X-Amz-Expires parameters.");
  }
  auto credential = ParseCredential(credential_text, kBad);
  if (!credential) return credential.error();
  auto signed_names = ParseSignedHeaders(signed_text, kBad);
  if (!signed_names) return signed_names.error();
  auto request_ms = ParseAmzDate(date_text);
  if (!request_ms) return Error(kBad, "X-Amz-Date must be in the ISO8601 basic format");
  if (date_text.substr(0, 8) != credential->date) {
    return Error(kBad, "the credential date does not match X-Amz-Date");
  }
  auto expires = ParseDecimal(expires_text);
  if (!expires || *expires > kMaxPresignExpiresSeconds) {
    return Error(kBad, "X-Amz-Expires must be a number of seconds between 0 and 604800");
  }
  if (*request_ms > now_ms + kMaxClockSkewMs) {
    return Error(ErrorCode::kAccessDenied, "Request is not valid yet");
  }
  if (now_ms > *request_ms + *expires * 1000) {
    return Error(ErrorCode::kExpiredPresignedRequest);
  }
  auto secret = lookup(credential->access_key);
  if (!secret) return Error(ErrorCode::kInvalidAccessKeyId);

  // The payload hash is UNSIGNED-PAYLOAD unless the client put X-Amz-Content-Sha256 in the query.
  std::string_view payload = get("X-Amz-Content-Sha256");
  std::string payload_hash(payload.empty() ? kUnsignedPayload : payload);
  std::string canonical =
      CanonicalRequest(request, query, "X-Amz-Signature", *signed_names, signed_text, payload_hash);
  std::string scope = credential->Scope();
  std::string to_sign = StringToSign(date_text, scope, canonical);
  std::string key =
      CachedSigningKey(*secret, credential->date, credential->region, credential->service);
  std::string expected = HexEncode(HmacSha256(key, to_sign));
  if (!ConstantTimeEquals(expected, AsciiLower(signature))) {
    if (details != nullptr) *details = {to_sign, canonical, std::string(signature)};
    return Error(ErrorCode::kSignatureDoesNotMatch);
  }
  Authenticated auth;
  auth.access_key = credential->access_key;
  auth.presigned = true;
  auth.payload_mode = PayloadMode::kUnsigned;
  if (!payload.empty() && payload != kUnsignedPayload) {
    auto mode = ParsePayloadMode(payload);
    if (!mode || *mode != PayloadMode::kSha256) {
      return Error(kBad, "X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or a hex SHA-256");
    }
    auth.payload_mode = PayloadMode::kSha256;
    auth.payload_sha256 = AsciiLower(payload);
  }
  auth.signing = {std::move(key), std::move(scope), std::string(date_text), expected};
  return auth;
}

}  // namespace

Status CheckSkew(int64_t request_ms, int64_t now_ms) {
  if (request_ms > now_ms + kMaxClockSkewMs || request_ms < now_ms - kMaxClockSkewMs) {
    return Error(ErrorCode::kRequestTimeTooSkewed,
                 "The difference between the request time (" + FormatIso8601(request_ms) +
                     ") and the server's time (" + FormatIso8601(now_ms) + ") is too large.");
  }
  return Status::Ok();
}

Result<PayloadMode> ParsePayloadMode(std::string_view value) {
  if (value == kUnsignedPayload) return PayloadMode::kUnsigned;
  if (value == kStreamingSigned) return PayloadMode::kStreamingSigned;
  if (value == kStreamingSignedTrailer) return PayloadMode::kStreamingSignedTrailer;
  if (value == kStreamingUnsignedTrailer) return PayloadMode::kStreamingUnsignedTrailer;
  if (value.size() == 64 && HexDecode(value).has_value()) return PayloadMode::kSha256;
  return Error(ErrorCode::kInvalidArgument,
               "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a "
               "STREAMING-* value or a hex SHA-256");
}

bool IsStreaming(PayloadMode mode) {
  return mode == PayloadMode::kStreamingSigned || mode == PayloadMode::kStreamingSignedTrailer ||
         mode == PayloadMode::kStreamingUnsignedTrailer;
}

std::string CanonicalUri(std::string_view raw_path) {
  // S3 does not normalise paths ("//" and ".." are part of keys): decode once, encode once.
  auto decoded = UriDecode(raw_path);
  return UriEncode(decoded ? *decoded : std::string(raw_path), /*keep_slash=*/true);
}

std::string CanonicalQuery(const QueryParams& query, std::string_view skip_key) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const QueryParam& p : query) {
    if (!skip_key.empty() && p.key == skip_key) continue;
    encoded.emplace_back(UriEncode(p.key, false), UriEncode(p.value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::optional<QueryParams> ParseQuery(std::string_view raw_query) {
  QueryParams out;
  if (raw_query.empty()) return out;
  for (std::string_view part : Split(raw_query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto key = UriDecode(part.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : UriDecode(part.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.push_back({std::move(*key), std::move(*value)});
  }
  return out;
}

std::string SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service) {
  std::string k = HmacSha256("AWS4" + std::string(secret), date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  return HmacSha256(k, "aws4_request");
}

std::string ChunkStringToSign(const SigningContext& ctx, std::string_view previous_signature,
                              std::string_view chunk_sha256_hex) {
  std::string out = "AWS4-HMAC-SHA256-PAYLOAD\n";
  out += ctx.amz_date;
  out.push_back('\n');
  out += ctx.scope;
  out.push_back('\n');
  out += previous_signature;
  out.push_back('\n');
  out += kEmptySha256;
  out.push_back('\n');
  out += chunk_sha256_hex;
  return out;
}

bool HasCredentials(const RequestView& request, const QueryParams& query) {
  return FindHeader(*request.headers, "authorization").has_value() ||
         FindQuery(query, "X-Amz-Signature") != nullptr ||
         FindQuery(query, "X-Amz-Credential") != nullptr ||
         FindQuery(query, "Signature") != nullptr || FindQuery(query, "AWSAccessKeyId") != nullptr;
}

Result<Authenticated> Verify(const RequestView& request, const QueryParams& query,
                             const SecretLookup& lookup, int64_t now_ms, MismatchDetails* details) {
  if (auto authorization = FindHeader(*request.headers, "authorization")) {
    if (authorization->substr(0, 4) == "AWS ") {
      return VerifyV2Header(request, query, *authorization, lookup, now_ms, details);
    }
    return VerifyHeader(request, query, *authorization, lookup, now_ms, details);
  }
  if (FindQuery(query, "X-Amz-Signature") != nullptr ||
      FindQuery(query, "X-Amz-Credential") != nullptr) {
    return VerifyPresigned(request, query, lookup, now_ms, details);
  }
  if (FindQuery(query, "Signature") != nullptr || FindQuery(query, "AWSAccessKeyId") != nullptr) {
    return VerifyV2Query(request, query, lookup, now_ms, details);
  }
  return Error(ErrorCode::kAccessDenied, "anonymous request");
}

void SignHeaders(std::string_view method, std::string_view raw_path, std::string_view raw_query,
                 Headers& headers, std::string_view payload_sha256, const ClientCredentials& creds,
                 int64_t now_ms) {
  std::string amz_date = FormatAmzDate(now_ms);
  std::string date = amz_date.substr(0, 8);
  headers.push_back({"x-amz-date", amz_date});
  headers.push_back({"x-amz-content-sha256", std::string(payload_sha256)});
  std::vector<std::string> names;
  for (const Header& h : headers) names.push_back(h.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string signed_headers;
  for (const std::string& n : names) {
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += n;
  }
  auto query = ParseQuery(raw_query).value_or(QueryParams{});
  RequestView view{method, raw_path, raw_query, &headers};
  std::string canonical = CanonicalRequest(view, query, {}, names, signed_headers, payload_sha256);
  std::string scope = date + "/" + creds.region + "/s3/aws4_request";
  std::string key = SigningKey(creds.secret_key, date, creds.region, "s3");
  std::string signature = HexEncode(HmacSha256(key, StringToSign(amz_date, scope, canonical)));
  headers.push_back({"authorization", std::string(kAlgorithm) + " Credential=" + creds.access_key +
                                          "/" + scope + ", SignedHeaders=" + signed_headers +
                                          ", Signature=" + signature});
}

std::string PresignQuery(std::string_view method, std::string_view raw_path,
                         std::string_view raw_query, std::string_view host,
                         const ClientCredentials& creds, int64_t now_ms, int64_t expires_seconds) {
  std::string amz_date = FormatAmzDate(now_ms);
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + creds.region + "/s3/aws4_request";
  QueryParams query = ParseQuery(raw_query).value_or(QueryParams{});
  query.push_back({"X-Amz-Algorithm", std::string(kAlgorithm)});
  query.push_back({"X-Amz-Credential", creds.access_key + "/" + scope});
  query.push_back({"X-Amz-Date", amz_date});
  query.push_back({"X-Amz-Expires", std::to_string(expires_seconds)});
  query.push_back({"X-Amz-SignedHeaders", "host"});
  Headers headers{{"host", std::string(host)}};
  RequestView view{method, raw_path, {}, &headers};
  std::string canonical = CanonicalRequest(view, query, {}, {"host"}, "host", kUnsignedPayload);
  std::string key = SigningKey(creds.secret_key, date, creds.region, "s3");
  std::string signature = HexEncode(HmacSha256(key, StringToSign(amz_date, scope, canonical)));
  return CanonicalQuery(query) + "&X-Amz-Signature=" + signature;
}

// ---------------------------------------------------------------- ChunkedDecoder

ChunkedDecoder::ChunkedDecoder(PayloadMode mode, SigningContext context)
    : mode_(mode), context_(std::move(context)), previous_signature_(context_.seed_signature) {}

Status ChunkedDecoder::Feed(std::string_view input, std::string& out) {
  const bool is_signed = mode_ != PayloadMode::kStreamingUnsignedTrailer;
  while (!input.empty()) {
    switch (state_) {
      case State::kSizeLine:
      case State::kTrailerLine: {
        size_t lf = input.find('\n');
        std::string_view piece = input.substr(0, lf == std::string_view::npos ? input.size() : lf);
        line_.append(piece);
        if (state_ == State::kTrailerLine) trailer_bytes_ += piece.size() + 1;
        if (line_.size() > kMaxChunkLine || trailer_bytes_ > kMaxTrailerBytes) {
          return Error(ErrorCode::kIncompleteBody, "aws-chunked: header line too long");
        }
        if (lf == std::string_view::npos) return Status::Ok();
        input.remove_prefix(lf + 1);
        if (line_.empty() || line_.back() != '\r') {
          return Error(ErrorCode::kIncompleteBody, "aws-chunked: line not ended by CRLF");
        }
        line_.pop_back();
        LB_RETURN_IF_ERROR(state_ == State::kSizeLine ? FinishSizeLine() : FinishTrailerLine());
        line_.clear();
        break;
      }
      case State::kData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
        std::string_view data = input.substr(0, take);
        if (is_signed) chunk_hash_->Update(data);
        out.append(data);
        decoded_bytes_ += take;
        remaining_ -= take;
        input.remove_prefix(take);
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (input.front() != '\r') {
          return Error(ErrorCode::kIncompleteBody, "aws-chunked: chunk data not followed by CRLF");
        }
        input.remove_prefix(1);
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (input.front() != '\n') {
          return Error(ErrorCode::kIncompleteBody, "aws-chunked: chunk data not followed by CRLF");
        }
        input.remove_prefix(1);
        LB_RETURN_IF_ERROR(FinishChunk());
        break;
      case State::kDone:
        return Error(ErrorCode::kIncompleteBody, "aws-chunked: data after the final chunk");
    }
  }
  return Status::Ok();
}

Status ChunkedDecoder::FinishSizeLine() {
  const bool is_signed = mode_ != PayloadMode::kStreamingUnsignedTrailer;
  std::string_view line = line_;
  size_t semi = line.find(';');
  std::string_view size_text = line.substr(0, semi);
  if (size_text.empty() || size_text.size() > 15) {
    return Error(ErrorCode::kIncompleteBody, "aws-chunked: bad chunk size");
  }
  uint64_t size = 0;
  for (char c : size_text) {
    int v = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0) return Error(ErrorCode::kIncompleteBody, "aws-chunked: bad chunk size");
    size = size * 16 + static_cast<uint64_t>(v);
  }
  chunk_signature_.clear();
  if (is_signed) {
    constexpr std::string_view kSig = ";chunk-signature=";
    if (semi == std::string_view::npos || line.substr(semi, kSig.size()) != kSig) {
      return Error(ErrorCode::kSignatureDoesNotMatch, "aws-chunked: chunk signature missing");
    }
    chunk_signature_ = AsciiLower(line.substr(semi + kSig.size()));
    chunk_hash_ = NewSha256();
  }
  remaining_ = size;
  last_chunk_ = size == 0;
  state_ = size == 0 ? State::kDataCr : State::kData;
  if (size == 0) {
    // The final chunk has no data and, in the trailer modes, no CRLF of its own: trailers (or
    // the blank line) follow at once.
    if (is_signed) LB_RETURN_IF_ERROR(FinishChunk());
    state_ = State::kTrailerLine;
  }
  return Status::Ok();
}

Status ChunkedDecoder::FinishChunk() {
  if (mode_ != PayloadMode::kStreamingUnsignedTrailer) {
    std::string chunk_hex = HexEncode(chunk_hash_->Finish());
    std::string expected = HexEncode(HmacSha256(
        context_.signing_key, ChunkStringToSign(context_, previous_signature_, chunk_hex)));
    if (!ConstantTimeEquals(expected, chunk_signature_)) {
      return Error(ErrorCode::kSignatureDoesNotMatch,
                   "aws-chunked: a chunk signature does not match its data");
    }
    previous_signature_ = expected;
  }
  state_ = last_chunk_ ? State::kTrailerLine : State::kSizeLine;
  return Status::Ok();
}

Status ChunkedDecoder::FinishTrailerLine() {
  if (line_.empty()) {
    // End of the trailer section.
    if (mode_ == PayloadMode::kStreamingSignedTrailer && !trailers_.empty()) {
      if (trailer_signature_.empty()) {
        return Error(ErrorCode::kSignatureDoesNotMatch, "aws-chunked: trailer signature missing");
      }
      std::string canonical;
      for (const Header& h : trailers_) canonical += h.name + ":" + h.value + "\n";
      std::string to_sign = "AWS4-HMAC-SHA256-TRAILER\n" + context_.amz_date + "\n" +
                            context_.scope + "\n" + previous_signature_ + "\n" +
                            Sha256Hex(canonical);
      std::string expected = HexEncode(HmacSha256(context_.signing_key, to_sign));
      if (!ConstantTimeEquals(expected, trailer_signature_)) {
        return Error(ErrorCode::kSignatureDoesNotMatch,
                     "aws-chunked: the trailer signature does not match");
      }
    }
    state_ = State::kDone;
    return Status::Ok();
  }
  size_t colon = line_.find(':');
  if (colon == std::string::npos) {
    return Error(ErrorCode::kIncompleteBody, "aws-chunked: malformed trailer");
  }
  std::string name = AsciiLower(TrimWhitespace(std::string_view(line_).substr(0, colon)));
  std::string value(TrimWhitespace(std::string_view(line_).substr(colon + 1)));
  if (name == "x-amz-trailer-signature") {
    trailer_signature_ = AsciiLower(value);
  } else {
    if (trailers_.size() >= 8) {
      return Error(ErrorCode::kIncompleteBody, "aws-chunked: too many trailers");
    }
    trailers_.push_back({std::move(name), std::move(value)});
  }
  return Status::Ok();
}

}  // namespace logbucket::sigv4
