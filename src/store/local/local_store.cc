#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/encoding.h"
#include "common/guard.h"
#include "common/log.h"
#include "platform/file_util.h"
#include "store/local/local_store.h"

namespace logbucket::store {
namespace {

using platform::ScopedFd;

constexpr int kSchemaVersion = 4;
constexpr size_t kMaxGroupCommit = 256;
constexpr int kReadConnections = 8;

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
  access_key TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, secret TEXT NOT NULL,
  admin INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS buckets(
  name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, owner TEXT NOT NULL, region TEXT NOT NULL,
  policy TEXT, lifecycle TEXT, acl TEXT, cors TEXT, ownership TEXT, public_access_block TEXT);
CREATE TABLE IF NOT EXISTS objects(
  bucket TEXT NOT NULL, key BLOB NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, headers BLOB NOT NULL,
  checksum_algorithm INTEGER NOT NULL, checksum TEXT NOT NULL, checksum_type TEXT NOT NULL,
  parts_count INTEGER NOT NULL, owner TEXT NOT NULL, part_sizes TEXT NOT NULL, body INTEGER,
  PRIMARY KEY(bucket, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_by_age ON objects(bucket, last_modified_ms);
CREATE TABLE IF NOT EXISTS uploads(
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL,
  initiated_ms INTEGER NOT NULL, headers BLOB NOT NULL, checksum_algorithm INTEGER NOT NULL,
  checksum_type TEXT NOT NULL, owner TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads(bucket, key, upload_id);
CREATE TABLE IF NOT EXISTS parts(
  upload_id TEXT NOT NULL, number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
  etag TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, checksum TEXT NOT NULL,
  PRIMARY KEY(upload_id, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bodies(id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL);
)sql";

Status SqlError(sqlite3* db, std::string_view what) {
  // A full disk is one status whichever layer finds it (platform::PosixError maps ENOSPC too).
  bool full = sqlite3_errcode(db) == SQLITE_FULL || sqlite3_system_errno(db) == ENOSPC ||
              sqlite3_system_errno(db) == EDQUOT;
  return Error(full ? ErrorCode::kStorageFull : ErrorCode::kInternalError,
               "sqlite " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// The free-space floor and the reserve file (docs/formats/data-dir.md, "A full disk"). Uploads
// are refused below the floor, so the store's own writes never fill the disk; when something
// else does, the reserve is given up so that deletes can still commit.
class DiskGuard {
 public:
  void Init(const std::string& root, uint64_t min_free, uint64_t reserve_bytes) {
    root_ = root;
    reserve_path_ = root + "/reserve";
    min_free_ = min_free;
    reserve_bytes_ = reserve_bytes;
    struct stat st {};
    reserve_present_ = reserve_bytes_ > 0 && ::stat(reserve_path_.c_str(), &st) == 0 &&
                       static_cast<uint64_t>(st.st_size) >= reserve_bytes_;
    if (auto free = FreeBytes()) RestoreReserve(*free);
  }

  std::optional<uint64_t> FreeBytes() const {
    struct statvfs st {};
    if (::statvfs(root_.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

  Status Check(uint64_t incoming) {
    if (min_free_ == 0) return Status::Ok();
    auto free = FreeBytes();
    if (!free) return Status::Ok();  // cannot tell: the write itself will find out
    if (*free >= min_free_ && *free - min_free_ >= incoming) {
      RestoreReserve(*free);
      return Status::Ok();
    }
    int64_t now = MonotonicMs();
    int64_t last = last_log_ms_.load(std::memory_order_relaxed);
    if (now - last >= 10000 && last_log_ms_.compare_exchange_strong(last, now)) {
      Log().warn(
          "disk full: refusing uploads, {} MiB free on the data directory's file system, "
          "{} MiB asked for, below s3.min_free_bytes ({} MiB); delete objects or add space",
          *free >> 20, incoming >> 20, min_free_ >> 20);
    }
    return Error(ErrorCode::kStorageFull);
  }

  // Gives the reserve back to the file system; true when there was one to give.
  bool ReleaseReserve() {
    std::lock_guard lock(mu_);
    if (!reserve_present_) return false;
    ::unlink(reserve_path_.c_str());
    reserve_present_ = false;
    Log().error(
        "disk full: a commit could not write; released the {} MiB reserve so that deletes and "
        "expiry can free space (it is taken again once {} MiB are free)",
        reserve_bytes_ >> 20, (min_free_ + reserve_bytes_) >> 20);
    return true;
  }

 private:
  // Takes the reserve again once there is room for it above the floor.
  void RestoreReserve(uint64_t free) {
    if (reserve_bytes_ == 0 || free < min_free_ + reserve_bytes_) return;
    std::lock_guard lock(mu_);
    if (reserve_present_) return;
    std::string temp = reserve_path_ + ".tmp";
    ScopedFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return;
    if (::posix_fallocate(fd.get(), 0, static_cast<off_t>(reserve_bytes_)) != 0 ||
        ::fsync(fd.get()) != 0 || ::rename(temp.c_str(), reserve_path_.c_str()) != 0) {
      ::unlink(temp.c_str());
      return;
    }
    reserve_present_ = true;
  }

  std::string root_;
  std::string reserve_path_;
  uint64_t min_free_ = 0;
  uint64_t reserve_bytes_ = 0;
  std::mutex mu_;
  bool reserve_present_ = false;
  std::atomic<int64_t> last_log_ms_{-1000000};
};

// A prepared statement, reset on destruction so its connection can reuse it.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Stmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Blob(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_zeroblob(stmt_, i, 0);
    else
      sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW → true, SQLITE_DONE → false, errors → Status.
  Result<bool> Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlError(db_, "step");
  }
  Status Run() {
    auto r = Step();
    return r ? Status::Ok() : r.error();
  }
  std::string ColText(int i) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
    int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
  }
  int64_t ColInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3_stmt* raw() { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// One SQLite connection with a cache of prepared statements.
class Db {
 public:
  ~Db() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close(db_);
  }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  static Result<std::unique_ptr<Db>> Open(const std::string& path) {
    auto db = std::unique_ptr<Db>(new Db());
    int rc =
        sqlite3_open_v2(path.c_str(), &db->db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return SqlError(db->db_, "open " + path);
    sqlite3_busy_timeout(db->db_, 10000);
    LB_RETURN_IF_ERROR(
        db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                 "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16000;"));
    return db;
  }
  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      sqlite3_free(err);
      return SqlError(db_, "exec");
    }
    return Status::Ok();
  }
  sqlite3* raw() const { return db_; }
  Stmt Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
          SQLITE_OK) {
        Log().critical("sqlite prepare failed: {}: {}", sqlite3_errmsg(db_), sql);
        std::abort();  // a programming error: our SQL is fixed text
      }
      it = cache_.emplace(sql, stmt).first;
    }
    return Stmt(db_, it->second);
  }

 private:
  Db() = default;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

std::string EncodeHeaders(const Headers& headers) {
  std::string out;
  for (const Header& h : headers) {
    out += h.name;
    out.push_back('\0');
    out += h.value;
    out.push_back('\0');
  }
  return out;
}

Headers DecodeHeaders(std::string_view data) {
  Headers out;
  while (!data.empty()) {
    size_t a = data.find('\0');
    if (a == std::string_view::npos) break;
    size_t b = data.find('\0', a + 1);
    if (b == std::string_view::npos) break;
    out.push_back({std::string(data.substr(0, a)), std::string(data.substr(a + 1, b - a - 1))});
    data.remove_prefix(b + 1);
  }
  return out;
}

// The smallest string greater than every string that starts with `prefix` ("" = none).
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return {};
}

constexpr const char* kObjectColumns =
    "key, blob, size, etag, last_modified_ms, headers, checksum_algorithm, checksum, "
    "checksum_type, parts_count, owner, part_sizes, body";

// Where an object's bytes are: a blob file (blobs/ab/cd/<blob>), or, for small objects, a row of
// the bodies table (inline_id > 0), written in the same transaction as the object row.
struct BodyRef {
  std::string blob;
  int64_t inline_id = 0;
  bool is_inline() const { return inline_id > 0; }
};

// Part sizes as decimal numbers separated by ',' ("" for single-part objects).
// A multipart object's parts: "size[:checksum]" each, comma-separated (base64 has neither ','
// nor ':'; rows written before part checksums were kept hold sizes only).
std::string EncodeParts(const std::vector<uint64_t>& sizes, const std::vector<std::string>& sums) {
  std::string out;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(sizes[i]);
    if (i < sums.size() && !sums[i].empty()) {
      out.push_back(':');
      out += sums[i];
    }
  }
  return out;
}

void DecodeParts(std::string_view text, ObjectInfo& info) {
  if (text.empty()) return;
  bool any_checksum = false;
  for (std::string_view part : Split(text, ',')) {
    size_t colon = part.find(':');
    info.part_sizes.push_back(
        static_cast<uint64_t>(ParseDecimal(part.substr(0, colon)).value_or(0)));
    std::string sum =
        colon == std::string_view::npos ? std::string() : std::string(part.substr(colon + 1));
    any_checksum = any_checksum || !sum.empty();
    info.part_checksums.push_back(std::move(sum));
  }
  if (!any_checksum) info.part_checksums.clear();
}

ObjectInfo ReadObjectRow(const Stmt& s, const std::string& bucket, BodyRef* body) {
  ObjectInfo info;
  info.bucket = bucket;
  info.key = s.ColText(0);
  if (body != nullptr) {
    body->blob = s.ColText(1);
    body->inline_id = s.ColInt(12);
  }
  info.size = static_cast<uint64_t>(s.ColInt(2));
  info.etag = s.ColText(3);
  info.last_modified_ms = s.ColInt(4);
  info.headers = DecodeHeaders(s.ColText(5));
  info.checksum.algorithm = static_cast<ChecksumAlgorithm>(s.ColInt(6));
  info.checksum.value = s.ColText(7);
  info.checksum.type = s.ColText(8);
  info.parts_count = static_cast<int>(s.ColInt(9));
  info.owner = s.ColText(10);
  DecodeParts(s.ColText(11), info);
  return info;
}

// A body being received. Up to `inline_limit` bytes it stays in memory, so a small PutObject
// costs no file at all (its bytes go into the metadata transaction); past that it spills into
// tmp/<id> and continues there.
class LocalBlobWriter final : public BlobWriter {
 public:
  LocalBlobWriter(platform::FileSystem& fs, std::string id, std::string temp_path,
                  size_t inline_limit)
      : fs_(fs),
        id_(std::move(id)),
        temp_path_(std::move(temp_path)),
        inline_limit_(inline_limit) {}
  ~LocalBlobWriter() override {
    file_.reset();
    if (spilled_ && !committed_) (void)fs_.Remove(temp_path_);
  }
  Status Append(std::string_view data) override {
    if (!spilled_ && memory_.size() + data.size() <= inline_limit_) {
      memory_.append(data);
    } else {
      LB_RETURN_IF_ERROR(Spill());
      LB_RETURN_IF_ERROR(file_->Append(data));
    }
    size_ += data.size();
    return Status::Ok();
  }
  // Appends another file's bytes (multipart completion), copy_file_range where it can.
  Status AppendFrom(int in_fd, uint64_t in_offset, uint64_t length) {
    LB_RETURN_IF_ERROR(Spill());
    LB_RETURN_IF_ERROR(file_->AppendFrom(in_fd, in_offset, length));
    size_ += length;
    return Status::Ok();
  }
  uint64_t size() const override { return size_; }

  // Moves what is buffered into tmp/<id>; from then on every byte goes to the file.
  Status Spill() {
    if (spilled_) return Status::Ok();
    auto file = fs_.NewWritableFile(temp_path_, 0640);
    if (!file) return file.error();
    file_ = std::move(*file);
    spilled_ = true;
    if (!memory_.empty()) LB_RETURN_IF_ERROR(file_->Append(memory_));
    std::string().swap(memory_);
    return Status::Ok();
  }
  Status Sync() {
    LB_RETURN_IF_ERROR(Spill());
    LB_RETURN_IF_ERROR(file_->Sync());
    file_.reset();
    return Status::Ok();
  }
  bool in_memory() const { return !spilled_; }
  const std::string& memory() const { return memory_; }
  const std::string& id() const { return id_; }
  const std::string& temp_path() const { return temp_path_; }
  void MarkCommitted() { committed_ = true; }

 private:
  platform::FileSystem& fs_;
  std::string id_;
  std::string temp_path_;
  size_t inline_limit_;
  std::string memory_;
  bool spilled_ = false;
  std::unique_ptr<platform::WritableFile> file_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

// Open descriptors of recently read blobs, so a hot GET costs no open()/close(). Blobs are
// immutable and their ids never reused, so a cached descriptor always has the right bytes; the
// committer drops a blob's entry when it unlinks the file, so no space stays pinned (a reader
// still holding it keeps the old bytes alive, as an open file always does).
class OpenBlobCache {
 public:
  static constexpr size_t kMaxOpen = 512;

  std::shared_ptr<const ScopedFd> Find(const std::string& id) {
    std::shared_lock lock(mu_);
    auto it = fds_.find(id);
    return it == fds_.end() ? nullptr : it->second;
  }
  // Inserts unless `still_current` says a write happened since the blob id was looked up (the
  // committer bumps that generation before it erases and unlinks, so checking under our lock
  // means a late reader can never re-insert a descriptor of an unlinked blob).
  template <typename StillCurrent>
  void InsertIf(const std::string& id, std::shared_ptr<const ScopedFd> fd,
                StillCurrent&& still_current) {
    std::unique_lock lock(mu_);
    if (!still_current()) return;
    if (fds_.size() >= kMaxOpen) fds_.clear();  // crude bound; reopening is cheap
    fds_.emplace(id, std::move(fd));
  }
  void Erase(const std::string& id) {
    std::unique_lock lock(mu_);
    fds_.erase(id);
  }

 private:
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const ScopedFd>> fds_;
};

// What a committed write changes outside SQLite: blobs no row references any more, and cached
// rows that are now stale. Applied only after COMMIT (invalidating earlier would let a reader
// re-cache the old row between the invalidation and the commit).
struct Effects {
  std::vector<std::string> unlink;
  std::vector<std::pair<std::string, std::string>> objects;  // (bucket, key)
  std::vector<std::string> buckets;
};

// Read-through cache of bucket and object rows, so the GET path costs no SQLite read
// transaction (and no file lock) when warm. Only the serving process writes buckets and
// objects (the data dir is locked; admin commands touch only users), so every change passes
// through Invalidate. A reader records the generation before reading SQLite and inserts only if
// no invalidation happened meanwhile, so it can never re-insert a row older than a write.
class MetadataCache {
 public:
  struct CachedObject {
    ObjectInfo info;
    BodyRef body;
    std::shared_ptr<const std::string> data;  // an inline body's bytes, when cached
  };
  static constexpr size_t kMaxEntries = 200000;
  // Inline bodies kept beside their rows; past this, rows are cached without their bytes.
  static constexpr size_t kMaxDataBytes = 64 << 20;

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  std::optional<CachedObject> FindObject(const std::string& bucket, const std::string& key) {
    std::shared_lock lock(mu_);
    auto it = objects_.find(Key(bucket, key));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  void InsertObject(uint64_t seen_generation, CachedObject object) {
    std::unique_lock lock(mu_);
    if (generation_.load() != seen_generation) return;
    if (objects_.size() >= kMaxEntries) {  // crude bound; rows are cheap to reload
      objects_.clear();
      data_bytes_ = 0;
    }
    CachedObject& slot = objects_[Key(object.info.bucket, object.info.key)];
    if (slot.data) data_bytes_ -= slot.data->size();
    if (object.data && data_bytes_ + object.data->size() > kMaxDataBytes) object.data = nullptr;
    if (object.data) data_bytes_ += object.data->size();
    slot = std::move(object);
  }
  std::optional<Bucket> FindBucket(const std::string& name) {
    std::shared_lock lock(mu_);
    auto it = buckets_.find(name);
    if (it == buckets_.end()) return std::nullopt;
    return it->second;
  }
  void InsertBucket(uint64_t seen_generation, Bucket bucket) {
    std::unique_lock lock(mu_);
    if (generation_.load() != seen_generation) return;
    buckets_[bucket.name] = std::move(bucket);
  }
  void Invalidate(const Effects& effects) {
    if (effects.objects.empty() && effects.buckets.empty()) return;
    std::unique_lock lock(mu_);
    for (const auto& [bucket, key] : effects.objects) {
      auto it = objects_.find(Key(bucket, key));
      if (it == objects_.end()) continue;
      if (it->second.data) data_bytes_ -= it->second.data->size();
      objects_.erase(it);
    }
    for (const std::string& b : effects.buckets) buckets_.erase(b);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  void InvalidateObject(const std::string& bucket, const std::string& key) {
    Effects e;
    e.objects.emplace_back(bucket, key);
    Invalidate(e);
  }

 private:
  static std::string Key(const std::string& bucket, const std::string& key) {
    std::string k;
    k.reserve(bucket.size() + key.size() + 1);
    k.append(bucket).push_back('\0');
    k.append(key);
    return k;
  }
  std::shared_mutex mu_;
  std::atomic<uint64_t> generation_{0};
  std::unordered_map<std::string, CachedObject> objects_;
  size_t data_bytes_ = 0;  // sum of the cached inline bodies
  std::unordered_map<std::string, Bucket> buckets_;
};

// A write applied inside the group-commit transaction.
struct WriteOp {
  std::function<Status(Db&, Effects&)> apply;
  std::vector<std::string> dirs_to_sync;
  std::promise<Status> done;
  bool answered = false;  // committer thread only

  void Answer(Status status) {
    if (answered) return;
    answered = true;
    done.set_value(std::move(status));
  }
};

}  // namespace

struct LocalStore::Impl {
  LocalStoreOptions options;
  std::string root;
  ScopedFd lock_fd;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<Db>> pool;

  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::deque<std::unique_ptr<WriteOp>> queue;
  bool stopping = false;
  std::thread committer;
  std::unique_ptr<Db> writer;

  std::mutex dirs_mu;
  std::unordered_set<std::string> known_dirs;

  MetadataCache cache;
  OpenBlobCache open_blobs;
  DiskGuard disk;
  platform::FileSystem* fs = &platform::FileSystem::Posix();  // blobs/ and tmp/ (options.fs)

  // Users change from other processes (`logbucket user …`). Every change increments a 64-bit
  // counter stored in users.version, in place and under flock; each process maps that file
  // shared, so a lookup checks the cache against the counter with one memory load (no syscall)
  // and a rotated or removed key fails on the very next request.
  std::shared_mutex users_mu;
  std::unordered_map<std::string, User> users_by_key;
  using UsersStamp = uint64_t;
  UsersStamp users_stamp = ~0ULL;  // counter value users_by_key was filled under
  uint64_t users_generation = 0;   // bumped whenever the cache is dropped
  ScopedFd users_marker_fd;
  const uint64_t* users_counter = nullptr;  // mmap of users.version (shared)

  std::string UsersMarker() const { return root + "/users.version"; }

  Status OpenUsersMarker() {
    users_marker_fd = ScopedFd(::open(UsersMarker().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!users_marker_fd.valid()) return platform::PosixError("open", UsersMarker(), errno);
    struct stat st {};
    if (::fstat(users_marker_fd.get(), &st) != 0) {
      return platform::PosixError("fstat", UsersMarker(), errno);
    }
    if (st.st_size < static_cast<off_t>(sizeof(uint64_t)) &&
        ::ftruncate(users_marker_fd.get(), sizeof(uint64_t)) != 0) {
      return platform::PosixError("ftruncate", UsersMarker(), errno);
    }
    void* map = ::mmap(nullptr, sizeof(uint64_t), PROT_READ, MAP_SHARED, users_marker_fd.get(), 0);
    if (map == MAP_FAILED) return platform::PosixError("mmap", UsersMarker(), errno);
    users_counter = static_cast<const uint64_t*>(map);
    return Status::Ok();
  }

  void MarkUsersChanged() {
    int fd = users_marker_fd.get();
    ::flock(fd, LOCK_EX);  // two admin commands at once must not lose an increment
    uint64_t value = __atomic_load_n(users_counter, __ATOMIC_ACQUIRE) + 1;
    if (::pwrite(fd, &value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
      Log().error("cannot update {}: {}", UsersMarker(), std::strerror(errno));
    }
    ::flock(fd, LOCK_UN);
  }

  std::optional<UsersStamp> ReadUsersStamp() const {
    return __atomic_load_n(users_counter, __ATOMIC_ACQUIRE);
  }

  std::string TempPath(const std::string& id) const { return root + "/tmp/" + id; }
  std::string BlobDir(const std::string& id) const {
    return root + "/blobs/" + id.substr(0, 2) + "/" + id.substr(2, 2);
  }
  std::string BlobPath(const std::string& id) const { return BlobDir(id) + "/" + id; }

  // Borrow a read connection for the duration of fn.
  template <typename Fn>
  auto WithReader(Fn&& fn) -> decltype(fn(std::declval<Db&>())) {
    std::unique_ptr<Db> db;
    {
      std::lock_guard lock(pool_mu);
      if (!pool.empty()) {
        db = std::move(pool.back());
        pool.pop_back();
      }
    }
    if (!db) {
      auto opened = Db::Open(root + "/meta.sqlite");
      if (!opened) return opened.error();
      db = std::move(*opened);
    }
    auto result = fn(*db);
    std::lock_guard lock(pool_mu);
    if (pool.size() < kReadConnections) pool.push_back(std::move(db));
    return result;
  }

  // WithReader inside one read transaction: one snapshot (and one WAL read lock, taken with
  // fcntl) for all the statements fn runs, instead of one per statement. A listing that seeks
  // past 20,000 common prefixes runs 20,000 statements.
  template <typename Fn>
  auto WithReadTransaction(Fn&& fn) -> decltype(fn(std::declval<Db&>())) {
    return WithReader([&](Db& db) -> decltype(fn(std::declval<Db&>())) {
      LB_RETURN_IF_ERROR(db.Exec("BEGIN"));
      auto result = fn(db);
      (void)db.Exec(result ? "COMMIT" : "ROLLBACK");
      return result;
    });
  }

  Status RunWrite(std::function<Status(Db&, Effects&)> apply, std::vector<std::string> dirs = {}) {
    auto op = std::make_unique<WriteOp>();
    op->apply = std::move(apply);
    op->dirs_to_sync = std::move(dirs);
    std::future<Status> done = op->done.get_future();
    {
      std::lock_guard lock(queue_mu);
      if (stopping) return Error(ErrorCode::kServiceUnavailable, "store is shutting down");
      queue.push_back(std::move(op));
    }
    // notify_all, not notify_one: glibc 2.36 (Debian 12) can lose a pthread_cond_signal
    // wake-up (sourceware bug 25847); seen here as 64 writers stalled with a sleeping committer.
    queue_cv.notify_all();
    return done.get();
  }

  void CommitLoop() {
    while (true) {
      std::vector<std::unique_ptr<WriteOp>> batch;
      {
        std::unique_lock lock(queue_mu);
        // Bounded wait as a second line of defence against a lost wake-up: at worst a write
        // waits a second, it never stalls for good.
        while (!queue_cv.wait_for(lock, std::chrono::seconds(1),
                                  [this] { return stopping || !queue.empty(); })) {
        }
        if (queue.empty() && stopping) return;
        while (!queue.empty() && batch.size() < kMaxGroupCommit) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      try {
        CommitBatch(batch);
      } catch (...) {
        // Whatever threw (an allocation, an operation's code), the writers waiting on this batch
        // get an error instead of waiting for ever, and the thread goes on with the next batch.
        ReportEscapedException(ThreadEntry::kCommitter, "a commit", std::current_exception());
        if (writer->InTransaction()) (void)writer->Exec("ROLLBACK");
        for (auto& op : batch) {
          op->Answer(Error(ErrorCode::kInternalError, "the commit failed unexpectedly"));
        }
      }
    }
  }

  void CommitBatch(std::vector<std::unique_ptr<WriteOp>>& batch) {
    // 1. Make the renames into blobs/ durable before any row points at them.
    std::set<std::string> dirs;
    for (auto& op : batch) dirs.insert(op->dirs_to_sync.begin(), op->dirs_to_sync.end());
    Status dir_status;
    for (const std::string& d : dirs) {
      Status s = fs->SyncDir(d);
      if (!s.ok()) dir_status = s;
    }
    if (!dir_status.ok()) {
      for (auto& op : batch) op->Answer(dir_status);
      return;
    }
    // 2. One transaction; each op in its own savepoint so one failure does not sink the rest.
    // A transaction that finds the disk full gives up the reserve file and runs once more: a
    // delete or an expiry must be able to commit on a full disk, since it is what frees space.
    std::vector<Status> results(batch.size());
    std::vector<Effects> effects(batch.size());
    for (int attempt = 0;; ++attempt) {
      auto may_retry = [&](const Status& s) {
        return attempt == 0 && s.code() == ErrorCode::kStorageFull && disk.ReleaseReserve();
      };
      Status begin = writer->Exec("BEGIN IMMEDIATE");
      if (!begin.ok()) {
        if (may_retry(begin)) continue;
        for (auto& op : batch) op->Answer(begin);
        return;
      }
      bool full = false;
      for (size_t i = 0; i < batch.size(); ++i) {
        (void)writer->Exec("SAVEPOINT op");
        effects[i] = Effects();
        results[i] = batch[i]->apply(*writer, effects[i]);
        if (!results[i].ok()) {
          full = full || results[i].code() == ErrorCode::kStorageFull;
          (void)writer->Exec("ROLLBACK TO op");
          effects[i] = Effects();
        }
        (void)writer->Exec("RELEASE op");
      }
      if (full && attempt == 0 && disk.ReleaseReserve()) {
        (void)writer->Exec("ROLLBACK");
        continue;
      }
      Status commit = writer->Exec("COMMIT");
      if (!commit.ok()) {
        (void)writer->Exec("ROLLBACK");
        if (may_retry(commit)) continue;
        for (auto& op : batch) op->Answer(commit);
        return;
      }
      break;
    }
    // 3. Stale cache entries, then blobs that no row references any more.
    for (size_t i = 0; i < batch.size(); ++i) {
      cache.Invalidate(effects[i]);
      for (const std::string& id : effects[i].unlink) {
        if (id.empty()) continue;  // an inline body: its row went with the transaction
        open_blobs.Erase(id);
        (void)fs->Remove(BlobPath(id));
      }
      batch[i]->Answer(results[i]);
    }
  }

  // Creates blobs/ab/cd for id if needed; returns directories to fsync (the new entry's dir
  // and, when created, its parents).
  Result<std::vector<std::string>> PrepareBlobDir(const std::string& id) {
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
  Result<std::vector<std::string>> Seal(LocalBlobWriter& blob) {
    LB_RETURN_IF_ERROR(blob.Sync());
    auto dirs = PrepareBlobDir(blob.id());
    if (!dirs) return dirs.error();
    LB_RETURN_IF_ERROR(fs->Rename(blob.temp_path(), BlobPath(blob.id())));
    blob.MarkCommitted();
    return dirs;
  }

  // A writer that keeps up to inline_limit bytes in memory (0: a file from the start).
  Result<std::unique_ptr<LocalBlobWriter>> NewLocalBlob(size_t inline_limit) {
    std::string id = HexEncode(RandomBytes(16));
    auto writer = std::make_unique<LocalBlobWriter>(*fs, id, TempPath(id), inline_limit);
    if (inline_limit == 0) LB_RETURN_IF_ERROR(writer->Spill());
    return writer;
  }

  Result<ObjectInfo> LookupObject(const std::string& bucket, const std::string& key, BodyRef& body,
                                  std::shared_ptr<const std::string>* data = nullptr) {
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

  // The bytes of inline body `id`; NoSuchKey when an overwrite or delete removed it since the
  // row was read (the caller looks the object up again).
  Result<std::shared_ptr<const std::string>> ReadInlineBody(int64_t id) {
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
  static Status DropBody(Db& db, const BodyRef& body, Effects& effects) {
    if (!body.blob.empty()) effects.unlink.push_back(body.blob);
    if (!body.is_inline()) return Status::Ok();
    Stmt del = db.Prepare("DELETE FROM bodies WHERE id = ?");
    del.Int(1, body.inline_id);
    return del.Run();
  }

  // Inside a transaction: the current body of bucket/key, if the object exists.
  static Result<std::optional<BodyRef>> CurrentBody(Db& db, const std::string& bucket,
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
  static Status ReplaceObjectRow(Db& db, const ObjectInfo& info, const std::string& id,
                                 Effects& effects, const std::string* inline_data = nullptr) {
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
  static Status MeetsPrecondition(Db& db, const std::string& bucket, const std::string& key,
                                  const Precondition& p) {
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

  static Status BucketMustExist(Db& db, const std::string& bucket) {
    Stmt s = db.Prepare("SELECT 1 FROM buckets WHERE name = ?");
    s.Text(1, bucket);
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kNoSuchBucket);
    return Status::Ok();
  }

  Status Recover(RecoveryReport& report) {
    auto temps = fs->ListDir(root + "/tmp");
    if (temps) {
      for (const std::string& name : *temps) {
        (void)fs->Remove(root + "/tmp/" + name);
        ++report.temp_files_removed;
      }
    }
    std::unordered_set<std::string> referenced;
    auto collect = [&](Db& db) -> Status {
      for (const char* sql : {"SELECT blob FROM objects", "SELECT blob FROM parts"}) {
        Stmt s = db.Prepare(sql);
        while (true) {
          auto row = s.Step();
          if (!row) return row.error();
          if (!*row) break;
          if (!s.ColText(0).empty()) referenced.insert(s.ColText(0));  // "": an inline body
        }
      }
      return Status::Ok();
    };
    LB_RETURN_IF_ERROR(collect(*writer));
    auto level1 = fs->ListDir(root + "/blobs");
    if (!level1) return level1.error();
    size_t found = 0;
    for (const std::string& a : *level1) {
      auto level2 = fs->ListDir(root + "/blobs/" + a);
      if (!level2) continue;
      for (const std::string& b : *level2) {
        std::string dir = root + "/blobs/" + a + "/" + b;
        auto files = fs->ListDir(dir);
        if (!files) continue;
        for (const std::string& f : *files) {
          if (referenced.count(f) == 0) {
            (void)fs->Remove(dir + "/" + f);
            ++report.orphan_blobs_removed;
          } else {
            ++found;
          }
        }
      }
    }
    // A row whose body is gone is data loss (a disk that lied about an fsync, or a hand in
    // blobs/): said loudly at start, and each such object answers 500 until it is rewritten.
    report.missing_blobs = static_cast<int>(referenced.size() - std::min(found, referenced.size()));
    return Status::Ok();
  }
};

namespace {

// Brings a directory written by an older binary up to kSchemaVersion, in one transaction (an
// admin command opening the directory at the same moment waits on the write lock, then sees the
// new version and does nothing).
Status MigrateSchema(Db& db, const std::string& db_path) {
  LB_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status status;
  std::string version;
  {
    Stmt get = db.Prepare("SELECT value FROM meta WHERE name = 'schema_version'");
    auto row = get.Step();
    if (!row) status = row.error();
    if (row && *row) version = get.ColText(0);
  }
  if (status.ok() && version == "1") {
    // Version 2 adds inline bodies: objects.body points into the bodies table, which the
    // schema script has already created.
    status = db.Exec(
        "ALTER TABLE objects ADD COLUMN body INTEGER; "
        "UPDATE meta SET value = '2' WHERE name = 'schema_version';");
    if (status.ok()) Log().info("{}: metadata schema upgraded from version 1 to 2", db_path);
    if (status.ok()) version = "2";
  }
  if (status.ok() && version == "2") {
    // Version 3 adds bucket ACLs (NULL: the owner alone, as before) and CORS configurations.
    status = db.Exec(
        "ALTER TABLE buckets ADD COLUMN acl TEXT; "
        "ALTER TABLE buckets ADD COLUMN cors TEXT; "
        "UPDATE meta SET value = '3' WHERE name = 'schema_version';");
    if (status.ok()) Log().info("{}: metadata schema upgraded from version 2 to 3", db_path);
    if (status.ok()) version = "3";
  }
  if (status.ok() && version == "3") {
    // Version 4 adds object ownership controls and public access blocks.
    status = db.Exec(
        "ALTER TABLE buckets ADD COLUMN ownership TEXT; "
        "ALTER TABLE buckets ADD COLUMN public_access_block TEXT; "
        "UPDATE meta SET value = '4' WHERE name = 'schema_version';");
    if (status.ok()) Log().info("{}: metadata schema upgraded from version 3 to 4", db_path);
  }
  if (!status.ok()) {
    (void)db.Exec("ROLLBACK");
    return status;
  }
  return db.Exec("COMMIT");
}

}  // namespace

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
    impl->disk.Init(impl->root, options.min_free_bytes, options.reserve_bytes);
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
    uint64_t offset = 0;
    while (offset < sp.size) {
      ssize_t n = ::pread(in->get(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
      if (n <= 0) return platform::PosixError("pread", path, n < 0 ? errno : EIO);
      std::string_view chunk(buffer.data(), static_cast<size_t>(n));
      full->Update(chunk);
      LB_RETURN_IF_ERROR((*writer)->Append(chunk));
      offset += static_cast<uint64_t>(n);
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

// ------------------------------------------------------------------------------- users

namespace {

std::string NewAccessKey() {
  // 20 characters from A-Z0-9, like AWS access key ids, prefixed LB for recognisability.
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string random = RandomBytes(18);
  std::string out = "LB";
  for (unsigned char c : random) out.push_back(kAlphabet[c % 32]);
  return out;
}

std::string NewSecretKey() {
  std::string b64 = Base64Encode(RandomBytes(30));  // 40 characters, like AWS secrets
  for (char& c : b64) {
    if (c == '/') c = '_';
  }
  return b64;
}

Status ValidateUserName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Error(ErrorCode::kInvalidArgument, "user name must be 1 to 64 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '@' || c == '+' || c == '=';
    if (!ok) {
      return Error(ErrorCode::kInvalidArgument,
                   "user name may contain only letters, digits and - _ . @ + =");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<User> LocalStore::AddUser(const std::string& name, bool admin) {
  LB_RETURN_IF_ERROR(ValidateUserName(name));
  User user{name, NewAccessKey(), NewSecretKey(), admin, impl_->options.clock->NowMs()};
  Status s = impl_->RunWrite([&](Db& db, Effects&) -> Status {
    Stmt exists = db.Prepare("SELECT 1 FROM users WHERE name = ?");
    exists.Text(1, name);
    auto row = exists.Step();
    if (!row) return row.error();
    if (*row) return Error(ErrorCode::kInvalidArgument, "user '" + name + "' already exists");
    Stmt put = db.Prepare(
        "INSERT INTO users(access_key, name, secret, admin, created_ms) VALUES(?, ?, ?, ?, ?)");
    put.Text(1, user.access_key).Text(2, user.name).Text(3, user.secret_key);
    put.Int(4, user.admin ? 1 : 0).Int(5, user.created_ms);
    return put.Run();
  });
  if (!s.ok()) return s;
  impl_->MarkUsersChanged();
  return user;
}

Result<User> LocalStore::RotateUser(const std::string& name) {
  User user;
  Status s = impl_->RunWrite([&](Db& db, Effects&) -> Status {
    Stmt get = db.Prepare("SELECT admin, created_ms FROM users WHERE name = ?");
    get.Text(1, name);
    auto row = get.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kInvalidArgument, "no user named '" + name + "'");
    user = {name, NewAccessKey(), NewSecretKey(), get.ColInt(0) != 0, get.ColInt(1)};
    Stmt upd = db.Prepare("UPDATE users SET access_key = ?, secret = ? WHERE name = ?");
    upd.Text(1, user.access_key).Text(2, user.secret_key).Text(3, name);
    return upd.Run();
  });
  if (!s.ok()) return s;
  impl_->MarkUsersChanged();
  return user;
}

Status LocalStore::RemoveUser(const std::string& name) {
  Status s = impl_->RunWrite([&](Db& db, Effects&) -> Status {
    Stmt del = db.Prepare("DELETE FROM users WHERE name = ?");
    del.Text(1, name);
    LB_RETURN_IF_ERROR(del.Run());
    if (del.Changes() == 0) {
      return Error(ErrorCode::kInvalidArgument, "no user named '" + name + "'");
    }
    return Status::Ok();
  });
  if (s.ok()) impl_->MarkUsersChanged();
  return s;
}

Result<std::vector<User>> LocalStore::ListUsers() {
  return impl_->WithReader([](Db& db) -> Result<std::vector<User>> {
    Stmt s =
        db.Prepare("SELECT name, access_key, secret, admin, created_ms FROM users ORDER BY name");
    std::vector<User> out;
    while (true) {
      auto row = s.Step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3) != 0, s.ColInt(4)});
    }
    return out;
  });
}

std::optional<User> LocalStore::FindByAccessKey(const std::string& access_key) {
  std::optional<Impl::UsersStamp> stamp = impl_->ReadUsersStamp();
  uint64_t generation = 0;
  if (stamp) {
    {
      std::shared_lock lock(impl_->users_mu);
      if (impl_->users_stamp == *stamp) {
        auto it = impl_->users_by_key.find(access_key);
        if (it != impl_->users_by_key.end()) return it->second;
        generation = impl_->users_generation;
      }
    }
    std::unique_lock lock(impl_->users_mu);
    if (!(impl_->users_stamp == *stamp)) {  // users changed since the cache was filled
      impl_->users_by_key.clear();
      impl_->users_stamp = *stamp;
      ++impl_->users_generation;
    }
    generation = impl_->users_generation;
  }
  auto found = impl_->WithReader([&](Db& db) -> Result<User> {
    Stmt s = db.Prepare(
        "SELECT name, access_key, secret, admin, created_ms FROM users WHERE access_key = ?");
    s.Text(1, access_key);
    auto row = s.Step();
    if (!row) return row.error();
    if (!*row) return Error(ErrorCode::kInvalidAccessKeyId);
    return User{s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3) != 0, s.ColInt(4)};
  });
  if (!found) return std::nullopt;
  if (stamp) {
    // Cache only if no change was seen meanwhile: the row may predate it. The marker is read
    // again, so a change committed during our read is noticed.
    auto now = impl_->ReadUsersStamp();
    std::unique_lock lock(impl_->users_mu);
    if (now && *now == *stamp && impl_->users_stamp == *stamp &&
        impl_->users_generation == generation && impl_->users_by_key.size() < 10000) {
      impl_->users_by_key[access_key] = *found;
    }
  }
  return std::move(*found);
}

}  // namespace logbucket::store
