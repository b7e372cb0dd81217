// The SQLite wrapper of the local store (and of the build index, builds/index.cc): prepared
// statements (Stmt) and connections (Db), with errors as Status (a full disk is kStorageFull,
// whichever layer finds it).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "store/store.h"

namespace logbucket::store {

Status SqlError(sqlite3* db, std::string_view what);

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

}  // namespace logbucket::store
