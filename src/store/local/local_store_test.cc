#include "store/local/local_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/encoding.h"

namespace logbucket::store {
namespace {

// Past the default inline limit: stored as a blob file.
constexpr size_t kLargeBody = LocalStoreOptions::kDefaultInlineBodyMaxBytes + 1;

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lb-store-" + HexEncode(RandomBytes(6)));
    Open();
    ASSERT_TRUE(store_->CreateBucket({"bkt", 1, "admin", "us-east-1"}).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    LocalStoreOptions options;
    options.data_dir = dir_.string();
    options.clock = &clock_;
    auto opened = OpenLocalStore(options);
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    store_ = std::move(*opened);
  }
  void Put(const std::string& key, const std::string& body = "x") {
    auto blob = store_->NewBlob();
    ASSERT_TRUE(blob.has_value());
    ASSERT_TRUE((*blob)->Append(body).ok());
    ObjectInfo info;
    info.bucket = "bkt";
    info.key = key;
    info.etag = HexEncode(Md5(body));
    auto put = store_->PutObject(info, std::move(*blob));
    ASSERT_TRUE(put.has_value()) << put.error().ToString();
  }
  std::string Read(const std::string& key) {
    auto got = store_->GetObject("bkt", key);
    if (!got) return "<" + got.error().ToString() + ">";
    std::string out(got->info.size, '\0');
    auto n = got->body->ReadAt(0, out.data(), out.size());
    EXPECT_TRUE(n.has_value());
    return out;
  }
  // Everything a listing yields, paging `page` items at a time, as "key" or "prefix/".
  std::vector<std::string> ListAll(const std::string& prefix, const std::string& delimiter,
                                   int page) {
    std::vector<std::string> out;
    ListOptions options{prefix, delimiter, "", page};
    for (int guard = 0; guard < 1000; ++guard) {
      auto r = store_->ListObjects("bkt", options);
      EXPECT_TRUE(r.has_value());
      // Merge keys and prefixes in order, as S3 clients see them.
      std::vector<std::string> items;
      for (const auto& o : r->objects) items.push_back(o.key);
      for (const auto& p : r->common_prefixes) items.push_back(p);
      std::sort(items.begin(), items.end());
      EXPECT_LE(static_cast<int>(items.size()), page);
      out.insert(out.end(), items.begin(), items.end());
      if (!r->truncated) return out;
      EXPECT_EQ(r->last_item, items.back());
      options.after = r->last_item;
    }
    ADD_FAILURE() << "listing did not terminate";
    return out;
  }

  std::filesystem::path dir_;
  ManualClock clock_{1700000000000};
  std::unique_ptr<LocalStore> store_;
};

TEST_F(LocalStoreTest, PutGetOverwriteDelete) {
  Put("a/b", "first");
  EXPECT_EQ(Read("a/b"), "first");
  auto opened = store_->GetObject("bkt", "a/b");  // an open body survives an overwrite
  ASSERT_TRUE(opened.has_value());
  Put("a/b", "second!");
  EXPECT_EQ(Read("a/b"), "second!");
  std::string old(5, '\0');
  ASSERT_EQ(opened->body->ReadAt(0, old.data(), 5).value(), 5u);
  EXPECT_EQ(old, "first");
  ASSERT_TRUE(store_->DeleteObject("bkt", "a/b").ok());
  EXPECT_EQ(store_->HeadObject("bkt", "a/b").error().code(), ErrorCode::kNoSuchKey);
  EXPECT_TRUE(store_->DeleteObject("bkt", "a/b").ok());  // deleting twice is fine
  EXPECT_EQ(store_->HeadObject("nope", "a").error().code(), ErrorCode::kNoSuchBucket);
}

TEST_F(LocalStoreTest, BucketUsageCountsWhatIsThere) {
  auto empty = store_->GetBucketUsage("bkt");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->objects, 0u);
  EXPECT_EQ(empty->bytes, 0u);
  Put("a", "12345");
  Put("b/c", "123");
  Put("a", "1");  // overwritten: counted once, at its new size
  auto usage = store_->GetBucketUsage("bkt");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->objects, 2u);
  EXPECT_EQ(usage->bytes, 4u);
  EXPECT_EQ(store_->GetBucketUsage("nope").error().code(), ErrorCode::kNoSuchBucket);
}

TEST_F(LocalStoreTest, ListingWithDelimiterSeeksPastCommonPrefixes) {
  for (int pr = 0; pr < 30; ++pr) {
    for (int check = 0; check < 4; ++check) {
      Put("org/repo/" + std::to_string(pr) + "/sha/check" + std::to_string(check) + "/log");
    }
  }
  Put("org/readme");
  Put("top");
  // Every page size gives the same sequence.
  std::vector<std::string> expected;
  expected.reserve(30);
  for (int pr = 0; pr < 30; ++pr) expected.push_back("org/repo/" + std::to_string(pr) + "/");
  std::sort(expected.begin(), expected.end());
  for (int page : {1, 2, 7, 1000}) {
    EXPECT_EQ(ListAll("org/repo/", "/", page), expected) << page;
  }
  EXPECT_EQ(ListAll("", "/", 1), (std::vector<std::string>{"org/", "top"}));
  EXPECT_EQ(ListAll("org/", "/", 1), (std::vector<std::string>{"org/readme", "org/repo/"}));
  EXPECT_EQ(ListAll("", "", 1000).size(), 122u);
  EXPECT_EQ(ListAll("org/repo/1", "/", 3).size(), 11u);  // 1, 10..19
  EXPECT_TRUE(ListAll("zzz", "/", 10).empty());
  // A multi-character delimiter.
  Put("x--y--z");
  EXPECT_EQ(ListAll("x", "--", 10), (std::vector<std::string>{"x--"}));
}

TEST_F(LocalStoreTest, MarkerThatIsACommonPrefixSkipsItsKeys) {
  Put("a/1");
  Put("a/2");
  Put("b/1");
  auto r = store_->ListObjects("bkt", {"", "/", "a/", 10});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->objects.empty());
  EXPECT_EQ(r->common_prefixes, std::vector<std::string>{"b/"});
  auto keys = store_->ListObjects("bkt", {"", "", "a/1", 10});
  ASSERT_EQ(keys->objects.size(), 2u);
  EXPECT_EQ(keys->objects[0].key, "a/2");
}

TEST_F(LocalStoreTest, KeysSortAsBytes) {
  for (std::string k : {"b", "B", "a\xc3\xa9", "a~", "a/", "a "}) Put(k);
  std::vector<std::string> expected = {"B", "a ", "a/", "a~", "a\xc3\xa9", "b"};
  EXPECT_EQ(ListAll("", "", 2), expected);
}

TEST_F(LocalStoreTest, BucketRules) {
  EXPECT_EQ(store_->CreateBucket({"bkt", 1, "admin", "us-east-1"}).code(),
            ErrorCode::kBucketAlreadyOwnedByYou);
  EXPECT_EQ(store_->CreateBucket({"bkt", 1, "bob", "us-east-1"}).code(),
            ErrorCode::kBucketAlreadyExists);
  EXPECT_EQ(store_->CreateBucket({"Bad", 1, "bob", "us-east-1"}).code(),
            ErrorCode::kInvalidBucketName);
  EXPECT_EQ(store_->CreateBucket({"192.168.1.1", 1, "bob", "us-east-1"}).code(),
            ErrorCode::kInvalidBucketName);
  Put("k");
  EXPECT_EQ(store_->DeleteBucket("bkt").code(), ErrorCode::kBucketNotEmpty);
  ASSERT_TRUE(store_->DeleteObject("bkt", "k").ok());
  EXPECT_TRUE(store_->DeleteBucket("bkt").ok());
  EXPECT_EQ(store_->DeleteBucket("bkt").code(), ErrorCode::kNoSuchBucket);
}

TEST_F(LocalStoreTest, MultipartEtagAndAssembly) {
  Upload u;
  u.bucket = "bkt";
  u.key = "mp";
  auto created = store_->CreateUpload(u);
  ASSERT_TRUE(created.has_value());
  std::vector<std::string> bodies = {std::string(10, 'a'), std::string(5, 'b')};
  std::vector<CompletedPart> parts;
  for (int i = 0; i < 2; ++i) {
    auto blob = store_->NewBlob();
    ASSERT_TRUE((*blob)->Append(bodies[i]).ok());
    Part p;
    p.number = i + 1;
    p.etag = HexEncode(Md5(bodies[i]));
    auto stored = store_->PutPart(*created, p, std::move(*blob));
    ASSERT_TRUE(stored.has_value());
    parts.push_back({p.number, p.etag});
  }
  EXPECT_EQ(store_->CompleteUpload(*created, parts, 100).error().code(),
            ErrorCode::kEntityTooSmall);
  std::vector<CompletedPart> reversed = {parts[1], parts[0]};
  EXPECT_EQ(store_->CompleteUpload(*created, reversed, 1).error().code(),
            ErrorCode::kInvalidPartOrder);
  auto info = store_->CompleteUpload(*created, parts, 1);
  ASSERT_TRUE(info.has_value()) << info.error().ToString();
  // The S3 rule: md5 of the concatenated binary part digests, "-N".
  EXPECT_EQ(info->etag, HexEncode(Md5(Md5(bodies[0]) + Md5(bodies[1]))) + "-2");
  EXPECT_EQ(Read("mp"), bodies[0] + bodies[1]);
  EXPECT_EQ(store_->GetUpload("bkt", "mp", created->upload_id).error().code(),
            ErrorCode::kNoSuchUpload);
}

TEST_F(LocalStoreTest, RecoveryRemovesTempFilesAndOrphanBlobs) {
  Put("kept", "kept body");
  {
    auto unfinished = store_->NewBlob();  // a body still being received at the crash
    // Larger than an inline body, so it is being written to tmp/.
    ASSERT_TRUE((*unfinished)->Append(std::string(kLargeBody, 'p')).ok());
    std::filesystem::create_directories(dir_ / "blobs/ff/ff");
    std::ofstream(dir_ / "blobs/ff/ff/ffff0000000000000000000000000000") << "orphan";
    // A crash leaves the body being received in tmp/: copy it aside before the writer's
    // destructor (which a crash never runs) removes the original.
    std::filesystem::path tmp_file;
    for (auto& e : std::filesystem::directory_iterator(dir_ / "tmp")) tmp_file = e.path();
    ASSERT_FALSE(tmp_file.empty());
    std::filesystem::copy_file(tmp_file, dir_ / "tmp" / "leftover");
  }
  Open();
  EXPECT_EQ(store_->recovery_report().temp_files_removed, 1);
  EXPECT_EQ(store_->recovery_report().orphan_blobs_removed, 1);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp"));
  EXPECT_EQ(Read("kept"), "kept body");
}

TEST_F(LocalStoreTest, ConcurrentWritersAreGroupCommitted) {
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 25; ++i) Put("t" + std::to_string(t) + "/" + std::to_string(i), "v");
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ListAll("", "", 1000).size(), 200u);
}

TEST_F(LocalStoreTest, UsersAndKeys) {
  auto alice = store_->AddUser("alice", false);
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->access_key.size(), 20u);
  EXPECT_EQ(alice->secret_key.size(), 40u);
  EXPECT_FALSE(store_->AddUser("alice", false).has_value());
  EXPECT_FALSE(store_->AddUser("bad name", false).has_value());
  EXPECT_EQ(store_->FindByAccessKey(alice->access_key)->name, "alice");
  auto rotated = store_->RotateUser("alice");
  ASSERT_TRUE(rotated.has_value());
  EXPECT_FALSE(store_->FindByAccessKey(alice->access_key).has_value());
  EXPECT_TRUE(store_->FindByAccessKey(rotated->access_key).has_value());
  EXPECT_TRUE(store_->RemoveUser("alice").ok());
  EXPECT_FALSE(store_->RemoveUser("alice").ok());
}

TEST_F(LocalStoreTest, KeyChangesFromAnotherProcessAreSeenAtOnce) {
  auto alice = store_->AddUser("alice", false);
  ASSERT_TRUE(alice.has_value());
  ASSERT_TRUE(store_->FindByAccessKey(alice->access_key).has_value());  // now cached
  // `logbucket user rotate` opens the same directory separately.
  LocalStoreOptions admin;
  admin.data_dir = dir_.string();
  admin.recover = false;
  auto other = OpenLocalStore(admin);
  ASSERT_TRUE(other.has_value());
  auto rotated = (*other)->RotateUser("alice");
  ASSERT_TRUE(rotated.has_value());
  EXPECT_FALSE(store_->FindByAccessKey(alice->access_key).has_value());
  EXPECT_TRUE(store_->FindByAccessKey(rotated->access_key).has_value());
  ASSERT_TRUE((*other)->RemoveUser("alice").ok());
  EXPECT_FALSE(store_->FindByAccessKey(rotated->access_key).has_value());
}

TEST_F(LocalStoreTest, CachedReadsSeeEveryOverwriteAndDelete) {
  std::atomic<bool> stop{false};
  std::thread reader([&] {  // keeps the cache warm and racing with the writer
    while (!stop) (void)store_->HeadObject("bkt", "hot");
  });
  for (int i = 0; i < 200; ++i) {
    Put("hot", "v" + std::to_string(i));
    ASSERT_EQ(Read("hot"), "v" + std::to_string(i));
    ASSERT_EQ(store_->HeadObject("bkt", "hot")->size, ("v" + std::to_string(i)).size());
  }
  ASSERT_TRUE(store_->DeleteObject("bkt", "hot").ok());
  EXPECT_EQ(store_->HeadObject("bkt", "hot").error().code(), ErrorCode::kNoSuchKey);
  stop = true;
  reader.join();
}

// Open descriptors of blobs in our data dir whose files were unlinked (space still pinned).
int DeletedBlobsHeldOpen(const std::filesystem::path& dir) {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec && target.find(dir.string()) == 0 && target.find("(deleted)") != std::string::npos) {
      ++count;
    }
  }
  return count;
}

TEST_F(LocalStoreTest, OpenBlobCacheNeverPinsReplacedBodies) {
  for (int i = 0; i < 20; ++i) {
    std::string body = "version " + std::to_string(i) + std::string(kLargeBody, '.');
    Put("cached", body);
    ASSERT_EQ(Read("cached"), body);  // opens and caches the blob
    ASSERT_EQ(Read("cached"), body);  // served from the cache
  }
  EXPECT_EQ(DeletedBlobsHeldOpen(dir_), 0);
  ASSERT_TRUE(store_->DeleteObject("bkt", "cached").ok());
  EXPECT_EQ(DeletedBlobsHeldOpen(dir_), 0);
  EXPECT_EQ(store_->GetObject("bkt", "cached").error().code(), ErrorCode::kNoSuchKey);
}

// Blob files under blobs/ (inline bodies have none).
int BlobFiles(const std::filesystem::path& dir) {
  int count = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "blobs")) {
    if (e.is_regular_file()) ++count;
  }
  return count;
}

TEST_F(LocalStoreTest, SmallBodiesLiveInTheDatabaseLargeOnesInFiles) {
  const size_t limit = LocalStoreOptions::kDefaultInlineBodyMaxBytes;
  std::string at_limit(limit, 'a');
  std::string past_limit(limit + 1, 'b');
  Put("empty", "");
  Put("small", "small body");
  Put("at-limit", at_limit);
  EXPECT_EQ(BlobFiles(dir_), 0);
  Put("past-limit", past_limit);
  EXPECT_EQ(BlobFiles(dir_), 1);
  auto small = store_->GetObject("bkt", "small");
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->body->fd(), -1);
  EXPECT_EQ(small->body->SharedFd(), nullptr);
  // Reads at and past the end of an inline body behave as a file's would.
  char c = 0;
  EXPECT_EQ(*small->body->ReadAt(9, &c, 5), 1u);
  EXPECT_EQ(c, 'y');
  EXPECT_EQ(*small->body->ReadAt(10, &c, 1), 0u);
  // Overwriting a file-backed object with a small body removes its file, and back.
  Put("past-limit", "now small");
  EXPECT_EQ(BlobFiles(dir_), 0);
  Put("small", past_limit);
  EXPECT_EQ(BlobFiles(dir_), 1);
  // An open inline body keeps its bytes when the object is replaced or deleted meanwhile.
  auto held = store_->GetObject("bkt", "at-limit");
  ASSERT_TRUE(held.has_value());
  Put("at-limit", "replaced");
  ASSERT_TRUE(store_->DeleteObject("bkt", "at-limit").ok());
  std::string bytes(limit, '\0');
  EXPECT_EQ(*held->body->ReadAt(0, bytes.data(), bytes.size()), limit);
  EXPECT_EQ(bytes, at_limit);
  // All of it survives a restart (committed with the row, not only cached).
  Open();
  EXPECT_EQ(Read("empty"), "");
  EXPECT_EQ(Read("past-limit"), "now small");
  EXPECT_EQ(Read("small"), past_limit);
  EXPECT_EQ(Read("at-limit").substr(0, 10), "<NoSuchKey");
  EXPECT_EQ(store_->recovery_report().orphan_blobs_removed, 0);
  // Deleting the rest leaves no body rows behind.
  auto deleted = store_->DeleteObjects("bkt", {"empty", "past-limit", "small"});
  ASSERT_TRUE(deleted.has_value());
  for (const Status& s : *deleted) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(BlobFiles(dir_), 0);
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "meta.sqlite").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM bodies", -1, &count, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(count, 0), 0);
  sqlite3_finalize(count);
  sqlite3_close(db);
}

TEST_F(LocalStoreTest, InlineLimitZeroKeepsEveryBodyInAFile) {
  store_.reset();
  LocalStoreOptions options;
  options.data_dir = dir_.string();
  options.clock = &clock_;
  options.inline_body_max_bytes = 0;
  auto opened = OpenLocalStore(options);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  store_ = std::move(*opened);
  Put("tiny", "t");
  EXPECT_EQ(BlobFiles(dir_), 1);
  EXPECT_EQ(Read("tiny"), "t");
}

TEST_F(LocalStoreTest, DirectoriesFromSchemaVersion1AreUpgradedToTheCurrentOne) {
  Put("old-file", std::string(kLargeBody, 'o'));
  store_.reset();
  // Make the directory what a version-1 binary wrote: no inline bodies.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "meta.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db,
                   "ALTER TABLE objects DROP COLUMN body; DROP TABLE bodies; "
                   "ALTER TABLE buckets DROP COLUMN acl; ALTER TABLE buckets DROP COLUMN cors; "
                   "ALTER TABLE buckets DROP COLUMN ownership; "
                   "ALTER TABLE buckets DROP COLUMN public_access_block; "
                   "UPDATE meta SET value = '1' WHERE name = 'schema_version';",
                   nullptr, nullptr, nullptr),
      SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  Open();
  EXPECT_EQ(Read("old-file"), std::string(kLargeBody, 'o'));
  Put("new-inline", "fresh");
  // Versions 3 and 4's bucket documents: none on the old bucket, and they can be set.
  auto bucket = store_->GetBucket("bkt");
  ASSERT_TRUE(bucket.has_value());
  EXPECT_EQ(bucket->acl, "");
  ASSERT_TRUE(
      store_->SetBucketDocument("bkt", BucketDocument::kAcl, "v1,READ:group:AllUsers").ok());
  Open();
  EXPECT_EQ(Read("new-inline"), "fresh");
  EXPECT_EQ(Read("old-file"), std::string(kLargeBody, 'o'));
  EXPECT_EQ(store_->GetBucket("bkt")->acl, "v1,READ:group:AllUsers");
}

TEST(ValidateKey, Limits) {
  EXPECT_TRUE(ValidateKey(std::string(1024, 'k')).ok());
  EXPECT_EQ(ValidateKey(std::string(1025, 'k')).code(), ErrorCode::kKeyTooLongError);
  EXPECT_FALSE(ValidateKey("").ok());
  EXPECT_FALSE(ValidateKey(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ValidateKey("\xff").ok());
  EXPECT_FALSE(ValidateKey("\xc0\xaf").ok());  // overlong '/'
  EXPECT_TRUE(ValidateKey("日本語/ñ").ok());
}

}  // namespace
}  // namespace logbucket::store
