#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "common/encoding.h"
#include "common/guard.h"
#include "common/log.h"
#include "store/local/impl.h"

namespace logbucket::store {

Result<ObjectInfo> LocalStore::Impl::LookupObject(const std::string& bucket, const std::string& key,
                                                  BodyRef& body,
                                                  std::shared_ptr<const std::string>* data) {
  if (auto cached = cache.FindObject(bucket, key)) {
    body = std::move(cached->body);
    if (data != nullptr) *data = std::move(cached->data);
    return std::move(cached->info);
  }
  uint64_t generation = cache.generation();
  auto info = WithReader([&](Db& db) -> Result<ObjectInfo> {
    static const std::string kSql =
        std::string("SELECT ") + kObjectColumns + " FROM objects WHERE bucket = ? AND key = ?";
    Stmt s = db.Prepare(kSql.c_str());
    s.Text(1, bucket).Blob(2, key);
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) {
      LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
      return Error(ErrorCode::kNoSuchKey);
    }
    return ReadObjectRow(s, bucket, &body);
  });
  if (info) cache.InsertObject(generation, {*info, body, nullptr});
  return info;
}

// Inside a transaction: the current body of bucket/key, if the object exists.
Result<std::optional<BodyRef>> LocalStore::Impl::CurrentBody(Db& db, const std::string& bucket,
                                                             const std::string& key) {
  Stmt old = db.Prepare("SELECT blob, body FROM objects WHERE bucket = ? AND key = ?");
  old.Text(1, bucket).Blob(2, key);
  auto row = old.Step();
  if (!row) return row.error();
  if (!*row) return std::optional<BodyRef>();
  return std::optional<BodyRef>(BodyRef{old.ColText(0), old.ColInt(1)});
}

// Points info.bucket/info.key at blob file `id`, or, when `inline_data` is given, at a new
// inline body holding it (inside the group transaction): the replaced body, if any, is
// dropped and the cached row invalidated once the transaction commits.
Status LocalStore::Impl::ReplaceObjectRow(Db& db, const ObjectInfo& info, const std::string& id,
                                          Effects& effects, const std::string* inline_data) {
  effects.objects.emplace_back(info.bucket, info.key);
  auto old = CurrentBody(db, info.bucket, info.key);
  if (!old) return old.error();
  if (*old) LB_RETURN_IF_ERROR(DropBody(db, **old, effects));
  int64_t inline_id = 0;
  if (inline_data != nullptr) {
    Stmt body = db.Prepare("INSERT INTO bodies(data) VALUES(?)");
    body.Blob(1, *inline_data);
    LB_RETURN_IF_ERROR(body.Run());
    inline_id = sqlite3_last_insert_rowid(db.raw());
  }
  Stmt put = db.Prepare(
      "INSERT OR REPLACE INTO objects(bucket, key, blob, size, etag, last_modified_ms, "
      "headers, checksum_algorithm, checksum, checksum_type, parts_count, owner, "
      "part_sizes, body) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  put.Text(1, info.bucket).Blob(2, info.key).Text(3, id).Int(4, static_cast<int64_t>(info.size));
  put.Text(5, info.etag).Int(6, info.last_modified_ms).Blob(7, EncodeHeaders(info.headers));
  put.Int(8, static_cast<int>(info.checksum.algorithm)).Text(9, info.checksum.value);
  put.Text(10, info.checksum.type).Int(11, info.parts_count).Text(12, info.owner);
  put.Text(13, EncodeParts(info.part_sizes, info.part_checksums));
  if (inline_id > 0) {
    put.Int(14, inline_id);
  } else {
    sqlite3_bind_null(put.raw(), 14);
  }
  return put.Run();
}

// Inside the write transaction: whether bucket/key as it is now meets `p` (the check and the
// change commit together, so a concurrent writer cannot slip between them).
Status LocalStore::Impl::MeetsPrecondition(Db& db, const std::string& bucket,
                                           const std::string& key, const Precondition& p) {
  if (p.empty()) return Status::Ok();
  Stmt s =
      db.Prepare("SELECT etag, size, last_modified_ms FROM objects WHERE bucket = ? AND key = ?");
  s.Text(1, bucket).Blob(2, key);
  auto row = s.Step();
  if (!row) return row.error();
  if (!*row) return CheckPrecondition(p, nullptr);
  ObjectInfo current;
  current.etag = s.ColText(0);
  current.size = static_cast<uint64_t>(s.ColInt(1));
  current.last_modified_ms = s.ColInt(2);
  return CheckPrecondition(p, &current);
}

Status LocalStore::Impl::BucketMustExist(Db& db, const std::string& bucket) {
  Stmt s = db.Prepare("SELECT 1 FROM buckets WHERE name = ?");
  s.Text(1, bucket);
  auto row = s.Step();
  if (!row) return row.error();
  if (!*row) return Error(ErrorCode::kNoSuchBucket);
  return Status::Ok();
}

}  // namespace logbucket::store
