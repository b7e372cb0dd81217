#include "store/local/local_store.h"

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

Result<std::unique_ptr<LocalStore>> OpenLocalStore(const LocalStoreOptions& options) {
  auto impl = std::make_unique<LocalStore::Impl>();
  impl->options = options;
  impl->fs = options.fs;
  impl->root = options.data_dir;
  while (impl->root.size() > 1 && impl->root.back() == '/') impl->root.pop_back();
  LB_RETURN_IF_ERROR(platform::MakeDirs(impl->root, 0700));
  LB_RETURN_IF_ERROR(platform::MakeDirs(impl->root + "/blobs", 0700));
  LB_RETURN_IF_ERROR(platform::MakeDirs(impl->root + "/tmp", 0700));
  if (options.recover) {
    std::string lock_path = impl->root + "/LOCK";
    impl->lock_fd = ScopedFd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!impl->lock_fd.valid()) return platform::PosixError("open", lock_path, errno);
    if (::flock(impl->lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
      return Error(ErrorCode::kInvalidArgument,
                   impl->root + " is in use by another logbucket server (LOCK is held)");
    }
  }
  std::string db_path = impl->root + "/meta.sqlite";
  auto writer = Db::Open(db_path);
  if (!writer) return writer.error();
  impl->writer = std::move(*writer);
  ::chmod(db_path.c_str(), 0600);
  // A newer binary's directory is refused before anything here writes to it (not even the
  // schema script's CREATE IF NOT EXISTS): a downgrade must leave it as it was.
  {
    Stmt has_meta =
        impl->writer->Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
    auto exists = has_meta.Step();
    if (!exists) return exists.error();
    if (*exists) {
      Stmt get = impl->writer->Prepare("SELECT value FROM meta WHERE name = 'schema_version'");
      auto row = get.Step();
      if (!row) return row.error();
      if (*row && ParseDecimal(get.ColText(0)).value_or(0) > kSchemaVersion) {
        return Error(ErrorCode::kInvalidArgument,
                     impl->root + " was written by a newer logbucket (metadata schema " +
                         get.ColText(0) + "; this binary knows up to " +
                         std::to_string(kSchemaVersion) +
                         "). Downgrades are refused: run the newer version, or restore a backup "
                         "made before the upgrade (docs/OPERATIONS.md)");
      }
    }
  }
  // The reserve (a preallocated file) only once the directory is known to be this binary's.
  if (options.recover) impl->disk.Init(impl->root, options.min_free_bytes, options.reserve_bytes);
  LB_RETURN_IF_ERROR(impl->writer->Exec(kSchema));
  LB_RETURN_IF_ERROR(MigrateSchema(*impl->writer, db_path));
  {
    Stmt get = impl->writer->Prepare("SELECT value FROM meta WHERE name = 'schema_version'");
    auto row = get.Step();
    if (!row) return row.error();
    if (!*row) {
      Stmt put = impl->writer->Prepare("INSERT INTO meta(name, value) VALUES('schema_version', ?)");
      put.Text(1, std::to_string(kSchemaVersion));
      LB_RETURN_IF_ERROR(put.Run());
    } else if (get.ColText(0) != std::to_string(kSchemaVersion)) {
      return Error(ErrorCode::kInternalError, db_path + ": schema version " + get.ColText(0) +
                                                  " is newer than this "
                                                  "binary understands (" +
                                                  std::to_string(kSchemaVersion) + ")");
    }
  }
  // Every column the code reads must exist (a directory from a development build before a
  // column was added fails here, clearly, instead of on the first request).
  {
    std::string probe = std::string("SELECT ") + kObjectColumns + " FROM objects LIMIT 0";
    char* err = nullptr;
    if (sqlite3_exec(impl->writer->raw(), probe.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err != nullptr ? err : "unknown";
      sqlite3_free(err);
      return Error(ErrorCode::kInternalError,
                   db_path + ": the metadata schema does not match this binary (" + why + ")");
    }
  }
  LB_RETURN_IF_ERROR(impl->OpenUsersMarker());
  auto store = std::unique_ptr<LocalStore>(new LocalStore(std::move(impl)));
  if (options.recover) LB_RETURN_IF_ERROR(store->impl_->Recover(store->recovery_));
  LocalStore::Impl* raw = store->impl_.get();
  raw->committer = std::thread([raw] { raw->CommitLoop(); });
  return store;
}

LocalStore::LocalStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LocalStore::~LocalStore() {
  if (impl_->users_counter != nullptr) {
    ::munmap(const_cast<uint64_t*>(impl_->users_counter), sizeof(uint64_t));
  }
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->committer.joinable()) impl_->committer.join();
}

// ------------------------------------------------------------------------------- buckets

namespace {

Bucket BucketFromRow(Stmt& s) {
  return Bucket{s.ColText(0), s.ColInt(1),  s.ColText(2), s.ColText(3), s.ColText(4),
                s.ColText(5), s.ColText(6), s.ColText(7), s.ColText(8), s.ColText(9)};
}

}  // namespace

Result<std::vector<Bucket>> LocalStore::ListBuckets() {
  return impl_->WithReader([](Db& db) -> Result<std::vector<Bucket>> {
    Stmt s = db.Prepare(
        "SELECT name, created_ms, owner, region, policy, lifecycle, acl, cors, ownership, "
        "public_access_block FROM buckets ORDER BY name");
    std::vector<Bucket> out;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(BucketFromRow(s));
    }
    return out;
  });
}

Result<Bucket> LocalStore::GetBucket(const std::string& name) {
  if (auto cached = impl_->cache.FindBucket(name)) return *cached;
  uint64_t generation = impl_->cache.generation();
  auto found = impl_->WithReader([&](Db& db) -> Result<Bucket> {
    Stmt s = db.Prepare(
        "SELECT name, created_ms, owner, region, policy, lifecycle, acl, cors, ownership, "
        "public_access_block FROM buckets WHERE name = ?");
    s.Text(1, name);
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kNoSuchBucket);
    return BucketFromRow(s);
  });
  if (found) impl_->cache.InsertBucket(generation, *found);
  return found;
}

Status LocalStore::CreateBucket(const Bucket& bucket) {
  LB_RETURN_IF_ERROR(ValidateBucketName(bucket.name));
  return impl_->RunWrite([&](Db& db, Effects&) -> Status {
    Stmt get = db.Prepare("SELECT owner FROM buckets WHERE name = ?");
    get.Text(1, bucket.name);
    auto row = get.Step();
    if (!row) return row.error();
    if (*row) {
      return Error(get.ColText(0) == bucket.owner ? ErrorCode::kBucketAlreadyOwnedByYou
                                                  : ErrorCode::kBucketAlreadyExists);
    }
    Stmt put = db.Prepare(
        "INSERT INTO buckets(name, created_ms, owner, region, acl, ownership) "
        "VALUES(?, ?, ?, ?, ?, ?)");
    put.Text(1, bucket.name).Int(2, bucket.created_ms).Text(3, bucket.owner).Text(4, bucket.region);
    int column = 5;
    for (const std::string* optional : {&bucket.acl, &bucket.ownership}) {
      if (optional->empty()) {
        sqlite3_bind_null(put.raw(), column++);
      } else {
        put.Text(column++, *optional);
      }
    }
    return put.Run();
  });
}

Status LocalStore::DeleteBucket(const std::string& name) {
  return impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, name));
    Stmt any = db.Prepare("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1");
    any.Text(1, name);
    auto row = any.Step();
    if (!row) return row.error();
    if (*row) return Error(ErrorCode::kBucketNotEmpty);
    // Unfinished multipart uploads do not keep a bucket (AWS and RGW abort them): their parts
    // go with it.
    Stmt blobs = db.Prepare(
        "SELECT blob FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = "
        "?)");
    blobs.Text(1, name);
    while (true) {
      auto r = blobs.Step();
      if (!r) return r.error();
      if (!*r) break;
      effects.unlink.push_back(blobs.ColText(0));
    }
    Stmt del_parts = db.Prepare(
        "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)");
    del_parts.Text(1, name);
    LB_RETURN_IF_ERROR(del_parts.Run());
    Stmt del_uploads = db.Prepare("DELETE FROM uploads WHERE bucket = ?");
    del_uploads.Text(1, name);
    LB_RETURN_IF_ERROR(del_uploads.Run());
    effects.buckets.push_back(name);
    Stmt del = db.Prepare("DELETE FROM buckets WHERE name = ?");
    del.Text(1, name);
    return del.Run();
  });
}

Status LocalStore::SetBucketDocument(const std::string& bucket, BucketDocument which,
                                     const std::string& text) {
  const char* sql = nullptr;
  switch (which) {
    case BucketDocument::kPolicy:
      sql = "UPDATE buckets SET policy = ? WHERE name = ?";
      break;
    case BucketDocument::kLifecycle:
      sql = "UPDATE buckets SET lifecycle = ? WHERE name = ?";
      break;
    case BucketDocument::kAcl:
      sql = "UPDATE buckets SET acl = ? WHERE name = ?";
      break;
    case BucketDocument::kCors:
      sql = "UPDATE buckets SET cors = ? WHERE name = ?";
      break;
    case BucketDocument::kOwnership:
      sql = "UPDATE buckets SET ownership = ? WHERE name = ?";
      break;
    case BucketDocument::kPublicAccessBlock:
      sql = "UPDATE buckets SET public_access_block = ? WHERE name = ?";
      break;
  }
  return impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    effects.buckets.push_back(bucket);
    Stmt s = db.Prepare(sql);
    if (text.empty()) {
      sqlite3_bind_null(s.raw(), 1);
    } else {
      s.Text(1, text);
    }
    s.Text(2, bucket);
    return s.Run();
  });
}

// ------------------------------------------------------------------------------- objects

Status LocalStore::CheckSpaceFor(uint64_t incoming_bytes) {
  return impl_->disk.Check(incoming_bytes);
}

Result<std::unique_ptr<BlobWriter>> LocalStore::NewBlob() {
  LB_RETURN_IF_ERROR(impl_->disk.Check(0));
  auto blob = impl_->NewLocalBlob(impl_->options.inline_body_max_bytes);
  if (!blob) return blob.error();
  return std::unique_ptr<BlobWriter>(std::move(*blob));
}

Result<ObjectInfo> LocalStore::PutObject(ObjectInfo info, std::unique_ptr<BlobWriter> blob,
                                         const Precondition& precondition) {
  auto* local = dynamic_cast<LocalBlobWriter*>(blob.get());
  if (local == nullptr) return Error(ErrorCode::kInternalError, "foreign blob writer");
  LB_RETURN_IF_ERROR(ValidateKey(info.key));
  info.size = local->size();
  info.last_modified_ms = impl_->options.clock->NowMs();
  if (local->in_memory()) {
    // Small: the bytes are committed with the row, durable with the same WAL fsync.
    Status s = impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
      LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, info.bucket));
      LB_RETURN_IF_ERROR(Impl::MeetsPrecondition(db, info.bucket, info.key, precondition));
      return Impl::ReplaceObjectRow(db, info, std::string(), effects, &local->memory());
    });
    if (!s.ok()) return s;
    return info;
  }
  auto dirs = impl_->Seal(*local);
  if (!dirs) return dirs.error();
  std::string id = local->id();
  Status s = impl_->RunWrite(
      [&](Db& db, Effects& effects) -> Status {
        LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, info.bucket));
        LB_RETURN_IF_ERROR(Impl::MeetsPrecondition(db, info.bucket, info.key, precondition));
        return Impl::ReplaceObjectRow(db, info, id, effects);
      },
      std::move(*dirs));
  if (!s.ok()) {
    (void)impl_->fs->Remove(impl_->BlobPath(id));
    return s;
  }
  return info;
}

Result<ObjectInfo> LocalStore::HeadObject(const std::string& bucket, const std::string& key) {
  BodyRef body;
  return impl_->LookupObject(bucket, key, body);
}

Result<OpenedObject> LocalStore::GetObject(const std::string& bucket, const std::string& key) {
  // An overwrite may remove the body between the lookup and the read: look up again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    BodyRef body;
    std::shared_ptr<const std::string> data;
    uint64_t generation = impl_->cache.generation();
    auto info = impl_->LookupObject(bucket, key, body, &data);
    if (!info) return info.error();
    if (body.is_inline()) {
      if (!data) {
        auto read = impl_->ReadInlineBody(body.inline_id);
        if (!read && read.error().code() != ErrorCode::kNoSuchKey) return read.error();
        if (!read) {
          impl_->cache.InvalidateObject(bucket, key);
          continue;
        }
        data = std::move(*read);
        // Ids are never reused (AUTOINCREMENT), so these bytes belong to this row for good.
        impl_->cache.InsertObject(generation, {*info, body, data});
      }
      return OpenedObject{std::move(*info),
                          std::make_unique<platform::MemoryBytes>(std::move(data))};
    }
    const std::string& blob = body.blob;
    const uint64_t size = info->size;
    if (auto cached = impl_->open_blobs.Find(blob)) {
      return OpenedObject{std::move(*info),
                          std::make_unique<platform::FileBytes>(std::move(cached), size, "blob")};
    }
    auto fd = impl_->fs->OpenForRead(impl_->BlobPath(blob));
    if (fd) {
      auto shared = std::make_shared<const ScopedFd>(std::move(*fd));
      impl_->open_blobs.InsertIf(blob, shared,
                                 [&] { return impl_->cache.generation() == generation; });
      return OpenedObject{std::move(*info),
                          std::make_unique<platform::FileBytes>(std::move(shared), size, "blob")};
    }
    if (fd.error().code() != ErrorCode::kNotFound) return fd.error();
    impl_->cache.InvalidateObject(bucket, key);
  }
  return Error(ErrorCode::kInternalError, "object body missing for " + bucket + "/" + key);
}

void LocalStore::SetObjectListener(
    std::function<void(const std::string& bucket, const std::string& key)> listener) {
  impl_->object_listener = std::move(listener);
}

Status LocalStore::DeleteObject(const std::string& bucket, const std::string& key,
                                const Precondition& precondition) {
  return impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    LB_RETURN_IF_ERROR(Impl::MeetsPrecondition(db, bucket, key, precondition));
    auto old = Impl::CurrentBody(db, bucket, key);
    if (!old) return old.error();
    if (!*old) return Status::Ok();
    LB_RETURN_IF_ERROR(Impl::DropBody(db, **old, effects));
    effects.objects.emplace_back(bucket, key);
    Stmt del = db.Prepare("DELETE FROM objects WHERE bucket = ? AND key = ?");
    del.Text(1, bucket).Blob(2, key);
    return del.Run();
  });
}

Result<std::vector<Status>> LocalStore::DeleteObjects(
    const std::string& bucket, const std::vector<std::string>& keys,
    const std::vector<Precondition>& preconditions) {
  if (!preconditions.empty() && preconditions.size() != keys.size()) {
    return Error(ErrorCode::kInternalError, "one precondition per key");
  }
  std::vector<Status> results(keys.size());
  Status s = impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!preconditions.empty()) {
        results[i] = Impl::MeetsPrecondition(db, bucket, keys[i], preconditions[i]);
        if (!results[i].ok()) continue;
      }
      auto old = Impl::CurrentBody(db, bucket, keys[i]);
      if (!old) {
        results[i] = old.error();
        continue;
      }
      if (!*old) continue;
      results[i] = Impl::DropBody(db, **old, effects);
      if (!results[i].ok()) continue;
      effects.objects.emplace_back(bucket, keys[i]);
      Stmt del = db.Prepare("DELETE FROM objects WHERE bucket = ? AND key = ?");
      del.Text(1, bucket).Blob(2, keys[i]);
      results[i] = del.Run();
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return results;
}

Result<std::vector<ObjectInfo>> LocalStore::ListObjectsByAge(const std::string& bucket,
                                                             int64_t modified_before_ms,
                                                             const AgeCursor& after, int limit) {
  return impl_->WithReader([&](Db& db) -> Result<std::vector<ObjectInfo>> {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    // Served by the objects_by_age index on (bucket, last_modified_ms).
    static const std::string kSql =
        std::string("SELECT ") + kObjectColumns +
        " FROM objects WHERE bucket = ? AND last_modified_ms < ? AND (last_modified_ms > ? OR "
        "(last_modified_ms = ? AND key > ?)) ORDER BY last_modified_ms, key LIMIT ?";
    Stmt s = db.Prepare(kSql.c_str());
    s.Text(1, bucket).Int(2, modified_before_ms).Int(3, after.last_modified_ms);
    s.Int(4, after.last_modified_ms).Blob(5, after.key).Int(6, limit);
    std::vector<ObjectInfo> out;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(ReadObjectRow(s, bucket, nullptr));
    }
    return out;
  });
}

Status LocalStore::UpdateObjectHeaders(const std::string& bucket, const std::string& key,
                                       const Headers& headers) {
  return impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    Stmt s = db.Prepare("UPDATE objects SET headers = ? WHERE bucket = ? AND key = ?");
    s.Blob(1, EncodeHeaders(headers)).Text(2, bucket).Blob(3, key);
    LB_RETURN_IF_ERROR(s.Run());
    if (s.Changes() == 0) return Error(ErrorCode::kNoSuchKey);
    effects.objects.emplace_back(bucket, key);
    return Status::Ok();
  });
}

Result<int> LocalStore::DeleteObjectsIfUnchanged(const std::string& bucket,
                                                 const std::vector<ObjectVersion>& objects) {
  int deleted = 0;
  Status s = impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
    deleted = 0;
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    for (const ObjectVersion& o : objects) {
      Stmt old = db.Prepare(
          "SELECT blob, body FROM objects WHERE bucket = ? AND key = ? AND etag = ? AND "
          "last_modified_ms = ?");
      old.Text(1, bucket).Blob(2, o.key).Text(3, o.etag).Int(4, o.last_modified_ms);
      auto row = old.Step();
      if (!row) return row.error();
      if (!*row) continue;  // gone or replaced meanwhile
      LB_RETURN_IF_ERROR(Impl::DropBody(db, BodyRef{old.ColText(0), old.ColInt(1)}, effects));
      effects.objects.emplace_back(bucket, o.key);
      Stmt del = db.Prepare("DELETE FROM objects WHERE bucket = ? AND key = ?");
      del.Text(1, bucket).Blob(2, o.key);
      LB_RETURN_IF_ERROR(del.Run());
      ++deleted;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return deleted;
}

Result<BucketUsage> LocalStore::GetBucketUsage(const std::string& bucket) {
  return impl_->WithReadTransaction([&](Db& db) -> Result<BucketUsage> {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    Stmt s = db.Prepare("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects WHERE bucket = ?");
    s.Text(1, bucket);
    auto row = s.Step();
    if (!row) return row.error();
    return BucketUsage{static_cast<uint64_t>(s.ColInt(0)), static_cast<uint64_t>(s.ColInt(1))};
  });
}

Result<ListResult> LocalStore::ListObjects(const std::string& bucket, const ListOptions& options) {
  return impl_->WithReadTransaction([&](Db& db) -> Result<ListResult> {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    ListResult result;
    const std::string& prefix = options.prefix;
    const std::string& delimiter = options.delimiter;
    // Lower bound, inclusive. "after" is exclusive: the next string after it is after + '\0'.
    std::string cursor = prefix;
    if (!options.after.empty() && options.after >= prefix) {
      cursor = options.after;
      cursor.push_back('\0');
      // A marker that is itself a common prefix skips everything under it.
      if (!delimiter.empty() && options.after.size() >= prefix.size() + delimiter.size() &&
          options.after.compare(options.after.size() - delimiter.size(), delimiter.size(),
                                delimiter) == 0 &&
          options.after.find(delimiter, prefix.size()) == options.after.size() - delimiter.size()) {
        std::string next = PrefixSuccessor(options.after);
        if (next.empty()) return result;
        cursor = next;
      }
    }
    if (options.max_keys <= 0) {
      return result;
    }
    static const std::string kSql = std::string("SELECT ") + kObjectColumns +
                                    " FROM objects WHERE bucket = ? AND key >= ? ORDER BY key "
                                    "LIMIT ?";
    std::string last_prefix;
    int emitted = 0;
    const int limit = options.max_keys;
    while (true) {
      Stmt s = db.Prepare(kSql.c_str());
      s.Text(1, bucket).Blob(2, cursor).Int(3, limit - emitted + 1);
      bool reseek = false;
      bool any = false;
      while (true) {
        auto row = s.Step();
        if (!row) return row.error();
        if (!*row) break;
        any = true;
        std::string key = s.ColText(0);
        if (key.compare(0, prefix.size(), prefix) != 0) return result;  // past the prefix
        if (emitted == limit) {
          result.truncated = true;
          return result;
        }
        if (!delimiter.empty()) {
          size_t pos = key.find(delimiter, prefix.size());
          if (pos != std::string::npos) {
            std::string common = key.substr(0, pos + delimiter.size());
            if (common != last_prefix) {
              result.common_prefixes.push_back(common);
              result.last_item = common;
              last_prefix = common;
              ++emitted;
            }
            // Seek past everything under this common prefix.
            cursor = PrefixSuccessor(common);
            if (cursor.empty()) return result;
            reseek = true;
            break;
          }
        }
        result.objects.push_back(ReadObjectRow(s, bucket, nullptr));
        result.last_item = key;
        ++emitted;
        cursor = key;
        cursor.push_back('\0');
      }
      if (!reseek && !any) return result;
      if (!reseek) continue;  // batch exhausted without a seek: fetch the next batch
    }
  });
}

}  // namespace logbucket::store
