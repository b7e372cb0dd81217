// The metadata schema (docs/formats/data-dir.md) and the migrations from older versions.
#pragma once

#include <string>

#include "common/status.h"
#include "store/local/sqlite.h"

namespace logbucket::store {

inline constexpr int kSchemaVersion = 4;

inline const char* const kSchema = R"sql(
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

// Brings a directory written by an older binary up to kSchemaVersion, in one transaction (an
// admin command opening the directory at the same moment waits on the write lock, then sees the
// new version and does nothing).
Status MigrateSchema(Db& db, const std::string& db_path);

}  // namespace logbucket::store
