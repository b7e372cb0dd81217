#include "s3/service/impl.h"

namespace logbucket::s3 {

Result<Response> Service::Impl::GetBucketPolicy(Context& ctx) {
  auto b = LoadBucket(ctx, ctx.endpoint.bucket);
  if (!b) return b.error();
  if ((*b)->policy.empty()) return Error(ErrorCode::kNoSuchBucketPolicy);
  Response r;
  r.SetHeader("content-type", "application/json");
  r.body = (*b)->policy;
  return r;
}

Result<Response> Service::Impl::PutBucketPolicy(Context& ctx) {
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

Result<Response> Service::Impl::DeleteBucketPolicy(Context& ctx) {
  LB_RETURN_IF_ERROR(store.SetBucketPolicy(ctx.endpoint.bucket, ""));
  Log().info("{} bucket {}: policy deleted by {}", ctx.request.request_id, ctx.endpoint.bucket,
             ctx.user.name);
  Response r;
  r.status = 204;
  return r;
}

Result<Response> Service::Impl::GetBucketPolicyStatus(Context& ctx) {
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

Result<Response> Service::Impl::GetBucketLifecycle(Context& ctx) {
  auto b = LoadBucket(ctx, ctx.endpoint.bucket);
  if (!b) return b.error();
  if ((*b)->lifecycle.empty()) return Error(ErrorCode::kNoSuchLifecycleConfiguration);
  return XmlResponse((*b)->lifecycle);
}

Result<Response> Service::Impl::PutBucketLifecycle(Context& ctx) {
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

Result<Response> Service::Impl::DeleteBucketLifecycle(Context& ctx) {
  LB_RETURN_IF_ERROR(store.SetBucketLifecycle(ctx.endpoint.bucket, ""));
  Response r;
  r.status = 204;
  return r;
}

Result<Response> Service::Impl::GetOwnershipControls(Context& ctx) {
  auto b = LoadBucket(ctx, ctx.endpoint.bucket);
  if (!b) return b.error();
  if ((*b)->ownership.empty()) return Error(ErrorCode::kOwnershipControlsNotFoundError);
  return XmlResponse(OwnershipControlsXml((*b)->ownership));
}

Result<Response> Service::Impl::PutOwnershipControls(Context& ctx) {
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
  LB_RETURN_IF_ERROR(
      store.SetBucketDocument(ctx.endpoint.bucket, store::BucketDocument::kOwnership, *ownership));
  return Response{};
}

Result<Response> Service::Impl::GetPublicAccessBlock(Context& ctx) {
  auto b = LoadBucket(ctx, ctx.endpoint.bucket);
  if (!b) return b.error();
  if ((*b)->public_access_block.empty()) {
    return Error(ErrorCode::kNoSuchPublicAccessBlockConfiguration);
  }
  return XmlResponse(
      PublicAccessBlockXml(PublicAccessBlock::FromStored((*b)->public_access_block)));
}

Result<Response> Service::Impl::PutPublicAccessBlock(Context& ctx) {
  auto body = ReadSmallBody(ctx);
  if (!body) return body.error();
  auto block = ParsePublicAccessBlock(*body);
  if (!block) return block.error();
  LB_RETURN_IF_ERROR(store.SetBucketDocument(
      ctx.endpoint.bucket, store::BucketDocument::kPublicAccessBlock, block->ToStored()));
  return Response{};
}

Result<Response> Service::Impl::DeleteBucketDocument(Context& ctx, store::BucketDocument which) {
  LB_RETURN_IF_ERROR(store.SetBucketDocument(ctx.endpoint.bucket, which, ""));
  Response r;
  r.status = 204;
  return r;
}

std::shared_ptr<const cors::Configuration> Service::Impl::ParsedCors(const store::Bucket& b) {
  if (b.cors.empty()) return nullptr;
  if (auto cached = cors_configs.Find(b.name, b.cors)) return cached;
  auto parsed = cors::Parse(b.cors);
  if (!parsed) return nullptr;
  auto shared = std::make_shared<const cors::Configuration>(std::move(*parsed));
  cors_configs.Insert(b.name, b.cors, shared);
  return shared;
}

Result<Response> Service::Impl::GetBucketCors(Context& ctx) {
  auto b = LoadBucket(ctx, ctx.endpoint.bucket);
  if (!b) return b.error();
  if ((*b)->cors.empty()) return Error(ErrorCode::kNoSuchCORSConfiguration);
  return XmlResponse((*b)->cors);
}

Result<Response> Service::Impl::PutBucketCors(Context& ctx) {
  auto body = ReadSmallBody(ctx);
  if (!body) return body.error();
  auto parsed = cors::Parse(*body);
  if (!parsed) return parsed.error();
  LB_RETURN_IF_ERROR(store.SetBucketDocument(ctx.endpoint.bucket, store::BucketDocument::kCors,
                                             cors::ToXml(*parsed)));
  Log().info("{} bucket {}: CORS set by {} ({} rules)", ctx.request.request_id, ctx.endpoint.bucket,
             ctx.user.name, parsed->rules.size());
  return Response{};
}

// OPTIONS: what a browser asks before a cross-origin request. Unauthenticated (browsers send
// no credentials with it), answered from the bucket's rules alone.
Response Service::Impl::Preflight(Context& ctx) {
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
void Service::Impl::AddCorsHeaders(Context& ctx, std::string_view origin, Response& r) {
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

}  // namespace logbucket::s3
