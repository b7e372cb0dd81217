// The embedded store: object bodies as immutable blob files (small ones inline in the metadata
// database), metadata in SQLite (WAL), writes made durable with one idiom (temp → fsync →
// rename → fsync dir → commit) and grouped into shared transactions (group commit). On-disk
// layout: docs/formats/data-dir.md.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "platform/file_system.h"
#include "store/store.h"

namespace logbucket::store {

struct LocalStoreOptions {
  std::string data_dir;
  // Start-up recovery (empty tmp/, delete unreferenced blobs). Only the serving process may do
  // it; admin commands that open the same directory must not.
  static constexpr size_t kDefaultInlineBodyMaxBytes = 64 * 1024;

  bool recover = true;
  const Clock* clock = &SystemClock::Instance();
  // PutObject bodies up to this size are stored in the metadata database, committed with their
  // row in one group-committed transaction, instead of as a blob file that needs its own fsync
  // and directory fsync (docs/formats/data-dir.md). 0 = every body in a file.
  size_t inline_body_max_bytes = kDefaultInlineBodyMaxBytes;
  // Uploads are refused (kStorageFull) while the data directory's file system has less than
  // this free, so deletes and metadata always have room (s3.min_free_bytes). 0 = no floor.
  uint64_t min_free_bytes = 256ULL << 20;
  // A preallocated file (DATA/reserve) given up when a commit finds the disk full, so that
  // deletes and lifecycle expiry still commit and free space (s3.reserve_bytes). 0 = none.
  uint64_t reserve_bytes = 64ULL << 20;
  // The data directory's files (blobs, tmp/) go through this: the real one, or a test's
  // fault-injecting one (platform/fault_file_system.h). Not owned.
  platform::FileSystem* fs = &platform::FileSystem::Posix();
};

class LocalStore;

// Opens (creating if needed) the data directory. Takes an exclusive lock when recover is set,
// so two servers never share one directory.
Result<std::unique_ptr<LocalStore>> OpenLocalStore(const LocalStoreOptions& options);

class LocalStore : public Store, public UserDirectory {
 public:
  ~LocalStore() override;

  // Store
  Result<std::vector<Bucket>> ListBuckets() override;
  Result<Bucket> GetBucket(const std::string& name) override;
  Status CreateBucket(const Bucket& bucket) override;
  Status DeleteBucket(const std::string& name) override;
  Status SetBucketDocument(const std::string& bucket, BucketDocument which,
                           const std::string& text) override;
  Result<std::unique_ptr<BlobWriter>> NewBlob() override;
  Status CheckSpaceFor(uint64_t incoming_bytes) override;
  Result<ObjectInfo> PutObject(ObjectInfo info, std::unique_ptr<BlobWriter> blob,
                               const Precondition& precondition = {}) override;
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key) override;
  Result<OpenedObject> GetObject(const std::string& bucket, const std::string& key) override;
  Status DeleteObject(const std::string& bucket, const std::string& key,
                      const Precondition& precondition = {}) override;
  Result<std::vector<Status>> DeleteObjects(
      const std::string& bucket, const std::vector<std::string>& keys,
      const std::vector<Precondition>& preconditions = {}) override;
  Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& options) override;
  Result<BucketUsage> GetBucketUsage(const std::string& bucket) override;
  Status UpdateObjectHeaders(const std::string& bucket, const std::string& key,
                             const Headers& headers) override;
  Result<std::vector<ObjectInfo>> ListObjectsByAge(const std::string& bucket,
                                                   int64_t modified_before_ms,
                                                   const AgeCursor& after, int limit) override;
  Result<int> DeleteObjectsIfUnchanged(const std::string& bucket,
                                       const std::vector<ObjectVersion>& objects) override;
  Result<Upload> CreateUpload(Upload upload) override;
  Result<Upload> GetUpload(const std::string& bucket, const std::string& key,
                           const std::string& upload_id) override;
  Result<Part> PutPart(const Upload& upload, Part part, std::unique_ptr<BlobWriter> blob) override;
  Result<ListPartsResult> ListParts(const Upload& upload, int part_number_marker,
                                    int max_parts) override;
  Result<ObjectInfo> CompleteUpload(const Upload& upload, const std::vector<CompletedPart>& parts,
                                    uint64_t min_part_size, const Precondition& precondition = {},
                                    const std::string& expected_checksum = "") override;
  Status AbortUpload(const Upload& upload) override;
  Result<ListUploadsResult> ListUploads(const std::string& bucket,
                                        const ListUploadsOptions& options) override;

  // Calls `listener` after each committed change to an object (written, replaced, deleted, new
  // headers; lifecycle expiry included), on the committing thread: it must be quick (the build
  // index only queues the key). Set it before serving; it is not synchronised with writes.
  void SetObjectListener(
      std::function<void(const std::string& bucket, const std::string& key)> listener);

  // UserDirectory
  Result<User> AddUser(const std::string& name, bool admin) override;
  Result<User> RotateUser(const std::string& name) override;
  Status RemoveUser(const std::string& name) override;
  Result<std::vector<User>> ListUsers() override;
  std::optional<User> FindByAccessKey(const std::string& access_key) override;

  // What start-up recovery removed (for logs and tests).
  struct RecoveryReport {
    int temp_files_removed = 0;
    int orphan_blobs_removed = 0;
    int missing_blobs = 0;  // rows whose body file is gone
  };
  const RecoveryReport& recovery_report() const { return recovery_; }

  struct Impl;

 private:
  friend Result<std::unique_ptr<LocalStore>> OpenLocalStore(const LocalStoreOptions&);
  explicit LocalStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  RecoveryReport recovery_;
};

}  // namespace logbucket::store
