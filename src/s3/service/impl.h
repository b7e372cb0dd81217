// The S3 service's own header, included only by s3/service/*.cc: the request context, the
// helpers for HTTP parts of S3 (conditions, ranges, stored headers, error bodies) and the
// declaration of Service::Impl, whose operations are defined one family per file, as Garage's
// api/s3/ does:
//   dispatch.cc          Handle: route, authenticate, authorise, call the operation, error body
//   authorize.cc         bucket policy + ACL + public access block evaluation; explain
//   body.cc              request bodies: aws-chunked, Content-MD5, x-amz-checksum-*, trailers
//   bucket.cc            list/create/head/delete buckets, location, versioning, ACLs
//   bucket_documents.cc  policy, lifecycle, CORS (and preflight), ownership, public access block
//   list.cc              ListObjects(V2), ListObjectVersions
//   object.cc            put, get/head, delete (one and many), copy
//   object_metadata.cc   tagging, GetObjectAttributes
//   multipart.cc         create, upload part (copy), complete, abort, list parts and uploads
//   http_parts.cc        the free helpers declared below
#pragma once

#include <algorithm>
#include <array>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/encoding.h"
#include "common/live.h"
#include "common/log.h"
#include "common/net.h"
#include "lifecycle/lifecycle.h"
#include "policy/policy.h"
#include "s3/access.h"
#include "s3/acl.h"
#include "s3/cors.h"
#include "s3/router.h"
#include "s3/service.h"
#include "s3/xml.h"
#include "sigv4/sigv4.h"

namespace logbucket::s3 {

using http::Request;

using http::Response;

using store::ObjectInfo;

inline constexpr size_t kIoBuffer = 256 * 1024;

// Bodies without a file descriptor (inline objects of the embedded store) are sent from memory
// up to this size.
inline constexpr uint64_t kMaxBufferedBodyBytes = 1 << 20;

inline constexpr int kMaxListKeys = 1000;

// Headers stored with an object and returned on GET/HEAD.
inline constexpr std::array kStoredHeaders = {"content-type",     "content-disposition",
                                              "content-encoding", "cache-control",
                                              "content-language", "expires"};

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

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};

std::string Quote(std::string_view etag);

// RFC 7232 evaluation order, as S3 applies it. prefix is "" for GET/HEAD and
// "x-amz-copy-source-" for copies (where "not modified" is also a 412).
Status CheckConditions(const Headers& headers, const ObjectInfo& info, std::string_view prefix);

// A byte position of a Range header: digits only; a number past 2^64-1 is "beyond any object"
// (UINT64_MAX), not a syntax error that would turn "bytes=0-99999999999999999999" into a full
// 200 answer instead of the 206 RFC 9110 asks for.
std::optional<uint64_t> ParseBytePosition(std::string_view text);

// Parses "bytes=a-b", "bytes=a-", "bytes=-n". nullopt: no usable range (serve everything);
// an error: unsatisfiable.
Result<std::optional<ByteRange>> ParseRange(std::string_view value, uint64_t size);

// x-amz-copy-source-range: "bytes=first-last", both required, within the source.
Result<ByteRange> ParseCopySourceRange(std::string_view value, uint64_t size);

Response ErrorResponse(const Context* ctx, const Request& request, const Failure& failure);

Response XmlResponse(std::string body, int status = 200);

// A value that may go into a response header: no control characters (CR/LF would let the
// value start new headers; NUL would break the stored header encoding). HTAB is allowed.
bool IsSafeHeaderValue(std::string_view value);

// Everything a stored object carries that the client set on upload.
Result<Headers> StoredHeadersFrom(const Headers& request_headers);

// Rejects request headers that ask for features we do not offer, instead of ignoring them.
Status RejectUnsupportedHeaders(const Headers& headers);

void AddObjectHeaders(Response& r, const ObjectInfo& info);

void AddChecksumHeaders(Response& r, const store::Checksum& checksum);

struct Service::Impl {
  ServiceOptions options;
  store::Store& store;
  store::UserDirectory& users;
  Live<std::vector<Cidr>> trusted_proxies;  // s3.trusted_proxies (reloadable)
  DocumentCache<policy::Policy> policies;
  DocumentCache<cors::Configuration> cors_configs;
  DocumentCache<lifecycle::Configuration> lifecycles;
  DecisionLog decisions;
  Impl(ServiceOptions o, store::Store& s, store::UserDirectory& u)
      : options(std::move(o)), store(s), users(u) {
    std::vector<Cidr> proxies;
    for (const std::string& p : options.s3.trusted_proxies) {
      if (auto cidr = ParseCidr(p)) proxies.push_back(*cidr);  // validated by config
    }
    trusted_proxies.Set(std::move(proxies));
  }

  // request bodies

  // The body as the client meant it: aws-chunked decoded, hashed, checked. Bytes go to `sink`.
  struct ReceivedBody {
    uint64_t size = 0;
    std::string md5_hex;
    store::Checksum checksum;
  };
  Result<ReceivedBody> ReceiveBody(Context& ctx, uint64_t max_bytes,
                                   ChecksumAlgorithm default_algorithm,
                                   const std::function<Status(std::string_view)>& sink,
                                   bool checksum_headers = true);
  Result<std::string> ReadSmallBody(Context& ctx, bool checksum_headers = true);

  // access

  Result<const store::Bucket*> LoadBucket(Context& ctx, const std::string& name);
  std::shared_ptr<const policy::Policy> ParsedPolicy(const store::Bucket& b);
  std::shared_ptr<const lifecycle::Configuration> ParsedLifecycle(const store::Bucket& b);
  policy::Request PolicyRequest(const Context& ctx, std::string_view action,
                                const std::string& bucket, const std::string& key,
                                const std::vector<lifecycle::Tag>* existing_tags = nullptr) const;
  static bool ManagesPolicy(std::string_view action);
  Status Deny(const Context& ctx, std::string explanation);
  bool AclGrantsAccess(Context& ctx, const store::Bucket& bucket, std::string_view action,
                       const std::string& key);
  AclContext AclContextFor(const std::string& owner, const std::string& bucket_owner,
                           bool for_bucket);
  static bool HasAclHeaders(const Headers& headers);
  Result<std::string> ApplyRequestedAcl(Context& ctx, Headers& headers);
  Status CheckPublicAclAllowed(Context& ctx, const Acl& acl);
  Status Authorize(Context& ctx, std::string_view action, const std::string& bucket_name,
                   const std::string& key);
  Status AuthorizeEndpoint(Context& ctx);
  void AddExpiration(Context& ctx, Response& r, const ObjectInfo& info);
  // GET /?explain=<request id> (admin): why a recent request was allowed or denied.
  Result<Response> Explain(Context& ctx);

  // bucket documents

  Result<Response> GetBucketPolicy(Context& ctx);
  Result<Response> PutBucketPolicy(Context& ctx);
  Result<Response> DeleteBucketPolicy(Context& ctx);
  Result<Response> GetBucketPolicyStatus(Context& ctx);
  Result<Response> GetBucketLifecycle(Context& ctx);
  Result<Response> PutBucketLifecycle(Context& ctx);
  Result<Response> DeleteBucketLifecycle(Context& ctx);

  // ownership, public access

  Result<Response> GetOwnershipControls(Context& ctx);
  Result<Response> PutOwnershipControls(Context& ctx);
  Result<Response> GetPublicAccessBlock(Context& ctx);
  Result<Response> PutPublicAccessBlock(Context& ctx);
  Result<Response> DeleteBucketDocument(Context& ctx, store::BucketDocument which);

  // CORS

  std::shared_ptr<const cors::Configuration> ParsedCors(const store::Bucket& b);
  Result<Response> GetBucketCors(Context& ctx);
  Result<Response> PutBucketCors(Context& ctx);
  Response Preflight(Context& ctx);
  void AddCorsHeaders(Context& ctx, std::string_view origin, Response& r);

  // object attributes

  Result<Response> GetObjectAttributes(Context& ctx);

  // object tagging

  Result<Response> GetObjectTagging(Context& ctx);
  Result<Response> PutOrDeleteObjectTagging(Context& ctx, bool put);

  // buckets

  Result<Response> ListBuckets(Context& ctx);
  Result<Response> CreateBucket(Context& ctx);
  Result<Response> HeadBucket(Context& ctx);
  Result<Response> DeleteBucket(Context& ctx);
  Result<Response> GetBucketLocation(Context& ctx);
  Result<Response> GetBucketVersioning(Context&);
  Result<Response> GetAcl(Context& ctx);
  Result<Response> PutAcl(Context& ctx);

  // listing

  Result<int> MaxKeys(const Context& ctx, std::string_view name);
  Result<bool> UrlEncoding(const Context& ctx);
  Result<Response> ListObjects(Context& ctx, bool v2);
  Result<Response> ListObjectVersions(Context& ctx);

  // objects

  Status CheckVersionId(const Context& ctx);
  static store::Precondition WritePrecondition(const Context& ctx);
  Status CheckEarly(const Context& ctx, const store::Precondition& p);
  static Result<store::Precondition> DeletePrecondition(std::optional<std::string_view> etag,
                                                        std::optional<std::string_view> size,
                                                        std::optional<std::string_view> modified);
  Result<Response> PutObject(Context& ctx);
  Status MissingKey(Context& ctx, Status error);
  Result<Response> GetOrHeadObject(Context& ctx, bool head);
  Result<Response> DeleteObject(Context& ctx);
  Result<Response> DeleteObjects(Context& ctx);
  struct CopySource {
    std::string bucket;
    std::string key;
  };
  Result<CopySource> ParseCopySource(const Context& ctx);
  // Copies [first, first+length) of an open object into a new blob, hashing on the way.
  struct CopiedBlob {
    std::unique_ptr<store::BlobWriter> blob;
    std::string md5_hex;
    store::Checksum checksum;
  };
  Result<CopiedBlob> CopyBody(store::ObjectBody& body, uint64_t first, uint64_t length,
                              ChecksumAlgorithm algorithm);
  Result<Response> CopyObject(Context& ctx);

  // multipart

  Result<store::Upload> FindUpload(const Context& ctx);
  Result<int> PartNumber(const Context& ctx);
  Result<Response> CreateMultipartUpload(Context& ctx);
  static Status RequireLength(const Context& ctx);
  Result<Response> UploadPart(Context& ctx);
  Result<Response> UploadPartCopy(Context& ctx);
  std::optional<ObjectInfo> AlreadyCompleted(const Context& ctx,
                                             const std::vector<store::CompletedPart>& parts);
  Result<Response> CompleteMultipartUpload(Context& ctx);
  Result<Response> AbortMultipartUpload(Context& ctx);
  Result<Response> ListParts(Context& ctx);
  Result<Response> ListMultipartUploads(Context& ctx);

  // dispatch

  Result<Response> Dispatch(Context& ctx);
  Response Handle(Request& request);
  bool SecureTransport(const Request& request) const;
  Response HandleFor(Request& request, const std::string& client, std::string_view& operation);
  Response HandleIn(Context& ctx, std::string_view& operation);
};

}  // namespace logbucket::s3
