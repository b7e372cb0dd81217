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

// ------------------------------------------------------------------------------- multipart

Result<Upload> LocalStore::CreateUpload(Upload upload) {
  LB_RETURN_IF_ERROR(ValidateKey(upload.key));
  upload.upload_id = HexEncode(RandomBytes(24));
  upload.initiated_ms = impl_->options.clock->NowMs();
  Status s = impl_->RunWrite([&](Db& db, Effects&) -> Status {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, upload.bucket));
    Stmt put = db.Prepare(
        "INSERT INTO uploads(upload_id, bucket, key, initiated_ms, headers, checksum_algorithm, "
        "checksum_type, owner) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    put.Text(1, upload.upload_id).Text(2, upload.bucket).Blob(3, upload.key);
    put.Int(4, upload.initiated_ms).Blob(5, EncodeHeaders(upload.headers));
    put.Int(6, static_cast<int>(upload.checksum_algorithm)).Text(7, upload.checksum_type);
    put.Text(8, upload.owner);
    return put.Run();
  });
  if (!s.ok()) return s;
  return upload;
}

Result<Upload> LocalStore::GetUpload(const std::string& bucket, const std::string& key,
                                     const std::string& upload_id) {
  return impl_->WithReader([&](Db& db) -> Result<Upload> {
    Stmt s = db.Prepare(
        "SELECT initiated_ms, headers, checksum_algorithm, checksum_type, owner FROM uploads "
        "WHERE upload_id = ? AND bucket = ? AND key = ?");
    s.Text(1, upload_id).Text(2, bucket).Blob(3, key);
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) {
      LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
      return Error(ErrorCode::kNoSuchUpload);
    }
    Upload u;
    u.upload_id = upload_id;
    u.bucket = bucket;
    u.key = key;
    u.initiated_ms = s.ColInt(0);
    u.headers = DecodeHeaders(s.ColText(1));
    u.checksum_algorithm = static_cast<ChecksumAlgorithm>(s.ColInt(2));
    u.checksum_type = s.ColText(3);
    u.owner = s.ColText(4);
    return u;
  });
}

Result<Part> LocalStore::PutPart(const Upload& upload, Part part,
                                 std::unique_ptr<BlobWriter> blob) {
  auto* local = dynamic_cast<LocalBlobWriter*>(blob.get());
  if (local == nullptr) return Error(ErrorCode::kInternalError, "foreign blob writer");
  part.size = local->size();
  part.last_modified_ms = impl_->options.clock->NowMs();
  auto dirs = impl_->Seal(*local);
  if (!dirs) return dirs.error();
  std::string id = local->id();
  Status s = impl_->RunWrite(
      [&](Db& db, Effects& effects) -> Status {
        Stmt exists = db.Prepare("SELECT 1 FROM uploads WHERE upload_id = ?");
        exists.Text(1, upload.upload_id);
        auto row = exists.Step();
        if (!row) return row.error();
        if (!*row) return Error(ErrorCode::kNoSuchUpload);
        Stmt old = db.Prepare("SELECT blob FROM parts WHERE upload_id = ? AND number = ?");
        old.Text(1, upload.upload_id).Int(2, part.number);
        row = old.Step();
        if (!row) return row.error();
        if (*row) effects.unlink.push_back(old.ColText(0));
        Stmt put = db.Prepare(
            "INSERT OR REPLACE INTO parts(upload_id, number, blob, size, etag, "
            "last_modified_ms, checksum) VALUES(?, ?, ?, ?, ?, ?, ?)");
        put.Text(1, upload.upload_id).Int(2, part.number).Text(3, id);
        put.Int(4, static_cast<int64_t>(part.size)).Text(5, part.etag);
        put.Int(6, part.last_modified_ms).Text(7, part.checksum.value);
        return put.Run();
      },
      std::move(*dirs));
  if (!s.ok()) {
    (void)impl_->fs->Remove(impl_->BlobPath(id));
    return s;
  }
  part.checksum.algorithm = upload.checksum_algorithm;
  return part;
}

Result<ListPartsResult> LocalStore::ListParts(const Upload& upload, int part_number_marker,
                                              int max_parts) {
  return impl_->WithReader([&](Db& db) -> Result<ListPartsResult> {
    Stmt s = db.Prepare(
        "SELECT number, size, etag, last_modified_ms, checksum FROM parts WHERE upload_id = ? "
        "AND number > ? ORDER BY number LIMIT ?");
    s.Text(1, upload.upload_id).Int(2, part_number_marker).Int(3, max_parts + 1);
    ListPartsResult result;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      if (static_cast<int>(result.parts.size()) == max_parts) {
        result.truncated = true;
        break;
      }
      Part p;
      p.number = static_cast<int>(s.ColInt(0));
      p.size = static_cast<uint64_t>(s.ColInt(1));
      p.etag = s.ColText(2);
      p.last_modified_ms = s.ColInt(3);
      p.checksum.value = s.ColText(4);
      p.checksum.algorithm = upload.checksum_algorithm;
      result.parts.push_back(std::move(p));
    }
    if (!result.parts.empty()) result.next_part_number_marker = result.parts.back().number;
    return result;
  });
}

Result<ObjectInfo> LocalStore::CompleteUpload(const Upload& upload,
                                              const std::vector<CompletedPart>& parts,
                                              uint64_t min_part_size,
                                              const Precondition& precondition,
                                              const std::string& expected_checksum) {
  if (parts.empty()) {
    return Error(ErrorCode::kMalformedXML, "You must specify at least one part.");
  }
  if (!precondition.empty()) {  // early, before the parts are joined (checked again at commit)
    auto current = HeadObject(upload.bucket, upload.key);
    if (!current && current.error().code() != ErrorCode::kNoSuchKey) return current.error();
    LB_RETURN_IF_ERROR(CheckPrecondition(precondition, current ? &*current : nullptr));
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].number <= parts[i - 1].number) return Error(ErrorCode::kInvalidPartOrder);
  }
  // Read the stored parts.
  struct StoredPart {
    std::string blob;
    uint64_t size;
    std::string etag;
    std::string checksum;
  };
  std::unordered_map<int, StoredPart> stored;
  Status read = impl_->WithReader([&](Db& db) -> Status {
    Stmt s = db.Prepare("SELECT number, blob, size, etag, checksum FROM parts WHERE upload_id = ?");
    s.Text(1, upload.upload_id);
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      stored[static_cast<int>(s.ColInt(0))] = {s.ColText(1), static_cast<uint64_t>(s.ColInt(2)),
                                               s.ColText(3), s.ColText(4)};
    }
    return Status::Ok();
  });
  LB_RETURN_IF_ERROR(read);
  std::vector<std::string> md5s;
  std::string raw_checksums;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto it = stored.find(parts[i].number);
    if (it == stored.end() || it->second.etag != parts[i].etag) {
      return Error(ErrorCode::kInvalidPart, "Part " + std::to_string(parts[i].number) +
                                                " was not uploaded or its ETag does not match.");
    }
    if (i + 1 < parts.size() && it->second.size < min_part_size) {
      return Error(ErrorCode::kEntityTooSmall, "Part " + std::to_string(parts[i].number) +
                                                   " is smaller than the minimum "
                                                   "allowed size (" +
                                                   std::to_string(min_part_size) +
                                                   " bytes) and is not the "
                                                   "last part.");
    }
    md5s.push_back(it->second.etag);
    raw_checksums += Base64Decode(it->second.checksum).value_or("");
    total_bytes += it->second.size;
  }
  // The parts stay until the assembled copy commits: it needs their size again.
  LB_RETURN_IF_ERROR(impl_->disk.Check(total_bytes));

  // Assemble the object into one new blob (parts are read once; full-object CRCs are computed
  // on the way when the upload asked for them).
  auto writer = impl_->NewLocalBlob(0);
  if (!writer) return writer.error();
  std::unique_ptr<Hasher> full;
  if (upload.checksum_algorithm != ChecksumAlgorithm::kNone &&
      upload.checksum_type == "FULL_OBJECT") {
    full = NewChecksum(upload.checksum_algorithm);
  }
  std::vector<char> buffer(1 << 20);
  for (const CompletedPart& p : parts) {
    const StoredPart& sp = stored[p.number];
    std::string path = impl_->BlobPath(sp.blob);
    auto in = impl_->fs->OpenForRead(path);
    if (!in) return in.error();
    if (!full) {
      LB_RETURN_IF_ERROR((*writer)->AppendFrom(in->get(), 0, sp.size));
      continue;
    }
    platform::FileBytes part(std::make_shared<const ScopedFd>(std::move(*in)), sp.size, "part");
    uint64_t offset = 0;
    while (offset < sp.size) {
      auto n =
          part.ReadAt(offset, buffer.data(),
                      static_cast<size_t>(std::min<uint64_t>(buffer.size(), sp.size - offset)));
      if (!n) return n.error();
      if (*n == 0) return Error(ErrorCode::kInternalError, "part " + sp.blob + " is short");
      std::string_view chunk(buffer.data(), *n);
      full->Update(chunk);
      LB_RETURN_IF_ERROR((*writer)->Append(chunk));
      offset += *n;
    }
  }
  uint64_t total = 0;
  for (const CompletedPart& p : parts) total += stored[p.number].size;

  ObjectInfo info;
  info.bucket = upload.bucket;
  info.key = upload.key;
  info.size = total;
  info.etag = MultipartEtag(md5s);
  info.headers = upload.headers;
  info.parts_count = static_cast<int>(parts.size());
  for (const CompletedPart& p : parts) {
    info.part_sizes.push_back(stored[p.number].size);
    if (upload.checksum_algorithm != ChecksumAlgorithm::kNone) {
      info.part_checksums.push_back(stored[p.number].checksum);
    }
  }
  info.owner = upload.owner;
  info.last_modified_ms = impl_->options.clock->NowMs();
  if (upload.checksum_algorithm != ChecksumAlgorithm::kNone) {
    info.checksum.algorithm = upload.checksum_algorithm;
    info.checksum.type = upload.checksum_type;
    if (full) {
      info.checksum.value = Base64Encode(full->Finish());
    } else {
      auto h = NewChecksum(upload.checksum_algorithm);
      h->Update(raw_checksums);
      info.checksum.value = Base64Encode(h->Finish()) + "-" + std::to_string(parts.size());
    }
  }
  if (!expected_checksum.empty()) {
    auto base = [](std::string_view v) { return v.substr(0, v.find('-')); };
    if (info.checksum.algorithm == ChecksumAlgorithm::kNone) {
      return Error(ErrorCode::kInvalidRequest,
                   "The upload was created without a checksum algorithm.");
    }
    if (base(expected_checksum) != base(info.checksum.value)) {
      return Error(ErrorCode::kBadDigest, "The " +
                                              std::string(ChecksumName(info.checksum.algorithm)) +
                                              " you specified did not match the calculated "
                                              "checksum.");
    }
  }
  auto dirs = impl_->Seal(**writer);
  if (!dirs) return dirs.error();
  std::string id = (*writer)->id();
  Status s = impl_->RunWrite(
      [&](Db& db, Effects& effects) -> Status {
        Stmt exists = db.Prepare("SELECT 1 FROM uploads WHERE upload_id = ?");
        exists.Text(1, upload.upload_id);
        auto row = exists.Step();
        if (!row) return row.error();
        if (!*row) return Error(ErrorCode::kNoSuchUpload);
        LB_RETURN_IF_ERROR(Impl::MeetsPrecondition(db, upload.bucket, upload.key, precondition));
        Stmt blobs = db.Prepare("SELECT blob FROM parts WHERE upload_id = ?");
        blobs.Text(1, upload.upload_id);
        while (true) {
          auto r = blobs.Step();
          if (!r) return r.error();
          if (!*r) break;
          effects.unlink.push_back(blobs.ColText(0));
        }
        LB_RETURN_IF_ERROR(Impl::ReplaceObjectRow(db, info, id, effects));
        Stmt del_parts = db.Prepare("DELETE FROM parts WHERE upload_id = ?");
        del_parts.Text(1, upload.upload_id);
        LB_RETURN_IF_ERROR(del_parts.Run());
        Stmt del_upload = db.Prepare("DELETE FROM uploads WHERE upload_id = ?");
        del_upload.Text(1, upload.upload_id);
        return del_upload.Run();
      },
      std::move(*dirs));
  if (!s.ok()) {
    (void)impl_->fs->Remove(impl_->BlobPath(id));
    return s;
  }
  return info;
}

Status LocalStore::AbortUpload(const Upload& upload) {
  return impl_->RunWrite([&](Db& db, Effects& effects) -> Status {
    Stmt exists = db.Prepare("SELECT 1 FROM uploads WHERE upload_id = ?");
    exists.Text(1, upload.upload_id);
    auto row = exists.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kNoSuchUpload);
    Stmt blobs = db.Prepare("SELECT blob FROM parts WHERE upload_id = ?");
    blobs.Text(1, upload.upload_id);
    while (true) {
      auto r = blobs.Step();
      if (!r) return r.error();
      if (!*r) break;
      effects.unlink.push_back(blobs.ColText(0));
    }
    Stmt del_parts = db.Prepare("DELETE FROM parts WHERE upload_id = ?");
    del_parts.Text(1, upload.upload_id);
    LB_RETURN_IF_ERROR(del_parts.Run());
    Stmt del_upload = db.Prepare("DELETE FROM uploads WHERE upload_id = ?");
    del_upload.Text(1, upload.upload_id);
    return del_upload.Run();
  });
}

Result<ListUploadsResult> LocalStore::ListUploads(const std::string& bucket,
                                                  const ListUploadsOptions& options) {
  return impl_->WithReader([&](Db& db) -> Result<ListUploadsResult> {
    LB_RETURN_IF_ERROR(Impl::BucketMustExist(db, bucket));
    // Ordered by key, then upload id; resume after (key_marker, upload_id_marker).
    Stmt s = db.Prepare(
        "SELECT upload_id, key, initiated_ms, headers, checksum_algorithm, checksum_type, owner "
        "FROM uploads WHERE bucket = ? AND (key > ? OR (key = ? AND upload_id > ?)) "
        "AND key >= ? ORDER BY key, upload_id");
    s.Text(1, bucket).Blob(2, options.key_marker).Blob(3, options.key_marker);
    s.Text(4, options.upload_id_marker.empty() ? std::string(1, '\x7f') : options.upload_id_marker);
    s.Blob(5, options.prefix);  // seek to the prefix; the loop stops once past it
    ListUploadsResult result;
    std::string last_prefix;
    int emitted = 0;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      std::string key = s.ColText(1);
      if (key.compare(0, options.prefix.size(), options.prefix) != 0) break;  // sorted: past it
      if (emitted == options.max_uploads) {
        result.truncated = true;
        break;
      }
      if (!options.delimiter.empty()) {
        size_t pos = key.find(options.delimiter, options.prefix.size());
        if (pos != std::string::npos) {
          std::string common = key.substr(0, pos + options.delimiter.size());
          if (common != last_prefix) {
            result.common_prefixes.push_back(common);
            last_prefix = common;
            ++emitted;
            result.next_key_marker = common;
            result.next_upload_id_marker.clear();
          }
          continue;
        }
      }
      Upload u;
      u.upload_id = s.ColText(0);
      u.bucket = bucket;
      u.key = key;
      u.initiated_ms = s.ColInt(2);
      u.headers = DecodeHeaders(s.ColText(3));
      u.checksum_algorithm = static_cast<ChecksumAlgorithm>(s.ColInt(4));
      u.checksum_type = s.ColText(5);
      u.owner = s.ColText(6);
      result.next_key_marker = u.key;
      result.next_upload_id_marker = u.upload_id;
      result.uploads.push_back(std::move(u));
      ++emitted;
    }
    return result;
  });
}

}  // namespace logbucket::store
