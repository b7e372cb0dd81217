#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "common/encoding.h"
#include "common/guard.h"
#include "common/log.h"
#include "store/local/impl.h"

namespace logbucket::store {

Status LocalStore::Impl::Recover(RecoveryReport& report) {
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

}  // namespace logbucket::store
