// The log cache's decompressed .gz copies go through platform::FileSystem: a disk that fails
// while one is written gives a clear error, leaves nothing behind, and is not remembered.
#include "web/log_cache.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "common/encoding.h"
#include "common/hash.h"
#include "platform/fault_file_system.h"
#include "store/local/local_store.h"

namespace logbucket::web {
namespace {

// "hello\n" gzip-compressed (gzip -n); members concatenate into one stream.
std::string GzipHelloLines(int count) {
  const unsigned char member[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00,
                                  0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00};
  std::string one(reinterpret_cast<const char*>(member), sizeof member);
  std::string all;
  for (int i = 0; i < count; ++i) all += one;
  return all;
}

// A local store in a temporary directory holding one object, bkt/<key>.
class OneObjectStore : public ::testing::Test {
 protected:
  void Hold(const std::string& key, const std::string& body) {
    dir_ = std::filesystem::temp_directory_path() / ("lb-logindex-" + HexEncode(RandomBytes(6)));
    std::filesystem::create_directories(dir_ / "scratch");
    store::LocalStoreOptions options;
    options.data_dir = (dir_ / "data").string();
    options.min_free_bytes = 0;
    options.reserve_bytes = 0;
    auto store = store::OpenLocalStore(options);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->CreateBucket({"bkt", 1, "admin", "us-east-1"}).ok());
    auto blob = store_->NewBlob();
    ASSERT_TRUE(blob);
    ASSERT_TRUE((*blob)->Append(body).ok());
    store::ObjectInfo info;
    info.bucket = "bkt";
    info.key = key;
    info.etag = HexEncode(Md5(body));
    auto put = store_->PutObject(info, std::move(*blob));
    ASSERT_TRUE(put) << put.error().ToString();
    info_ = *put;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<store::LocalStore> store_;
  store::ObjectInfo info_;
};

class GunzipCopyFaults : public OneObjectStore {
 protected:
  void SetUp() override { Hold("o/r/1/latest/build/fullLog.txt.gz", GzipHelloLines(1000)); }
  LogCacheOptions Options() {
    LogCacheOptions options;
    options.cache_dir = (dir_ / "scratch").string();
    options.fs = &fs_;
    return options;
  }
  bool ScratchDirEmpty() { return std::filesystem::is_empty(dir_ / "scratch"); }

  platform::FaultFileSystem fs_;
};

TEST_F(GunzipCopyFaults, FullDiskIsStorageFullAndTheNextViewTriesAgain) {
  LogCache cache(*store_, Options());
  fs_.FailCall(2, ENOSPC);  // 1: the scratch file's creation, 2: its first write
  auto opened = cache.Open("bkt", info_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), ErrorCode::kStorageFull) << opened.error().ToString();
  EXPECT_EQ(cache.stats().decompressed_bytes, 0u);
  EXPECT_TRUE(ScratchDirEmpty());

  opened = cache.Open("bkt", info_);  // space again: not the remembered failure
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(opened->index->lines, 1000u);
  EXPECT_EQ(opened->index->bytes, 6000u);
  auto lines = logs::ReadLines(*opened->index, *opened->bytes, 999, 1000, 1024);
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[1].html, "hello");
  EXPECT_EQ(cache.stats().decompressed_bytes, 6000u);
  EXPECT_TRUE(ScratchDirEmpty()) << "the copy has no name, so nothing outlives the process";
}

TEST_F(GunzipCopyFaults, ScratchFileThatCannotBeCreatedIsAnError) {
  LogCache cache(*store_, Options());
  fs_.FailCall(1, EIO);
  auto opened = cache.Open("bkt", info_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), ErrorCode::kInternalError);
  EXPECT_EQ(cache.stats().decompressed_bytes, 0u);
}

}  // namespace
}  // namespace logbucket::web
