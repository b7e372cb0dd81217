#include "store/local/fsck.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <unordered_set>

#include "common/encoding.h"
#include "common/hash.h"
#include "platform/file_util.h"
#include "store/local/rows.h"
#include "store/local/schema.h"
#include "store/local/sqlite.h"

namespace logbucket::store {

size_t FsckReport::Unrepaired() const {
  size_t n = 0;
  for (const auto& p : problems) n += p.repaired ? 0 : 1;
  return n;
}

int FsckReport::ExitCode() const {
  if (problems.empty()) return 0;
  return Unrepaired() == 0 ? 1 : 4;
}

namespace {

using platform::ScopedFd;

constexpr size_t kReadChunk = 1 << 20;

bool IsBlobId(const std::string& name) {
  if (name.size() != 32) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string BlobFile(const std::string& id) {
  return "blobs/" + id.substr(0, 2) + "/" + id.substr(2, 2) + "/" + id;
}

// A blob or temp file's state on disk.
struct FileState {
  bool exists = false;
  uint64_t size = 0;
  int64_t age_seconds = 0;  // since its last modification
};

FileState StatFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(std::time(nullptr) - st.st_mtim.tv_sec)};
}

// The MD5 ETag of bytes read from `read` (a function filling a chunk; 0 at the end): plain for
// a single-part object, MD5 of the parts' MD5s and "-N" when part_sizes are known.
class EtagChecker {
 public:
  explicit EtagChecker(const std::vector<uint64_t>& part_sizes) : part_sizes_(part_sizes) {}

  void Update(std::string_view data) {
    while (!data.empty()) {
      if (!part_sizes_.empty() && part_ < part_sizes_.size() && in_part_ == part_sizes_[part_]) {
        FinishPart();
        continue;
      }
      size_t take = data.size();
      if (!part_sizes_.empty() && part_ < part_sizes_.size()) {
        take = static_cast<size_t>(std::min<uint64_t>(take, part_sizes_[part_] - in_part_));
      }
      md5_->Update(data.substr(0, take));
      in_part_ += take;
      data.remove_prefix(take);
    }
  }

  std::string Etag() {
    if (part_sizes_.empty()) return HexEncode(md5_->Finish());
    while (part_ < part_sizes_.size()) FinishPart();
    return MultipartEtag(part_md5s_);
  }

 private:
  void FinishPart() {
    part_md5s_.push_back(HexEncode(md5_->Finish()));
    md5_ = NewMd5();
    in_part_ = 0;
    ++part_;
  }

  const std::vector<uint64_t>& part_sizes_;
  std::unique_ptr<Hasher> md5_ = NewMd5();
  std::vector<std::string> part_md5s_;
  size_t part_ = 0;
  uint64_t in_part_ = 0;
};

struct Body {
  std::string blob;  // "" for an inline body
  int64_t inline_id = 0;
  uint64_t size = 0;
  std::string etag;
  std::vector<uint64_t> part_sizes;  // a multipart object's, to check its ETag
  bool etag_checkable = true;
};

class Checker {
 public:
  Checker(const FsckOptions& options, Db& db, FsckReport& report)
      : options_(options), root_(options.data_dir), db_(db), report_(report) {}

  Status Run(bool has_body_column) {
    LB_RETURN_IF_ERROR(CheckDatabase());
    LB_RETURN_IF_ERROR(CheckObjects(has_body_column));
    LB_RETURN_IF_ERROR(CheckParts());
    if (has_body_column) LB_RETURN_IF_ERROR(CheckInlineBodies());
    CheckBlobFiles();
    CheckTempFiles();
    return Status::Ok();
  }

 private:
  Status CheckDatabase() {
    Stmt s = db_.Prepare("PRAGMA quick_check");
    std::string findings;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      std::string line = s.ColText(0);
      if (line == "ok") continue;
      if (!findings.empty()) findings += "; ";
      findings += line;
    }
    if (!findings.empty()) {
      Add(Problem("database", "meta.sqlite",
                  "SQLite's quick_check: " + findings + " (restore the last backup)"));
    }
    return Status::Ok();
  }

  // Objects, a page of rows per read transaction, so a long check never pins one snapshot
  // (and the server's WAL) for its whole run. A body found wrong is checked against the row as
  // it is now: an object overwritten or deleted meanwhile is not a problem.
  Status CheckObjects(bool has_body_column) {
    std::string bucket;
    std::string key;
    // Fixed text: Db caches statements by the SQL's address. A version-1 directory has no
    // inline bodies (no body column).
    const char* sql =
        has_body_column
            ? "SELECT bucket, key, blob, size, etag, parts_count, part_sizes, body FROM objects "
              "WHERE (bucket, key) > (?, ?) ORDER BY bucket, key LIMIT 1000"
            : "SELECT bucket, key, blob, size, etag, parts_count, part_sizes, NULL FROM objects "
              "WHERE (bucket, key) > (?, ?) ORDER BY bucket, key LIMIT 1000";
    while (true) {
      struct Row {
        std::string bucket, key;
        Body body;
      };
      std::vector<Row> page;
      LB_RETURN_IF_ERROR(db_.Exec("BEGIN"));
      {
        Stmt s = db_.Prepare(sql);
        s.Text(1, bucket).Blob(2, key);  // ("", ""): before every row
        while (true) {
          auto row = s.Step();
          if (!row) {
            (void)db_.Exec("ROLLBACK");
            return row.error();
          }
          if (!*row) break;
          Row r{s.ColText(0), s.ColText(1), {}};
          r.body.blob = s.ColText(2);
          r.body.size = static_cast<uint64_t>(s.ColInt(3));
          r.body.etag = s.ColText(4);
          ObjectInfo parts;
          DecodeParts(s.ColText(6), parts);
          r.body.part_sizes = std::move(parts.part_sizes);
          r.body.etag_checkable = s.ColInt(5) == 0 || !r.body.part_sizes.empty();
          r.body.inline_id = s.ColInt(7);
          page.push_back(std::move(r));
        }
      }
      (void)db_.Exec("COMMIT");
      if (page.empty()) return Status::Ok();
      for (const Row& r : page) {
        ++report_.objects;
        if (!r.body.blob.empty()) referenced_.insert(r.body.blob);
        if (r.body.blob.empty()) ++report_.inline_objects;
        std::string wrong = CheckBody(r.body);
        if (wrong.empty() || !StillObject(r.bucket, r.key, r.body)) continue;
        FsckProblem p =
            Problem(wrong,
                    r.body.blob.empty()
                        ? "meta.sqlite (inline body " + std::to_string(r.body.inline_id) + ")"
                        : BlobFile(r.body.blob),
                    Explain(wrong, r.body) + "; GET answers 500 until the object is written again");
        p.bucket = r.bucket;
        p.key = r.key;
        Add(std::move(p));
      }
      bucket = page.back().bucket;
      key = page.back().key;
    }
  }

  // "" when the body is right, else the kind of problem (and last_detail_ says more).
  std::string CheckBody(const Body& body) {
    if (body.blob.empty()) return CheckInline(body);
    std::string path = root_ + "/" + BlobFile(body.blob);
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      last_detail_ = errno == ENOENT ? "the file is gone"
                                     : std::string("cannot open: ") + std::strerror(errno);
      return "missing_body";
    }
    auto size = platform::FileSize(fd.get());
    if (!size || *size != body.size) {
      last_detail_ = "the file has " + (size ? std::to_string(*size) : std::string("?")) +
                     " bytes, the row says " + std::to_string(body.size);
      return "wrong_size";
    }
    if (!options_.verify_bodies || !body.etag_checkable) return "";
    EtagChecker etag(body.part_sizes);
    std::string buffer(kReadChunk, '\0');
    uint64_t offset = 0;
    while (offset < body.size) {
      ssize_t n = ::pread(fd.get(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        last_detail_ = n < 0 ? std::string("read error: ") + std::strerror(errno)
                             : std::string("the file ended early");
        return "corrupt_body";
      }
      etag.Update(std::string_view(buffer.data(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
    }
    report_.bytes_verified += body.size;
    std::string actual = etag.Etag();
    if (actual != body.etag) {
      last_detail_ = "its bytes hash to " + actual + ", the row's ETag is " + body.etag;
      return "corrupt_body";
    }
    return "";
  }

  std::string CheckInline(const Body& body) {
    Stmt s = db_.Prepare("SELECT data FROM bodies WHERE id = ?");
    s.Int(1, body.inline_id);
    auto row = s.Step();
    if (!row || !*row) {
      last_detail_ = "its row in the bodies table is gone";
      return "missing_body";
    }
    std::string data = s.ColText(0);
    if (data.size() != body.size) {
      last_detail_ = "the inline body has " + std::to_string(data.size()) +
                     " bytes, the row says " + std::to_string(body.size);
      return "wrong_size";
    }
    if (!options_.verify_bodies || !body.etag_checkable) return "";
    EtagChecker etag(body.part_sizes);
    etag.Update(data);
    report_.bytes_verified += data.size();
    std::string actual = etag.Etag();
    if (actual != body.etag) {
      last_detail_ = "its bytes hash to " + actual + ", the row's ETag is " + body.etag;
      return "corrupt_body";
    }
    return "";
  }

  std::string Explain(const std::string& kind, const Body& body) const {
    std::string what = body.blob.empty() ? "inline body" : "body file";
    if (kind == "missing_body") return "the " + what + " is missing (" + last_detail_ + ")";
    if (kind == "wrong_size") return "the " + what + " has the wrong size (" + last_detail_ + ")";
    return "the " + what + "'s bytes changed (" + last_detail_ + ")";
  }

  bool StillObject(const std::string& bucket, const std::string& key, const Body& body) {
    Stmt s = db_.Prepare("SELECT blob, size, etag FROM objects WHERE bucket = ? AND key = ?");
    s.Text(1, bucket).Blob(2, key);
    auto row = s.Step();
    if (!row || !*row) return false;
    return s.ColText(0) == body.blob && static_cast<uint64_t>(s.ColInt(1)) == body.size &&
           s.ColText(2) == body.etag;
  }

  Status CheckParts() {
    struct PartRow {
      std::string upload_id;
      int number;
      bool has_upload;
      Body body;
    };
    std::vector<PartRow> rows;
    LB_RETURN_IF_ERROR(db_.Exec("BEGIN"));
    Status status;
    {
      Stmt u = db_.Prepare("SELECT count(*) FROM uploads");
      auto row = u.Step();
      if (row && *row) report_.uploads = static_cast<uint64_t>(u.ColInt(0));
      Stmt s = db_.Prepare(
          "SELECT p.upload_id, p.number, p.blob, p.size, p.etag, u.upload_id IS NOT NULL "
          "FROM parts p LEFT JOIN uploads u ON u.upload_id = p.upload_id");
      while (true) {
        auto next = s.Step();
        if (!next) {
          status = next.error();
          break;
        }
        if (!*next) break;
        PartRow r{s.ColText(0), static_cast<int>(s.ColInt(1)), s.ColInt(5) != 0, {}};
        r.body.blob = s.ColText(2);
        r.body.size = static_cast<uint64_t>(s.ColInt(3));
        r.body.etag = s.ColText(4);
        rows.push_back(std::move(r));
      }
    }
    (void)db_.Exec("COMMIT");
    LB_RETURN_IF_ERROR(status);
    for (const PartRow& r : rows) {
      ++report_.parts;
      referenced_.insert(r.body.blob);
      FsckProblem p = Problem("", BlobFile(r.body.blob), "");
      p.upload_id = r.upload_id;
      p.part_number = r.number;
      if (!r.has_upload) {
        p.kind = "orphan_part";
        p.detail = "part " + std::to_string(r.number) + " belongs to no multipart upload";
        if (options_.repair) {
          Stmt del = db_.Prepare(
              "DELETE FROM parts WHERE upload_id = ? AND number = ? AND NOT EXISTS "
              "(SELECT 1 FROM uploads WHERE upload_id = ?)");
          del.Text(1, r.upload_id).Int(2, r.number).Text(3, r.upload_id);
          if (del.Run().ok() && del.Changes() == 1) {
            p.repaired = true;
            referenced_.erase(r.body.blob);  // its file is an orphan now (removed below)
          }
        }
        Add(std::move(p));
        continue;
      }
      std::string wrong = CheckBody(r.body);
      if (wrong.empty() || !StillPart(r.upload_id, r.number, r.body.blob)) continue;
      p.kind = wrong;
      p.detail =
          Explain(wrong, r.body) + "; completing the upload fails until the part is sent again";
      Add(std::move(p));
    }
    return Status::Ok();
  }

  bool StillPart(const std::string& upload_id, int number, const std::string& blob) {
    Stmt s = db_.Prepare("SELECT blob FROM parts WHERE upload_id = ? AND number = ?");
    s.Text(1, upload_id).Int(2, number);
    auto row = s.Step();
    return row && *row && s.ColText(0) == blob;
  }

  // An inline body's row is written and deleted in the transaction of its object's row, so an
  // unreferenced one is never in flight: it can go whatever the server does.
  Status CheckInlineBodies() {
    Stmt s = db_.Prepare(
        "SELECT id, length(data) FROM bodies WHERE id NOT IN "
        "(SELECT body FROM objects WHERE body IS NOT NULL)");
    std::vector<std::pair<int64_t, int64_t>> orphans;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      orphans.emplace_back(s.ColInt(0), s.ColInt(1));
    }
    for (auto [id, bytes] : orphans) {
      FsckProblem p =
          Problem("orphan_inline_body", "meta.sqlite (inline body " + std::to_string(id) + ")",
                  std::to_string(bytes) + " bytes no object refers to");
      if (options_.repair) {
        Stmt del = db_.Prepare(
            "DELETE FROM bodies WHERE id = ? AND id NOT IN "
            "(SELECT body FROM objects WHERE body IS NOT NULL)");
        del.Int(1, id);
        p.repaired = del.Run().ok() && del.Changes() == 1;
      }
      Add(std::move(p));
    }
    return Status::Ok();
  }

  bool Referenced(const std::string& id) {
    for (const char* sql : {"SELECT 1 FROM objects WHERE blob = ? LIMIT 1",
                            "SELECT 1 FROM parts WHERE blob = ? LIMIT 1"}) {
      Stmt s = db_.Prepare(sql);
      s.Text(1, id);
      auto row = s.Step();
      if (!row || *row) return true;  // an error: assume it is referenced
    }
    return false;
  }

  bool InFlight(const FileState& state) {
    if (!report_.server_running || state.age_seconds >= options_.in_flight_grace_seconds) {
      return false;
    }
    ++report_.in_flight_files;
    return true;
  }

  void CheckBlobFiles() {
    auto level1 = platform::ListDir(root_ + "/blobs");
    if (!level1) return;
    for (const std::string& a : *level1) {
      auto level2 = platform::ListDir(root_ + "/blobs/" + a);
      if (!level2) continue;
      for (const std::string& b : *level2) {
        std::string dir = "blobs/" + a + "/" + b;
        auto files = platform::ListDir(root_ + "/" + dir);
        if (!files) continue;
        for (const std::string& name : *files) {
          std::string file = dir + "/" + name;
          if (!IsBlobId(name) || name.compare(0, 2, a) != 0 || name.compare(2, 2, b) != 0) {
            Add(Problem("unexpected_file", file, "not a blob this store wrote (left alone)"));
            continue;
          }
          ++report_.blob_files;
          if (referenced_.count(name) != 0) continue;
          FileState state = StatFile(root_ + "/" + file);
          if (!state.exists || InFlight(state) || Referenced(name)) continue;
          FsckProblem p =
              Problem("orphan_blob", file, std::to_string(state.size) + " bytes no row refers to");
          // Checked once more just before: a row committed since the scan keeps its file.
          if (options_.repair && !Referenced(name)) {
            p.repaired = ::unlink((root_ + "/" + file).c_str()) == 0;
          }
          Add(std::move(p));
        }
      }
    }
  }

  void CheckTempFiles() {
    auto names = platform::ListDir(root_ + "/tmp");
    if (!names) return;
    for (const std::string& name : *names) {
      std::string file = "tmp/" + name;
      FileState state = StatFile(root_ + "/" + file);
      if (!state.exists) continue;
      ++report_.temp_files;
      if (InFlight(state)) continue;
      FsckProblem p =
          Problem("stale_temp_file", file,
                  std::to_string(state.size) + " bytes of an upload that never finished (" +
                      std::to_string(state.age_seconds / 60) + " min old)");
      if (options_.repair) p.repaired = ::unlink((root_ + "/" + file).c_str()) == 0;
      Add(std::move(p));
    }
  }

  static FsckProblem Problem(std::string kind, std::string file, std::string detail) {
    FsckProblem p;
    p.kind = std::move(kind);
    p.file = std::move(file);
    p.detail = std::move(detail);
    return p;
  }

  void Add(FsckProblem p) { report_.problems.push_back(std::move(p)); }

  const FsckOptions& options_;
  const std::string root_;
  Db& db_;
  FsckReport& report_;
  std::unordered_set<std::string> referenced_;
  std::string last_detail_;
};

}  // namespace

Result<FsckReport> Fsck(const FsckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  FsckReport report;
  report.data_dir = options.data_dir;
  report.bodies_verified = options.verify_bodies;
  const std::string db_path = options.data_dir + "/meta.sqlite";
  struct stat st {};
  if (::stat(db_path.c_str(), &st) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 options.data_dir + " is not a logbucket data directory (no meta.sqlite)");
  }
  // Without a server, hold its LOCK for the run: a server started meanwhile would change what
  // fsck judges (and repairs) as leftovers.
  ScopedFd lock(::open((options.data_dir + "/LOCK").c_str(), O_RDWR | O_CLOEXEC));
  report.server_running = lock.valid() && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0;
  auto db = Db::Open(db_path);
  if (!db) return db.error();
  {
    Stmt s = (*db)->Prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'");
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) {
      return Error(ErrorCode::kInvalidArgument,
                   options.data_dir + " is not a logbucket data directory (no meta table)");
    }
  }
  {
    Stmt s = (*db)->Prepare("SELECT value FROM meta WHERE name = 'schema_version'");
    auto row = s.Step();
    if (!row) return row.error();
    report.schema_version = *row ? static_cast<int>(ParseDecimal(s.ColText(0)).value_or(0)) : 0;
  }
  if (report.schema_version > kSchemaVersion) {
    return Error(ErrorCode::kInvalidArgument,
                 options.data_dir + " was written by a newer logbucket (metadata schema " +
                     std::to_string(report.schema_version) + "; this binary knows up to " +
                     std::to_string(kSchemaVersion) + "): check it with that version");
  }
  bool has_body_column = false;
  {
    Stmt s = (*db)->Prepare("SELECT 1 FROM pragma_table_info('objects') WHERE name = 'body'");
    auto row = s.Step();
    if (!row) return row.error();
    has_body_column = *row;
  }
  Checker checker(options, **db, report);
  LB_RETURN_IF_ERROR(checker.Run(has_body_column));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace logbucket::store
