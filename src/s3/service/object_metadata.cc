#include "s3/service/impl.h"

namespace logbucket::s3 {

// GetObjectAttributes: what x-amz-object-attributes names, from the metadata alone.
Result<Response> Service::Impl::GetObjectAttributes(Context& ctx) {
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
        .Element("ChecksumType", info->checksum.type.empty() ? "FULL_OBJECT" : info->checksum.type)
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

Result<Response> Service::Impl::GetObjectTagging(Context& ctx) {
  LB_RETURN_IF_ERROR(CheckVersionId(ctx));
  auto info = store.HeadObject(ctx.endpoint.bucket, ctx.endpoint.key);
  if (!info) return info.error();
  auto tags = lifecycle::ParseTagSet(FindHeader(info->headers, "x-amz-tagging").value_or(""));
  return XmlResponse(lifecycle::TaggingXml(tags));
}

Result<Response> Service::Impl::PutOrDeleteObjectTagging(Context& ctx, bool put) {
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

}  // namespace logbucket::s3
