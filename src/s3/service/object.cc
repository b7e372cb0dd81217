#include "s3/service/impl.h"

namespace logbucket::s3 {

Status Service::Impl::CheckVersionId(const Context& ctx) {
  if (ctx.HasQuery("versionId") && ctx.Query("versionId") != "null") {
    return Error(ErrorCode::kNoSuchVersion);
  }
  return Status::Ok();
}

// If-Match / If-None-Match of a write (PutObject, CompleteMultipartUpload).
store::Precondition Service::Impl::WritePrecondition(const Context& ctx) {
  store::Precondition p;
  if (auto v = ctx.Header("if-match")) p.if_match = std::string(*v);
  if (auto v = ctx.Header("if-none-match")) p.if_none_match = std::string(*v);
  return p;
}

// The precondition against the object as it is now (the store checks it again when it
// commits).
Status Service::Impl::CheckEarly(const Context& ctx, const store::Precondition& p) {
  if (p.empty()) return Status::Ok();
  auto existing = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
  if (!existing && existing.error().code() != ErrorCode::kNoSuchKey) return existing.error();
  return store::CheckPrecondition(p, existing ? &*existing : nullptr);
}

// A conditional delete's If-Match, x-amz-if-match-size, x-amz-if-match-last-modified-time
// (DeleteObjects: the entry's ETag, Size, LastModifiedTime); a value that does not parse is
// refused, never ignored.
Result<store::Precondition> Service::Impl::DeletePrecondition(
    std::optional<std::string_view> etag, std::optional<std::string_view> size,
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

Result<Response> Service::Impl::PutObject(Context& ctx) {
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
Status Service::Impl::MissingKey(Context& ctx, Status error) {
  if (error.code() != ErrorCode::kNoSuchKey) return error;
  Status may_list = Authorize(ctx, "s3:ListBucket", ctx.endpoint.bucket, "");
  return may_list.ok() ? error : may_list;
}

Result<Response> Service::Impl::GetOrHeadObject(Context& ctx, bool head) {
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

Result<Response> Service::Impl::DeleteObject(Context& ctx) {
  LB_RETURN_IF_ERROR(CheckVersionId(ctx));
  auto precondition = DeletePrecondition(ctx.Header("if-match"), ctx.Header("x-amz-if-match-size"),
                                         ctx.Header("x-amz-if-match-last-modified-time"));
  if (!precondition) return precondition.error();
  LB_RETURN_IF_ERROR(store.DeleteObject(ctx.endpoint.bucket, ctx.endpoint.key, *precondition));
  Response r;
  r.status = 204;
  return r;
}

Result<Response> Service::Impl::DeleteObjects(Context& ctx) {
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

Result<Service::Impl::CopySource> Service::Impl::ParseCopySource(const Context& ctx) {
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

Result<Service::Impl::CopiedBlob> Service::Impl::CopyBody(store::ObjectBody& body, uint64_t first,
                                                          uint64_t length,
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

Result<Response> Service::Impl::CopyObject(Context& ctx) {
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

}  // namespace logbucket::s3
