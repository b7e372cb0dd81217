#include "store/local/sqlite.h"

#include <cerrno>

namespace logbucket::store {

Status SqlError(sqlite3* db, std::string_view what) {
  // A full disk is one status whichever layer finds it (platform::PosixError maps ENOSPC too).
  bool full = sqlite3_errcode(db) == SQLITE_FULL || sqlite3_system_errno(db) == ENOSPC ||
              sqlite3_system_errno(db) == EDQUOT;
  return Error(full ? ErrorCode::kStorageFull : ErrorCode::kInternalError,
               "sqlite " + std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace logbucket::store
