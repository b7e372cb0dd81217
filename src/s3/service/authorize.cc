#include "s3/service/impl.h"

namespace logbucket::s3 {

// Loads a bucket once per request into the context (the endpoint's bucket, or a copy
// source's), and hands out a pointer to it: policy documents are not copied again.
Result<const store::Bucket*> Service::Impl::LoadBucket(Context& ctx, const std::string& name) {
  for (const auto* slot : {&ctx.bucket, &ctx.other_bucket}) {
    if (*slot && (*slot)->name == name) return &**slot;
  }
  auto b = store.GetBucket(name);
  if (!b) return b.error();
  auto& slot = name == ctx.endpoint.bucket ? ctx.bucket : ctx.other_bucket;
  slot = std::move(*b);
  return &*slot;
}

std::shared_ptr<const policy::Policy> Service::Impl::ParsedPolicy(const store::Bucket& b) {
  if (b.policy.empty()) return nullptr;
  if (auto cached = policies.Find(b.name, b.policy)) return cached;
  auto parsed = policy::Policy::Parse(b.policy);
  if (!parsed) {
    // Validated when stored, so only a grammar change could get here: deny rather than guess.
    Log().error("bucket {}: stored policy no longer parses: {}", b.name, parsed.error().message());
    return nullptr;
  }
  auto shared = std::make_shared<const policy::Policy>(std::move(*parsed));
  policies.Insert(b.name, b.policy, shared);
  return shared;
}

std::shared_ptr<const lifecycle::Configuration> Service::Impl::ParsedLifecycle(
    const store::Bucket& b) {
  if (b.lifecycle.empty()) return nullptr;
  if (auto cached = lifecycles.Find(b.name, b.lifecycle)) return cached;
  auto parsed = lifecycle::Parse(b.lifecycle);
  if (!parsed) return nullptr;
  auto shared = std::make_shared<const lifecycle::Configuration>(std::move(*parsed));
  lifecycles.Insert(b.name, b.lifecycle, shared);
  return shared;
}

// The request as a policy sees it: principal, action, resource and condition keys.
policy::Request Service::Impl::PolicyRequest(
    const Context& ctx, std::string_view action, const std::string& bucket, const std::string& key,
    const std::vector<lifecycle::Tag>* existing_tags) const {
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

bool Service::Impl::ManagesPolicy(std::string_view action) {
  return action == "s3:GetBucketPolicy" || action == "s3:PutBucketPolicy" ||
         action == "s3:DeleteBucketPolicy";
}

Status Service::Impl::Deny(const Context& ctx, std::string explanation) {
  Log().info("{} access denied: {}", ctx.request.request_id, explanation);
  decisions.Record(ctx.request.request_id, explanation);
  return Error(ErrorCode::kAccessDenied);
}

// What the bucket's ACL (bucket actions, and writing objects into it) or the object's ACL
// (reading it, its ACL) grants the caller; asked only once the policy has not decided.
bool Service::Impl::AclGrantsAccess(Context& ctx, const store::Bucket& bucket,
                                    std::string_view action, const std::string& key) {
  if (bucket.ownership == kBucketOwnerEnforced) return false;  // ACLs are off
  const bool ignore_public =
      PublicAccessBlock::FromStored(bucket.public_access_block).ignore_public_acls;
  auto effective = [&](const Acl& acl) { return ignore_public ? WithoutPublicGrants(acl) : acl; };
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

AclContext Service::Impl::AclContextFor(const std::string& owner, const std::string& bucket_owner,
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

bool Service::Impl::HasAclHeaders(const Headers& headers) {
  return std::any_of(headers.begin(), headers.end(), [](const Header& h) {
    return h.name == "x-amz-acl" || h.name.rfind("x-amz-grant-", 0) == 0;
  });
}

// The owner and ACL of an object being written: the ACL it asks for (x-amz-acl,
// x-amz-grant-*), checked against the bucket's ownership controls and public access block
// and added to its stored headers. Returns the object's owner.
Result<std::string> Service::Impl::ApplyRequestedAcl(Context& ctx, Headers& headers) {
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
  auto acl =
      AclFromHeaders(ctx.request.headers, AclContextFor(owner, bucket_owner, /*for_bucket=*/false));
  if (!acl) return acl.error();
  if (*acl) {
    LB_RETURN_IF_ERROR(CheckPublicAclAllowed(ctx, **acl));
    std::string stored = EncodeAcl(**acl, owner);
    if (!stored.empty()) headers.push_back({std::string(kStoredAclHeader), std::move(stored)});
  }
  return owner;
}

// BlockPublicAcls: a public ACL is refused, not stored.
Status Service::Impl::CheckPublicAclAllowed(Context& ctx, const Acl& acl) {
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
Status Service::Impl::Authorize(Context& ctx, std::string_view action,
                                const std::string& bucket_name, const std::string& key) {
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
  bool with_tags = !key.empty() && (*bucket)->policy.find("ExistingObjectTag") != std::string::npos;
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
Status Service::Impl::AuthorizeEndpoint(Context& ctx) {
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

void Service::Impl::AddExpiration(Context& ctx, Response& r, const ObjectInfo& info) {
  if (!ctx.bucket || ctx.bucket->lifecycle.empty()) return;
  auto config = ParsedLifecycle(*ctx.bucket);
  if (!config) return;
  auto tags = lifecycle::ParseTagSet(FindHeader(info.headers, "x-amz-tagging").value_or(""));
  if (auto v =
          lifecycle::ExpirationHeader(*config, info.key, info.size, tags, info.last_modified_ms)) {
    r.SetHeader("x-amz-expiration", *v);
  }
}

// GET /_logbucket/explain?request-id=ID: why a recent request was allowed or denied.
// GET /_logbucket/explain?bucket=B&action=A[&key=K][&ip=IP][&user=NAME]: what the bucket's
// live policy decides for such a request (anonymous unless user is given).
Result<Response> Service::Impl::Explain(Context& ctx) {
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

}  // namespace logbucket::s3
