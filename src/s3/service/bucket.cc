#include "s3/service/impl.h"

namespace logbucket::s3 {

Result<Response> Service::Impl::ListBuckets(Context& ctx) {
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
    xml.Open("Bucket").Element("Name", b.name).Element("CreationDate", FormatIso8601(b.created_ms));
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

Result<Response> Service::Impl::CreateBucket(Context& ctx) {
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
    return Error(ErrorCode::kInvalidArgument, "The specified location-constraint '" + asked +
                                                  "' is not valid; this endpoint serves region '" +
                                                  region + "'.");
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

Result<Response> Service::Impl::HeadBucket(Context& ctx) {
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

Result<Response> Service::Impl::DeleteBucket(Context& ctx) {
  LB_RETURN_IF_ERROR(store.DeleteBucket(ctx.endpoint.bucket));
  Response r;
  r.status = 204;
  return r;
}

Result<Response> Service::Impl::GetBucketLocation(Context& ctx) {
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

Result<Response> Service::Impl::GetBucketVersioning(Context&) {
  XmlWriter xml("VersioningConfiguration");  // never enabled: no Status element
  return XmlResponse(xml.Finish());
}

Result<Response> Service::Impl::GetAcl(Context& ctx) {
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
  const Acl acl = DecodeAcl(FindHeader(info->headers, kStoredAclHeader).value_or(""), info->owner);
  return XmlResponse(AclToXml(acl, info->owner));
}

// PutBucketAcl / PutObjectAcl: a canned ACL or grant headers, or an AccessControlPolicy
// document; the whole ACL is replaced.
Result<Response> Service::Impl::PutAcl(Context& ctx) {
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

}  // namespace logbucket::s3
