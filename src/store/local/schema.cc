#include "store/local/schema.h"

namespace logbucket::store {

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

}  // namespace logbucket::store
