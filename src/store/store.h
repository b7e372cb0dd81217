// The Store interface: buckets, objects, listing and multipart uploads over some storage. The
// S3 API (src/s3) is written against it; store/local keeps data on this machine, a remote store
// (later) speaks S3 to another endpoint. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/headers.h"
#include "common/status.h"
#include "platform/file_util.h"
#include "platform/random_access.h"

namespace logbucket::store {

// S3 limits that the store enforces for every front end.
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxUserMetadataBytes = 2048;
inline constexpr int kMaxPartNumber = 10000;

// The configuration documents a bucket carries, each stored as text beside it.
enum class BucketDocument { kPolicy, kLifecycle, kAcl, kCors, kOwnership, kPublicAccessBlock };

struct Bucket {
  std::string name;
  int64_t created_ms = 0;
  std::string owner;  // user name
  std::string region;
  // Bucket configuration documents exactly as accepted (validated by the S3 layer): the policy
  // JSON and the lifecycle XML; empty when not set.
  std::string policy{};
  std::string lifecycle{};
  // The access control list in s3::EncodeAcl's form; empty: the owner alone (private).
  std::string acl{};
  // The CORS configuration XML (s3::cors::ToXml); empty when not set.
  std::string cors{};
  // Object ownership ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"); empty
  // when not set (objects belong to their writer).
  std::string ownership{};
  // The public access block as four flags, "1" or "0" each: BlockPublicAcls, IgnorePublicAcls,
  // BlockPublicPolicy, RestrictPublicBuckets; empty when not set.
  std::string public_access_block{};
};

struct BucketUsage {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

// A position in the by-age order of a bucket's objects (last_modified_ms, then key).
struct AgeCursor {
  int64_t last_modified_ms = -1;
  std::string key;
};

// An object as the janitor saw it: deleted only if it is still exactly this version.
struct ObjectVersion {
  std::string key;
  std::string etag;
  int64_t last_modified_ms = 0;
};

struct Checksum {
  ChecksumAlgorithm algorithm = ChecksumAlgorithm::kNone;
  std::string value;  // base64; "<base64>-N" for composite multipart checksums
  std::string type;   // "FULL_OBJECT" or "COMPOSITE"
};

struct ObjectInfo {
  std::string bucket;
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes
  int64_t last_modified_ms = 0;
  // Headers stored with the object and returned on GET/HEAD: content-type,
  // content-disposition, content-encoding, cache-control, content-language, expires and
  // x-amz-meta-* (lower-case names).
  Headers headers;
  Checksum checksum;
  int parts_count = 0;               // > 0 for objects made by CompleteMultipartUpload
  std::vector<uint64_t> part_sizes;  // sizes of those parts, for GetObject?partNumber=N
  // Their checksums (base64, checksum.algorithm), when the upload had one; else empty.
  std::vector<std::string> part_checksums;
  std::string owner;
};

// A body being received into the store; not visible until committed (PutObject, UploadPart).
// Destroying an uncommitted writer removes what it wrote.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual uint64_t size() const = 0;
};

// A committed object's bytes. Immutable: an overwrite never changes an open body. size() is the
// object's size as the store opened it.
using ObjectBody = platform::RandomAccessBytes;

struct OpenedObject {
  ObjectInfo info;
  std::unique_ptr<ObjectBody> body;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;
  std::string after;  // list keys strictly after this (v1 marker, v2 start-after / token)
  int max_keys = 1000;
};

struct ListResult {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string last_item;  // last key or common prefix returned (NextMarker / token source)
};

struct Upload {
  std::string upload_id;
  std::string bucket;
  std::string key;
  int64_t initiated_ms = 0;
  Headers headers;  // as ObjectInfo::headers, applied at completion
  ChecksumAlgorithm checksum_algorithm = ChecksumAlgorithm::kNone;
  std::string checksum_type;  // "COMPOSITE" or "FULL_OBJECT" when an algorithm is set
  std::string owner;
};

struct Part {
  int number = 0;
  uint64_t size = 0;
  std::string etag;  // without quotes
  int64_t last_modified_ms = 0;
  Checksum checksum;
};

struct CompletedPart {
  int number = 0;
  std::string etag;  // without quotes
};

struct ListUploadsOptions {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string upload_id_marker;
  int max_uploads = 1000;
};

struct ListUploadsResult {
  std::vector<Upload> uploads;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

struct ListPartsResult {
  std::vector<Part> parts;
  bool truncated = false;
  int next_part_number_marker = 0;
};

struct User {
  std::string name;
  std::string access_key;
  std::string secret_key;
  bool admin = false;
  int64_t created_ms = 0;
};

// What a conditional write or delete requires of the object as it is when the change commits
// (S3's If-Match / If-None-Match, x-amz-if-match-size, x-amz-if-match-last-modified-time),
// checked in the same step as the commit: of two writers racing with `If-None-Match: *`,
// exactly one wins. Unmet: nothing changes, and CheckPrecondition's error is returned.
struct Precondition {
  std::optional<std::string> if_match;       // ETags (quoted or not, comma-separated) or "*"
  std::optional<std::string> if_none_match;  // the same; "*": no object may exist
  std::optional<uint64_t> if_size;           // (deletes) the object's size
  std::optional<int64_t> if_modified_s;      // (deletes) its Last-Modified, in whole seconds
  // (deletes) a missing object meets every condition: there is nothing to delete, 204, as S3
  // answers a conditional delete of a missing key.
  bool missing_ok = false;
  bool empty() const { return !if_match && !if_none_match && !if_size && !if_modified_s; }
};

// Whether `etag` is one of the comma-separated (quoted, weak or bare) ETags of `list`, or
// `list` holds "*".
bool EtagListMatches(std::string_view list, std::string_view etag);

// `current`: the object now (null: none). If-Match on a missing object is kNoSuchKey (as S3
// answers a conditional write), unless `missing_ok`; any other unmet condition
// kPreconditionFailed; a size or time condition on a missing object holds.
Status CheckPrecondition(const Precondition& precondition, const ObjectInfo* current);

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::vector<Bucket>> ListBuckets() = 0;  // in name order
  virtual Result<Bucket> GetBucket(const std::string& name) = 0;
  virtual Status CreateBucket(const Bucket& bucket) = 0;
  virtual Status DeleteBucket(const std::string& name) = 0;
  // Replaces the bucket's policy / lifecycle document; an empty document removes it.
  // Replaces one configuration document of a bucket ("" removes it); NoSuchBucket if missing.
  virtual Status SetBucketDocument(const std::string& bucket, BucketDocument which,
                                   const std::string& text) = 0;
  Status SetBucketPolicy(const std::string& bucket, const std::string& policy) {
    return SetBucketDocument(bucket, BucketDocument::kPolicy, policy);
  }
  Status SetBucketLifecycle(const std::string& bucket, const std::string& lifecycle) {
    return SetBucketDocument(bucket, BucketDocument::kLifecycle, lifecycle);
  }

  virtual Result<std::unique_ptr<BlobWriter>> NewBlob() = 0;
  // Whether an upload of `incoming_bytes` (0: unknown) may start; kStorageFull when the store
  // keeps that space for deletes and metadata. Called before a body is read.
  virtual Status CheckSpaceFor(uint64_t incoming_bytes) {
    (void)incoming_bytes;
    return Status::Ok();
  }
  // Makes `blob` the body of info.bucket/info.key durably; fills size and returns the info as
  // stored (last_modified set by the store).
  virtual Result<ObjectInfo> PutObject(ObjectInfo info, std::unique_ptr<BlobWriter> blob,
                                       const Precondition& precondition = {}) = 0;
  virtual Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key) = 0;
  virtual Result<OpenedObject> GetObject(const std::string& bucket, const std::string& key) = 0;
  // The object for one pass from start to end (the build indexer): a store that keeps whole
  // objects in a cache for readers (the remote one) reads it with ranged GETs instead, so a
  // crawl does not evict what readers are looking at. By default, GetObject.
  virtual Result<OpenedObject> GetObjectForScan(const std::string& bucket, const std::string& key) {
    return GetObject(bucket, key);
  }
  // Deleting a missing key succeeds (S3 semantics); NoSuchBucket when the bucket is missing.
  virtual Status DeleteObject(const std::string& bucket, const std::string& key,
                              const Precondition& precondition = {}) = 0;
  // Deletes many keys in one durable step; one Status per key, in order. `preconditions`, when
  // not empty, has one per key.
  virtual Result<std::vector<Status>> DeleteObjects(
      const std::string& bucket, const std::vector<std::string>& keys,
      const std::vector<Precondition>& preconditions = {}) = 0;
  virtual Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& options) = 0;
  // How many objects a bucket holds and their bytes (one pass over its rows: for callers that
  // ask for it, not for every request). NotImplemented where the store cannot say cheaply.
  virtual Result<BucketUsage> GetBucketUsage(const std::string& bucket) = 0;
  // Replaces the stored headers of an existing object (object tagging changes them without
  // touching the body or Last-Modified, as S3 does). NoSuchKey when the object is missing.
  virtual Status UpdateObjectHeaders(const std::string& bucket, const std::string& key,
                                     const Headers& headers) = 0;
  // Objects last modified before `modified_before_ms`, oldest first, strictly after `after`;
  // at most `limit`. For the lifecycle janitor (an index makes it cheap).
  virtual Result<std::vector<ObjectInfo>> ListObjectsByAge(const std::string& bucket,
                                                           int64_t modified_before_ms,
                                                           const AgeCursor& after, int limit) = 0;
  // Deletes each object only if it is still the given version (an overwrite since the janitor
  // looked keeps the new object). Returns how many were deleted.
  virtual Result<int> DeleteObjectsIfUnchanged(const std::string& bucket,
                                               const std::vector<ObjectVersion>& objects) = 0;

  virtual Result<Upload> CreateUpload(Upload upload) = 0;
  virtual Result<Upload> GetUpload(const std::string& bucket, const std::string& key,
                                   const std::string& upload_id) = 0;
  virtual Result<Part> PutPart(const Upload& upload, Part part,
                               std::unique_ptr<BlobWriter> blob) = 0;
  virtual Result<ListPartsResult> ListParts(const Upload& upload, int part_number_marker,
                                            int max_parts) = 0;
  // Validates the list (InvalidPart, InvalidPartOrder, EntityTooSmall for parts but the last
  // under 5 MiB) and assembles the object. `expected_checksum`: the object's checksum as the
  // client computed it (base64, "-N" optional), BadDigest when it differs, before anything
  // is committed.
  virtual Result<ObjectInfo> CompleteUpload(const Upload& upload,
                                            const std::vector<CompletedPart>& parts,
                                            uint64_t min_part_size,
                                            const Precondition& precondition = {},
                                            const std::string& expected_checksum = "") = 0;
  virtual Status AbortUpload(const Upload& upload) = 0;
  virtual Result<ListUploadsResult> ListUploads(const std::string& bucket,
                                                const ListUploadsOptions& options) = 0;
};

// Users and their keys (the embedded store's identity database).
class UserDirectory {
 public:
  virtual ~UserDirectory() = default;
  virtual Result<User> AddUser(const std::string& name, bool admin) = 0;
  virtual Result<User> RotateUser(const std::string& name) = 0;
  virtual Status RemoveUser(const std::string& name) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;
  virtual std::optional<User> FindByAccessKey(const std::string& access_key) = 0;
};

// Bucket naming rules of S3 (3–63 chars, lower case, digits, '.', '-', no IP form); the
// `_health` style names can never be buckets.
Status ValidateBucketName(const std::string& name);
// Keys: 1..1024 bytes, valid UTF-8, no NUL.
Status ValidateKey(const std::string& key);
// "md5(concat(part md5s))-N", the S3 multipart ETag.
std::string MultipartEtag(const std::vector<std::string>& part_md5_hex);

}  // namespace logbucket::store
