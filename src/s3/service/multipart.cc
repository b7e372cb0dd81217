#include "s3/service/impl.h"

namespace logbucket::s3 {

Result<store::Upload> Service::Impl::FindUpload(const Context& ctx) {
  std::string upload_id(ctx.Query("uploadId"));
  if (upload_id.empty()) return Error(ErrorCode::kNoSuchUpload);
  return store.GetUpload(ctx.endpoint.bucket, ctx.endpoint.key, upload_id);
}

Result<int> Service::Impl::PartNumber(const Context& ctx) {
  auto n = ParseDecimal(ctx.Query("partNumber"));
  if (!n || *n < 1 || *n > store::kMaxPartNumber) {
    return Error(ErrorCode::kInvalidArgument,
                 "Part number must be an integer between 1 and 10000, inclusive");
  }
  return static_cast<int>(*n);
}

Result<Response> Service::Impl::CreateMultipartUpload(Context& ctx) {
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
    r.SetHeader("x-amz-checksum-algorithm", std::string(ChecksumName(created->checksum_algorithm)));
    r.SetHeader("x-amz-checksum-type", created->checksum_type);
  }
  return r;
}

// An object's bytes must say how many they are (Content-Length, or chunked framing): a PUT
// with neither is 411 MissingContentLength, as on AWS, not an empty object.
Status Service::Impl::RequireLength(const Context& ctx) {
  if (ctx.request.content_length || FindHeader(ctx.request.headers, "transfer-encoding")) {
    return Status::Ok();
  }
  return Error(ErrorCode::kMissingContentLength);
}

Result<Response> Service::Impl::UploadPart(Context& ctx) {
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

Result<Response> Service::Impl::UploadPartCopy(Context& ctx) {
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
std::optional<ObjectInfo> Service::Impl::AlreadyCompleted(
    const Context& ctx, const std::vector<store::CompletedPart>& parts) {
  std::vector<std::string> md5s;
  md5s.reserve(parts.size());
  for (const auto& p : parts) md5s.push_back(p.etag);
  auto existing = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
  if (!existing || parts.empty() || existing->etag != store::MultipartEtag(md5s)) {
    return std::nullopt;
  }
  return *existing;
}

Result<Response> Service::Impl::CompleteMultipartUpload(Context& ctx) {
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
                       std::string(ChecksumName(upload->checksum_algorithm)) + " checksums, not " +
                       std::string(ChecksumName(*algorithm)) + ".");
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
  xml.Element("Location", "http://" + host + "/" + info->bucket + "/" + UriEncode(info->key, true));
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

Result<Response> Service::Impl::AbortMultipartUpload(Context& ctx) {
  auto upload = FindUpload(ctx);
  if (!upload) return upload.error();
  LB_RETURN_IF_ERROR(store.AbortUpload(*upload));
  Response r;
  r.status = 204;
  return r;
}

Result<Response> Service::Impl::ListParts(Context& ctx) {
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

Result<Response> Service::Impl::ListMultipartUploads(Context& ctx) {
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
    xml.Open("Initiator").Element("ID", u.owner).Element("DisplayName", u.owner).Close("Initiator");
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

}  // namespace logbucket::s3
