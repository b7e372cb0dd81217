// Checking an embedded store's data directory (`logbucket fsck`), with the server running or
// not: every object and part row has its body (blob file or inline row) of the recorded size
// and, unless asked to be quick, of the recorded MD5 (the ETag, per part for multipart
// objects); no blob file without a row; no part without its upload; the database's own
// structure (SQLite quick_check); the schema version. `repair` removes only what no row
// references: orphan blobs, stale temp files, unreferenced inline bodies, parts of no upload.
// Layout: docs/formats/data-dir.md; the operator's side: docs/OPERATIONS.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace logbucket::store {

struct FsckOptions {
  std::string data_dir;
  bool verify_bodies = true;  // read and hash every body; false (--quick): sizes only
  bool repair = false;
  // While a server holds the directory, a blob or temp file modified more recently than this
  // may belong to a write in flight: it is neither reported nor removed. (Without a server,
  // fsck holds the directory's LOCK and every leftover is one.)
  int64_t in_flight_grace_seconds = 3600;
};

struct FsckProblem {
  // missing_body, wrong_size, corrupt_body, orphan_blob, stale_temp_file, orphan_inline_body,
  // orphan_part, unexpected_file, database
  std::string kind;
  std::string bucket;  // the object concerned, if any
  std::string key;
  std::string upload_id;  // the part concerned, if any
  int part_number = 0;
  std::string file;    // relative to the data directory
  std::string detail;  // what is wrong, in plain words
  bool repaired = false;
};

struct FsckReport {
  std::string data_dir;
  bool server_running = false;
  int schema_version = 0;  // the directory's
  uint64_t objects = 0;
  uint64_t inline_objects = 0;
  uint64_t uploads = 0;
  uint64_t parts = 0;
  uint64_t blob_files = 0;
  uint64_t temp_files = 0;
  uint64_t in_flight_files = 0;  // skipped: younger than the grace period, server running
  uint64_t bytes_verified = 0;   // read and hashed
  bool bodies_verified = false;
  double seconds = 0;
  std::vector<FsckProblem> problems;

  size_t Unrepaired() const;
  // fsck(8)'s convention: 0 clean, 1 every problem repaired, 4 problems left.
  int ExitCode() const;
};

// Errors (exit 8 in the CLI): not a data directory, a schema newer than this binary, an
// unreadable database. Problems found are in the report, not errors.
Result<FsckReport> Fsck(const FsckOptions& options);

}  // namespace logbucket::store
