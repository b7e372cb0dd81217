// A consistent copy of an embedded store's data directory taken while it serves
// (`logbucket backup`), and its way back (`logbucket restore`).
//
// The metadata comes from SQLite's online backup (one snapshot, writers never blocked); the
// bodies are the blob files that snapshot references. Blobs are immutable and only ever
// unlinked, so they are hard-linked when the destination is on the same file system (instant,
// no extra space; it guards against deletes and mistakes, not against losing the disk) and
// copied otherwise. Every blob that exists when the backup starts is linked or copied before
// the snapshot is taken, so every object acknowledged before the start is in the copy, as it
// was then or as a later write left it; an object replaced after the snapshot whose body was
// unlinked before it could be copied is taken as it is now (row and body together). The copy is
// built beside the destination and renamed into place when complete and synced: a destination that
// exists is a whole backup. Layout: docs/OPERATIONS.md.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace logbucket::store {

struct BackupOptions {
  std::string data_dir;
  std::string destination;  // must not exist, or be an empty directory
  bool copy = false;        // never hard-link (a backup on the same disk that survives it)
};

struct BackupReport {
  int schema_version = 0;
  uint64_t objects = 0;
  uint64_t blob_files = 0;  // in the backup
  uint64_t linked = 0;      // of which hard links
  uint64_t bytes_copied = 0;
  // Objects (or parts) replaced during the backup after its snapshot, whose snapshot body was
  // gone before it was copied: the backup has the version that was current when it looked
  // again. Dropped: deleted since, or rewritten faster than the copy could follow.
  uint64_t refreshed = 0;
  uint64_t dropped = 0;
  double seconds = 0;
};

Result<BackupReport> Backup(const BackupOptions& options);

struct RestoreOptions {
  std::string backup_dir;
  std::string data_dir;  // must not exist, or be an empty directory
  bool copy = false;     // copy the blobs even where they could be hard-linked
};

struct RestoreReport {
  int schema_version = 0;
  uint64_t objects = 0;
  uint64_t blob_files = 0;
  uint64_t linked = 0;
  uint64_t bytes_copied = 0;
  double seconds = 0;
};

// The restored directory opens with every later binary (an older schema migrates at start).
Result<RestoreReport> Restore(const RestoreOptions& options);

}  // namespace logbucket::store
