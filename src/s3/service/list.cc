#include "s3/service/impl.h"

namespace logbucket::s3 {

Result<int> Service::Impl::MaxKeys(const Context& ctx, std::string_view name) {
  if (!ctx.HasQuery(name)) return kMaxListKeys;
  auto n = ParseDecimal(ctx.Query(name));
  if (!n) {
    return Error(ErrorCode::kInvalidArgument,
                 "Provided " + std::string(name) + " not an integer or within integer range");
  }
  return static_cast<int>(std::min<int64_t>(*n, kMaxListKeys));
}

Result<bool> Service::Impl::UrlEncoding(const Context& ctx) {
  if (!ctx.HasQuery("encoding-type")) return false;
  if (ctx.Query("encoding-type") != "url") {
    return Error(ErrorCode::kInvalidArgument, "Invalid Encoding Method specified in Request");
  }
  return true;
}

Result<Response> Service::Impl::ListObjects(Context& ctx, bool v2) {
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

Result<Response> Service::Impl::ListObjectVersions(Context& ctx) {
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

}  // namespace logbucket::s3
