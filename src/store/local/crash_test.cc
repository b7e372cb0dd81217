// Durability proven with fault injection (LevelDB's fault_injection_test, for our protocol):
// each write path — a PUT over an existing object, a new PUT, a multipart completion, a delete,
// a lifecycle sweep — runs against platform::FaultFileSystem, which "crashes" the machine after
// its n-th file operation, for every n, and then drops whatever was not fsynced. After each
// crash the store is opened again (recovery) and must show every acknowledged object intact, the
// object being written either old or new and never partial, no file left in tmp/, no blob
// without a row and no row without a blob. The same paths also run with each operation failing
// once with EIO and with ENOSPC: the request fails or succeeds cleanly and the store goes on.
// A last test shows the harness catches a forgotten fsync.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>

#include "common/encoding.h"
#include "common/guard.h"
#include "common/hash.h"
#include "platform/fault_file_system.h"
#include "store/local/local_store.h"

namespace logbucket::store {
namespace {

const std::string kKept(150'000, 'k');   // acknowledged before the crash: must survive
const std::string kOld(120'000, 'o');    // "target" before the operation
const std::string kNew(200'000, 'n');    // "target" (or "fresh") after it
const std::string kPartA(100'000, 'a');  // the multipart upload's parts
const std::string kPartB(30'000, 'b');

struct Outcome {
  bool acknowledged = false;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override { NewDirectory(); }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void NewDirectory() {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    dir_ = (std::filesystem::temp_directory_path() / ("lb-crash-" + HexEncode(RandomBytes(6))))
               .string();
  }

  // Every body in a file (no inline bodies: the file protocol is what is under test).
  Result<std::unique_ptr<LocalStore>> OpenWith(platform::FileSystem& fs) {
    LocalStoreOptions options;
    options.data_dir = dir_;
    options.fs = &fs;
    options.inline_body_max_bytes = 0;
    options.min_free_bytes = 0;
    options.reserve_bytes = 0;
    return OpenLocalStore(options);
  }

  static Status Put(LocalStore& store, const std::string& key, const std::string& body) {
    auto blob = store.NewBlob();
    if (!blob) return blob.error();
    for (size_t at = 0; at < body.size(); at += 65536) {
      LB_RETURN_IF_ERROR((*blob)->Append(std::string_view(body).substr(at, 65536)));
    }
    ObjectInfo info;
    info.bucket = "bkt";
    info.key = key;
    info.etag = HexEncode(Md5(body));
    auto put = store.PutObject(info, std::move(*blob));
    return put ? Status::Ok() : put.error();
  }

  static std::optional<std::string> Read(LocalStore& store, const std::string& key) {
    auto got = store.GetObject("bkt", key);
    if (!got) return std::nullopt;
    std::string out(got->info.size, '\0');
    size_t done = 0;
    while (done < out.size()) {
      auto n = got->body->ReadAt(done, out.data() + done, out.size() - done);
      if (!n || *n == 0)
        return "<short: " + std::to_string(done) + " of " + std::to_string(out.size()) + ">";
      done += *n;
    }
    return out;
  }

  // The state before each run, made durable on the real file system: a bucket, "kept",
  // "target" (old body) and a multipart upload of two parts.
  void MakeBase() {
    NewDirectory();
    auto store = OpenWith(platform::FileSystem::Posix());
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->CreateBucket({"bkt", 1, "admin", "us-east-1"}).ok());
    ASSERT_TRUE(Put(**store, "kept", kKept).ok());
    ASSERT_TRUE(Put(**store, "target", kOld).ok());
    Upload u;
    u.bucket = "bkt";
    u.key = "mp";
    auto created = (*store)->CreateUpload(u);
    ASSERT_TRUE(created);
    upload_ = *created;
    parts_.clear();
    int number = 1;
    for (const std::string* body : {&kPartA, &kPartB}) {
      auto blob = (*store)->NewBlob();
      ASSERT_TRUE(blob);
      ASSERT_TRUE((*blob)->Append(*body).ok());
      Part p;
      p.number = number++;
      p.etag = HexEncode(Md5(*body));
      ASSERT_TRUE((*store)->PutPart(upload_, p, std::move(*blob)));
      parts_.push_back({p.number, p.etag});
    }
  }

  // The write paths under test; each returns whether the store acknowledged it.
  std::map<std::string, std::function<bool(LocalStore&)>> Operations() {
    return {
        {"put-overwrite", [](LocalStore& s) { return Put(s, "target", kNew).ok(); }},
        {"put-new", [](LocalStore& s) { return Put(s, "fresh", kNew).ok(); }},
        {"complete-multipart",
         [this](LocalStore& s) { return s.CompleteUpload(upload_, parts_, 1).has_value(); }},
        {"delete", [](LocalStore& s) { return s.DeleteObject("bkt", "target").ok(); }},
        {"lifecycle-sweep",
         [](LocalStore& s) {
           // What the janitor does with an expired object: delete it if it did not change.
           auto head = s.HeadObject("bkt", "target");
           if (!head) return false;
           auto deleted =
               s.DeleteObjectsIfUnchanged("bkt", {{"target", head->etag, head->last_modified_ms}});
           return deleted && *deleted == 1;
         }},
    };
  }

  // After recovery: acknowledged data intact, the operation's object old or new (new when it
  // was acknowledged), nothing partial or left over. Returns what was wrong ("" = nothing).
  std::string Verify(const std::string& operation, bool acknowledged) {
    auto opened = OpenWith(platform::FileSystem::Posix());
    if (!opened) return "reopen: " + opened.error().ToString();
    LocalStore& store = **opened;
    std::string problems;
    auto expect = [&](bool ok, const std::string& what) {
      if (!ok) problems += what + "; ";
    };
    expect(store.recovery_report().missing_blobs == 0, "a row lost its blob");
    expect(Read(store, "kept") == kKept, "kept damaged");
    auto target = Read(store, "target");
    auto fresh = Read(store, "fresh");
    auto mp = Read(store, "mp");
    if (operation == "put-overwrite") {
      expect(target == kNew || (!acknowledged && target == kOld), "target neither old nor new");
    } else if (operation == "put-new") {
      expect(fresh == kNew || (!acknowledged && !fresh), "fresh partial or lost");
    } else if (operation == "complete-multipart") {
      expect(mp == kPartA + kPartB || (!acknowledged && !mp), "mp partial or lost");
      // Not completed: the upload and its parts are still there to complete again.
      if (!mp) expect(store.ListParts(upload_, 0, 10).has_value(), "the upload's parts lost");
    } else {  // delete, lifecycle-sweep
      expect(!target || (!acknowledged && target == kOld), "target partial, or back");
    }
    auto temps = platform::ListDir(dir_ + "/tmp");
    expect(temps && temps->empty(), "tmp/ not empty after recovery");
    // A second start finds nothing more to clean: recovery left no orphan.
    opened->reset();
    auto again = OpenWith(platform::FileSystem::Posix());
    if (!again) return problems + "second reopen: " + again.error().ToString();
    expect((*again)->recovery_report().orphan_blobs_removed == 0 &&
               (*again)->recovery_report().temp_files_removed == 0,
           "recovery left files behind");
    return problems;
  }

  // File operations `operation` makes when nothing fails (give or take the blob directories a
  // random id needs: the loops go a little past it).
  uint64_t CountCalls(const std::string& operation) {
    MakeBase();
    platform::FaultFileSystem fs;
    auto store = OpenWith(fs);
    EXPECT_TRUE(store);
    uint64_t before = fs.calls();
    EXPECT_TRUE(Operations()[operation](**store)) << operation;
    uint64_t calls = fs.calls() - before + 2;
    store->reset();
    return calls;
  }

  std::string dir_;
  std::unique_ptr<LocalStore> store_;
  Upload upload_;
  std::vector<CompletedPart> parts_;
};

TEST_F(CrashTest, EveryWritePathSurvivesACrashAfterEveryFileOperation) {
  for (const auto& [name, operation] : Operations()) {
    const uint64_t total = CountCalls(name);
    ASSERT_GT(total, 0u) << name;
    for (uint64_t n = 0; n <= total; ++n) {
      MakeBase();
      platform::FaultFileSystem fs;
      bool acknowledged = false;
      {
        auto store = OpenWith(fs);
        ASSERT_TRUE(store) << store.error().ToString();
        fs.CrashAfter(n);
        acknowledged = operation(**store);
      }  // the process dies: the store goes, with whatever it had not made durable
      ASSERT_TRUE(fs.DropUnsyncedData().ok());
      std::string problems = Verify(name, acknowledged);
      EXPECT_EQ(problems, "") << name << ": crash after file operation " << n << " of " << total
                              << (acknowledged ? " (acknowledged)" : " (not acknowledged)");
    }
  }
}

TEST_F(CrashTest, EveryWritePathFailsCleanlyOnEioAndEnospc) {
  for (const auto& [name, operation] : Operations()) {
    const uint64_t total = CountCalls(name);
    for (int error : {EIO, ENOSPC}) {
      for (uint64_t n = 1; n <= total; ++n) {
        MakeBase();
        platform::FaultFileSystem fs;
        bool acknowledged = false;
        {
          auto store = OpenWith(fs);
          ASSERT_TRUE(store);
          fs.FailCall(n, error);
          acknowledged = operation(**store);
          fs.ClearFaults();  // blob directories come and go: a run may make fewer calls
          // The store goes on: the next write works, whatever happened to this one.
          Status after = Put(**store, "after", kKept);
          EXPECT_TRUE(after.ok()) << name << " errno " << error << " at " << n << ": "
                                  << after.ToString();
        }
        std::string problems = Verify(name, acknowledged);
        EXPECT_EQ(problems, "") << name << ": errno " << error << " at file operation " << n;
      }
    }
  }
}

// The harness is only worth something if it notices a forgotten fsync: with Sync and SyncDir
// made durable in name only, an acknowledged PUT must be found lost after the crash.
TEST_F(CrashTest, TheHarnessCatchesAMissingFsync) {
  MakeBase();
  platform::FaultFileSystem fs;
  fs.set_syncs_do_nothing(true);
  bool acknowledged = false;
  {
    auto store = OpenWith(fs);
    ASSERT_TRUE(store);
    acknowledged = Operations()["put-new"](**store);
  }
  ASSERT_TRUE(acknowledged);
  ASSERT_TRUE(fs.DropUnsyncedData().ok());
  EXPECT_NE(Verify("put-new", acknowledged), "");
}

}  // namespace
}  // namespace logbucket::store

namespace logbucket::store {
namespace {

// A file system whose directory fsync throws, as a library might: the committer thread must
// turn it into an error for the writers of that batch and go on with the next one.
class ThrowingSyncDir final : public platform::FileSystem {
 public:
  Result<std::unique_ptr<platform::ScratchFile>> NewScratchFile(const std::string& dir) override {
    return Posix().NewScratchFile(dir);
  }
  Result<std::unique_ptr<platform::WritableFile>> NewWritableFile(const std::string& path,
                                                                  int mode) override {
    return Posix().NewWritableFile(path, mode);
  }
  Result<platform::ScopedFd> OpenForRead(const std::string& path) override {
    return Posix().OpenForRead(path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return Posix().Rename(from, to);
  }
  Status Remove(const std::string& path) override { return Posix().Remove(path); }
  Status SyncDir(const std::string& path) override {
    if (armed) {
      armed = false;
      throw std::runtime_error("injected: SyncDir threw");
    }
    return Posix().SyncDir(path);
  }
  Status MakeDirs(const std::string& path, int mode) override {
    return Posix().MakeDirs(path, mode);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return Posix().ListDir(path);
  }
  bool IsDirectory(const std::string& path) override { return Posix().IsDirectory(path); }
  std::atomic<bool> armed{false};
};

TEST_F(CrashTest, AnExceptionInTheCommitterFailsItsBatchAndTheStoreGoesOn) {
  ThrowingSyncDir fs;
  auto store = OpenWith(fs);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->CreateBucket({"bkt", 1, "admin", "us-east-1"}).ok());
  uint64_t before = EscapedExceptions(ThreadEntry::kCommitter);
  fs.armed = true;
  Status failed = Put(**store, "first", kKept);  // its batch syncs blob directories: throws
  EXPECT_EQ(failed.code(), ErrorCode::kInternalError) << failed.ToString();
  EXPECT_EQ(EscapedExceptions(ThreadEntry::kCommitter), before + 1);
  EXPECT_TRUE(Put(**store, "second", kNew).ok());  // the committer thread is still there
  EXPECT_EQ(Read(**store, "second"), kNew);
  EXPECT_FALSE(Read(**store, "first"));
}

}  // namespace
}  // namespace logbucket::store
