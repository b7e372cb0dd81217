#include "s3/service/impl.h"

namespace logbucket::s3 {

Result<Response> Service::Impl::Dispatch(Context& ctx) {
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

Response Service::Impl::Handle(Request& request) {
  std::string client = ClientAddress(
      request.peer_address, FindHeader(request.headers, "x-forwarded-for"), *trusted_proxies.Get());
  std::string_view operation = "Invalid";  // until routed
  Response r = HandleFor(request, client, operation);
  if (client != request.peer_address) r.log_client = std::move(client);
  r.operation = operation;
  return r;
}

// aws:SecureTransport: only a trusted proxy can tell us the client used TLS (this listener
// speaks plain HTTP).
bool Service::Impl::SecureTransport(const Request& request) const {
  auto proto = FindHeader(request.headers, "x-forwarded-proto");
  if (!proto || !EqualsIgnoreCase(*proto, "https")) return false;
  auto peer = ParseIp(request.peer_address);
  if (!peer) return false;
  auto proxies = trusted_proxies.Get();
  return std::any_of(proxies->begin(), proxies->end(),
                     [&](const Cidr& c) { return CidrContains(c, *peer); });
}

Response Service::Impl::HandleFor(Request& request, const std::string& client,
                                  std::string_view& operation) {
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

Response Service::Impl::HandleIn(Context& ctx, std::string_view& operation) {
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
    return ErrorResponse(&ctx, request, {Error(ErrorCode::kNotImplemented, "metrics are off"), {}});
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

Service::Service(ServiceOptions options, store::Store& store, store::UserDirectory& users)
    : impl_(std::make_unique<Impl>(std::move(options), store, users)) {}

Service::~Service() = default;

http::Response Service::Handle(http::Request& request) { return impl_->Handle(request); }

void Service::SetTrustedProxies(std::vector<Cidr> proxies) {
  impl_->trusted_proxies.Set(std::move(proxies));
}

}  // namespace logbucket::s3
