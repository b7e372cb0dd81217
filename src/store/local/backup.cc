#include "store/local/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "common/encoding.h"
#include "platform/file_util.h"
#include "store/local/schema.h"
#include "store/local/sqlite.h"

namespace logbucket::store {
namespace {

using platform::ScopedFd;

constexpr const char* kMarker = "BACKUP.json";

std::string BlobFile(const std::string& id) {
  return "blobs/" + id.substr(0, 2) + "/" + id.substr(2, 2) + "/" + id;
}

// "a/b/c" → "a/b"; "c" → "".
std::string Parent(const std::string& file) {
  size_t slash = file.rfind('/');
  return slash == std::string::npos ? std::string() : file.substr(0, slash);
}

std::string WithoutTrailingSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// `path` does not exist, or is an empty directory (which the finished copy replaces).
Status MustBeFree(const std::string& path, const char* flag) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return platform::PosixError("stat", path, errno);
  }
  auto entries = platform::ListDir(path);
  if (!S_ISDIR(st.st_mode) || !entries || !entries->empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(flag) + " " + path +
                     " already exists and is not an empty directory (nothing was written)");
  }
  return Status::Ok();
}

// Files into a directory being built: hard links while the file system allows, else copies,
// each file synced; the directories written are synced at the end.
class TreeWriter {
 public:
  TreeWriter(std::string root, bool allow_links) : root_(std::move(root)), links_(allow_links) {}

  // False when `from` does not exist (a body unlinked since it was listed).
  Result<bool> Put(const std::string& from, const std::string& file) {
    std::string to = root_ + "/" + file;
    LB_RETURN_IF_ERROR(EnsureDir(Parent(file)));
    if (links_) {
      if (::link(from.c_str(), to.c_str()) == 0) {
        ++linked_;
        return true;
      }
      if (errno == ENOENT) return false;
      if (errno == EEXIST) return true;
      if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EACCES) {
        return platform::PosixError("link", to, errno);
      }
      links_ = false;  // another file system: copy from now on
    }
    return Copy(from, file);
  }

  Result<bool> Copy(const std::string& from, const std::string& file) {
    std::string to = root_ + "/" + file;
    LB_RETURN_IF_ERROR(EnsureDir(Parent(file)));
    ScopedFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) {
      if (errno == ENOENT) return false;
      return platform::PosixError("open", from, errno);
    }
    auto size = platform::FileSize(in.get());
    if (!size) return size.error();
    ScopedFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out.valid()) return platform::PosixError("create", to, errno);
    LB_RETURN_IF_ERROR(platform::CopyRange(in.get(), 0, *size, out.get()));
    if (::fsync(out.get()) != 0) return platform::PosixError("fsync", to, errno);
    bytes_copied_ += *size;
    return true;
  }

  Status EnsureDir(const std::string& dir) {
    if (dir.empty() || dirs_.count(dir) != 0) return Status::Ok();
    LB_RETURN_IF_ERROR(platform::MakeDirs(root_ + "/" + dir, 0700));
    for (std::string d = dir; !d.empty(); d = Parent(d)) {
      dirs_.insert(d);
    }
    return Status::Ok();
  }

  bool Exists(const std::string& file) const {
    return ::access((root_ + "/" + file).c_str(), F_OK) == 0;
  }

  // Syncs every directory written, deepest first, then the root.
  Status SyncDirs() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      LB_RETURN_IF_ERROR(platform::FsyncPath(root_ + "/" + *it));
    }
    return platform::FsyncPath(root_);
  }

  uint64_t linked() const { return linked_; }
  uint64_t bytes_copied() const { return bytes_copied_; }

 private:
  std::string root_;
  bool links_;
  std::set<std::string> dirs_;
  uint64_t linked_ = 0;
  uint64_t bytes_copied_ = 0;
};

// Every blob file under root/blobs, as ids.
std::vector<std::string> ListBlobs(const std::string& root) {
  std::vector<std::string> ids;
  auto level1 = platform::ListDir(root + "/blobs");
  if (!level1) return ids;
  for (const std::string& a : *level1) {
    auto level2 = platform::ListDir(root + "/blobs/" + a);
    if (!level2) continue;
    for (const std::string& b : *level2) {
      auto files = platform::ListDir(root + "/blobs/" + a + "/" + b);
      if (!files) continue;
      for (const std::string& f : *files) {
        if (f.size() == 32 && f.compare(0, 2, a) == 0 && f.compare(2, 2, b) == 0) {
          ids.push_back(f);
        }
      }
    }
  }
  return ids;
}

Result<int> SchemaVersion(Db& db) {
  Stmt s = db.Prepare("SELECT value FROM meta WHERE name = 'schema_version'");
  auto row = s.Step();
  if (!row) return row.error();
  return *row ? static_cast<int>(ParseDecimal(s.ColText(0)).value_or(0)) : 0;
}

// The blob ids the metadata at `db` references, each with the table it is in.
Result<std::vector<std::pair<std::string, const char*>>> ReferencedBlobs(Db& db) {
  std::vector<std::pair<std::string, const char*>> ids;
  for (const char* table : {"objects", "parts"}) {
    Stmt s = db.Prepare(table[0] == 'o' ? "SELECT blob FROM objects WHERE blob != ''"
                                        : "SELECT blob FROM parts WHERE blob != ''");
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      ids.emplace_back(s.ColText(0), table);
    }
  }
  return ids;
}

Result<uint64_t> CountObjects(Db& db) {
  Stmt s = db.Prepare("SELECT count(*) FROM objects");
  auto row = s.Step();
  if (!row) return row.error();
  return static_cast<uint64_t>(*row ? s.ColInt(0) : 0);
}

// SQLite's online backup of `from` into a new database file `to`, in one step: one read
// transaction, so one consistent snapshot, while the server goes on writing.
Status CopyDatabase(const std::string& from, const std::string& to) {
  auto source = Db::Open(from);
  if (!source) return source.error();
  sqlite3* dest = nullptr;
  if (sqlite3_open_v2(to.c_str(), &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    Status s = SqlError(dest, "open " + to);
    sqlite3_close(dest);
    return s;
  }
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", (*source)->raw(), "main");
  Status status;
  if (backup == nullptr) {
    status = SqlError(dest, "backup " + from);
  } else {
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) status = SqlError(dest, "backup " + from);
  }
  sqlite3_close(dest);
  if (status.ok()) ::chmod(to.c_str(), 0600);
  if (status.ok()) status = platform::FsyncPath(to);
  return status;
}

// The live database, readable from the copy's connection as `src`.
Status Attach(Db& db, const std::string& path) {
  Stmt s = db.Prepare("ATTACH DATABASE ? AS src");
  s.Text(1, path);
  return s.Run();
}

// The rows of the copy that reference blob `id`, gone from the live directory: each replaced
// by its live row (an inline body's row with it) whose body is linked or copied at once, so the
// copy holds a version acknowledged during the backup; a row the live store no longer has
// (deleted during the backup) leaves the copy. Bounded: an object rewritten faster than its
// body can be copied ten times running is left out and counted.
Status TakeCurrentRows(Db& db, TreeWriter& tree, const std::string& source, const std::string& id,
                       const char* table, std::unordered_set<std::string>& keep,
                       BackupReport& report) {
  const bool objects = table[0] == 'o';
  std::vector<std::pair<std::string, std::string>> rows;  // (bucket, key) or (upload, number)
  {
    Stmt s = db.Prepare(objects ? "SELECT bucket, key FROM main.objects WHERE blob = ?"
                                : "SELECT upload_id, number FROM main.parts WHERE blob = ?");
    s.Text(1, id);
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      rows.emplace_back(s.ColText(0), objects ? s.ColText(1) : std::to_string(s.ColInt(1)));
    }
  }
  for (const auto& row_key : rows) {
    const std::string& a = row_key.first;  // (named: lambdas cannot capture bindings in C++20)
    const std::string& b = row_key.second;
    // The row's key in every statement below: (bucket, key) or (upload_id, part number).
    auto bind = [&](Stmt& s) {
      s.Text(1, a);
      if (objects) s.Blob(2, b);
      if (!objects) s.Int(2, ParseDecimal(b).value_or(0));
    };
    bool done = false;
    for (int attempt = 0; attempt < 10 && !done; ++attempt) {
      LB_RETURN_IF_ERROR(db.Exec("BEGIN"));
      auto copy_row = [&]() -> Result<std::string> {  // the new blob id, "" if none
        Stmt del =
            db.Prepare(objects ? "DELETE FROM main.objects WHERE bucket = ? AND key = ?"
                               : "DELETE FROM main.parts WHERE upload_id = ? AND number = ?");
        Stmt put = db.Prepare(objects ? "INSERT INTO main.objects SELECT * FROM src.objects "
                                        "WHERE bucket = ? AND key = ?"
                                      : "INSERT INTO main.parts SELECT * FROM src.parts "
                                        "WHERE upload_id = ? AND number = ?");
        for (Stmt* s : {&del, &put}) {
          bind(*s);
          LB_RETURN_IF_ERROR(s->Run());
        }
        if (objects) {
          Stmt body = db.Prepare(
              "INSERT OR REPLACE INTO main.bodies SELECT * FROM src.bodies WHERE id = "
              "(SELECT body FROM main.objects WHERE bucket = ? AND key = ?)");
          body.Text(1, a).Blob(2, b);
          LB_RETURN_IF_ERROR(body.Run());
        }
        Stmt now =
            db.Prepare(objects ? "SELECT blob FROM main.objects WHERE bucket = ? AND key = ?"
                               : "SELECT blob FROM main.parts WHERE upload_id = ? AND number = ?");
        bind(now);
        auto row = now.Step();
        if (!row) return row.error();
        return *row ? now.ColText(0) : std::string();
      }();
      if (!copy_row) {
        (void)db.Exec("ROLLBACK");
        return copy_row.error();
      }
      std::string blob = *copy_row;
      bool ok = true;
      if (!blob.empty() && !tree.Exists(BlobFile(blob))) {
        auto put = tree.Put(source + "/" + BlobFile(blob), BlobFile(blob));
        if (!put) {
          (void)db.Exec("ROLLBACK");
          return put.error();
        }
        ok = *put;
      }
      if (!ok) {
        (void)db.Exec("ROLLBACK");  // replaced once more meanwhile: again
        continue;
      }
      LB_RETURN_IF_ERROR(db.Exec("COMMIT"));
      if (!blob.empty()) keep.insert(blob);
      ++report.refreshed;
      done = true;
    }
    if (!done) {
      Stmt del = db.Prepare(objects ? "DELETE FROM main.objects WHERE bucket = ? AND key = ?"
                                    : "DELETE FROM main.parts WHERE upload_id = ? AND number = ?");
      bind(del);
      LB_RETURN_IF_ERROR(del.Run());
      ++report.dropped;
    }
  }
  return Status::Ok();
}

std::string Temporary(const std::string& final_path) {
  return final_path + ".partial-" + HexEncode(RandomBytes(4));
}

// Puts the finished tree in place: rename (replacing an empty directory), then the parent's
// entry made durable.
Status Publish(const std::string& built, const std::string& final_path) {
  if (::rename(built.c_str(), final_path.c_str()) != 0) {
    return platform::PosixError("rename", final_path, errno);
  }
  std::string parent = final_path.find('/') == std::string::npos ? "." : Parent(final_path);
  return platform::FsyncPath(parent.empty() ? "/" : parent);  // "/x" → ""
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Optional files copied as they are (mode 0600): the viewer's session secret, so sign-ins
// survive a restore.
constexpr const char* kKeptFiles[] = {"web-session.key"};

}  // namespace

Result<BackupReport> Backup(const BackupOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string source = WithoutTrailingSlash(options.data_dir);
  const std::string destination = WithoutTrailingSlash(options.destination);
  if (::access((source + "/meta.sqlite").c_str(), R_OK) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "--data " + source + " is not a logbucket data directory (no meta.sqlite)");
  }
  LB_RETURN_IF_ERROR(MustBeFree(destination, "--to"));
  const std::string built = Temporary(destination);
  LB_RETURN_IF_ERROR(platform::MakeDirs(built, 0700));
  auto result = [&]() -> Result<BackupReport> {
    BackupReport report;
    TreeWriter tree(built, !options.copy);
    // 1. Every body that exists now: whatever the snapshot below references and the server
    //    deletes before step 3 reaches it is already safe here.
    for (const std::string& id : ListBlobs(source)) {
      auto put = tree.Put(source + "/" + BlobFile(id), BlobFile(id));
      if (!put) return put.error();
    }
    // 2. The metadata, one snapshot.
    const std::string db_path = built + "/meta.sqlite";
    LB_RETURN_IF_ERROR(CopyDatabase(source + "/meta.sqlite", db_path));
    auto db = Db::Open(db_path);
    if (!db) return db.error();
    auto version = SchemaVersion(**db);
    if (!version) return version.error();
    report.schema_version = *version;
    // 3. The bodies written between steps 1 and 2. A body already gone belongs to an object
    //    (or part) replaced again since the snapshot: the copy takes its row as it is now.
    auto referenced = ReferencedBlobs(**db);
    if (!referenced) return referenced.error();
    std::unordered_set<std::string> keep;
    LB_RETURN_IF_ERROR(Attach(**db, source + "/meta.sqlite"));
    for (const auto& [id, table] : *referenced) {
      if (!tree.Exists(BlobFile(id))) {
        auto put = tree.Put(source + "/" + BlobFile(id), BlobFile(id));
        if (!put) return put.error();
        if (!*put) {
          LB_RETURN_IF_ERROR(TakeCurrentRows(**db, tree, source, id, table, keep, report));
          continue;
        }
      }
      keep.insert(id);
    }
    LB_RETURN_IF_ERROR((*db)->Exec("DETACH DATABASE src"));
    // 4. Step 1's files that the snapshot does not reference (deleted since, or orphans).
    for (const std::string& id : ListBlobs(built)) {
      if (keep.count(id) == 0) (void)::unlink((built + "/" + BlobFile(id)).c_str());
    }
    auto objects = CountObjects(**db);
    if (!objects) return objects.error();
    report.objects = *objects;
    LB_RETURN_IF_ERROR((*db)->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    db->reset();
    for (const char* name : kKeptFiles) {
      auto copied = tree.Copy(source + "/" + name, name);
      if (!copied) return copied.error();
    }
    report.blob_files = keep.size();
    report.linked = tree.linked();
    report.bytes_copied = tree.bytes_copied();
    nlohmann::json marker = {{"format", 1},
                             {"created", static_cast<int64_t>(std::time(nullptr))},
                             {"source", source},
                             {"schema_version", report.schema_version},
                             {"objects", report.objects},
                             {"blob_files", report.blob_files}};
    LB_RETURN_IF_ERROR(
        platform::WriteFileAtomic(built + "/" + kMarker, marker.dump(2) + "\n", 0600));
    LB_RETURN_IF_ERROR(tree.SyncDirs());
    LB_RETURN_IF_ERROR(Publish(built, destination));
    report.seconds = SecondsSince(start);
    return report;
  }();
  if (!result) (void)platform::RemoveTree(built);
  return result;
}

Result<RestoreReport> Restore(const RestoreOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string from = WithoutTrailingSlash(options.backup_dir);
  const std::string data_dir = WithoutTrailingSlash(options.data_dir);
  if (::access((from + "/" + kMarker).c_str(), R_OK) != 0 ||
      ::access((from + "/meta.sqlite").c_str(), R_OK) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "--from " + from + " is not a finished logbucket backup (no " + kMarker + ")");
  }
  LB_RETURN_IF_ERROR(MustBeFree(data_dir, "--data"));
  const std::string built = Temporary(data_dir);
  LB_RETURN_IF_ERROR(platform::MakeDirs(built, 0700));
  auto result = [&]() -> Result<RestoreReport> {
    RestoreReport report;
    TreeWriter tree(built, !options.copy);
    // The database is always copied: the server writes it in place, the backup must not change.
    {
      TreeWriter db_copy(built, false);
      auto copied = db_copy.Copy(from + "/meta.sqlite", "meta.sqlite");
      if (!copied) return copied.error();
      report.bytes_copied += db_copy.bytes_copied();
    }
    auto db = Db::Open(built + "/meta.sqlite");
    if (!db) return db.error();
    auto version = SchemaVersion(**db);
    if (!version) return version.error();
    report.schema_version = *version;
    if (*version > kSchemaVersion) {
      return Error(ErrorCode::kInvalidArgument,
                   "the backup was made by a newer logbucket (metadata schema " +
                       std::to_string(*version) + "; this binary knows up to " +
                       std::to_string(kSchemaVersion) + "): restore it with that version");
    }
    auto referenced = ReferencedBlobs(**db);
    if (!referenced) return referenced.error();
    for (const auto& [id, table] : *referenced) {
      auto put = tree.Put(from + "/" + BlobFile(id), BlobFile(id));
      if (!put) return put.error();
      if (!*put) {
        return Error(ErrorCode::kInvalidArgument,
                     "the backup " + from + " lacks " + BlobFile(id) +
                         ", which its metadata references (check it with `logbucket fsck --data " +
                         from + "`)");
      }
      ++report.blob_files;
    }
    auto objects = CountObjects(**db);
    if (!objects) return objects.error();
    report.objects = *objects;
    db->reset();
    LB_RETURN_IF_ERROR(tree.EnsureDir("blobs"));
    LB_RETURN_IF_ERROR(tree.EnsureDir("tmp"));
    for (const char* name : kKeptFiles) {
      auto copied = tree.Copy(from + "/" + name, name);
      if (!copied) return copied.error();
    }
    report.linked = tree.linked();
    report.bytes_copied += tree.bytes_copied();
    LB_RETURN_IF_ERROR(tree.SyncDirs());
    LB_RETURN_IF_ERROR(Publish(built, data_dir));
    report.seconds = SecondsSince(start);
    return report;
  }();
  if (!result) (void)platform::RemoveTree(built);
  return result;
}

}  // namespace logbucket::store
