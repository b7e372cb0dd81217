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

// Creates blobs/ab/cd for id if needed; returns directories to fsync (the new entry's dir
// and, when created, its parents).
Result<std::vector<std::string>> LocalStore::Impl::PrepareBlobDir(const std::string& id) {
  std::string dir = BlobDir(id);
  {
    std::lock_guard lock(dirs_mu);
    if (known_dirs.count(dir) != 0) return std::vector<std::string>{dir};
  }
  std::vector<std::string> sync = {dir};
  std::string parent = root + "/blobs/" + id.substr(0, 2);
  if (!fs->IsDirectory(dir)) {
    if (!fs->IsDirectory(parent)) sync.push_back(root + "/blobs");
    sync.push_back(parent);
    LB_RETURN_IF_ERROR(fs->MakeDirs(dir, 0755));
  }
  std::lock_guard lock(dirs_mu);
  known_dirs.insert(dir);
  return sync;
}

// fsync + rename a received blob into blobs/. Returns the directories to sync at commit.
Result<std::vector<std::string>> LocalStore::Impl::Seal(LocalBlobWriter& blob) {
  LB_RETURN_IF_ERROR(blob.Sync());
  auto dirs = PrepareBlobDir(blob.id());
  if (!dirs) return dirs.error();
  LB_RETURN_IF_ERROR(fs->Rename(blob.temp_path(), BlobPath(blob.id())));
  blob.MarkCommitted();
  return dirs;
}

// A writer that keeps up to inline_limit bytes in memory (0: a file from the start).
Result<std::unique_ptr<LocalBlobWriter>> LocalStore::Impl::NewLocalBlob(size_t inline_limit) {
  std::string id = HexEncode(RandomBytes(16));
  auto writer = std::make_unique<LocalBlobWriter>(*fs, id, TempPath(id), inline_limit);
  if (inline_limit == 0) LB_RETURN_IF_ERROR(writer->Spill());
  return writer;
}

// The bytes of inline body `id`; NoSuchKey when an overwrite or delete removed it since the
// row was read (the caller looks the object up again).
Result<std::shared_ptr<const std::string>> LocalStore::Impl::ReadInlineBody(int64_t id) {
  return WithReader([&](Db& db) -> Result<std::shared_ptr<const std::string>> {
    Stmt s = db.Prepare("SELECT data FROM bodies WHERE id = ?");
    s.Int(1, id);
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kNoSuchKey);
    return std::make_shared<const std::string>(s.ColText(0));
  });
}

// Inside a transaction: forgets the body of a row being replaced or deleted. An inline body's
// row goes now, with the transaction; a blob file is unlinked after COMMIT.
Status LocalStore::Impl::DropBody(Db& db, const BodyRef& body, Effects& effects) {
  if (!body.blob.empty()) effects.unlink.push_back(body.blob);
  if (!body.is_inline()) return Status::Ok();
  Stmt del = db.Prepare("DELETE FROM bodies WHERE id = ?");
  del.Int(1, body.inline_id);
  return del.Run();
}

}  // namespace logbucket::store
