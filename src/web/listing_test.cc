#include "web/listing.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/encoding.h"
#include "common/hash.h"
#include "store/local/local_store.h"

namespace logbucket::web {
namespace {

std::vector<std::string> Names(const std::vector<Child>& children) {
  std::vector<std::string> names;
  names.reserve(children.size());
  for (const Child& c : children) names.push_back(c.name);
  return names;
}

TEST(Listing, ReadingOrder) {
  std::vector<Child> children = {
      {"100/", true, 0, 0},           {"7/", true, 0, 0},      {"dev/", true, 0, 0},
      {"latest/", true, 0, 0},        {"12296/", true, 0, 0},  {"a.txt", false, 1, 50},
      {"summary.json", false, 1, 10}, {"b.txt", false, 1, 90}, {"fullLog.txt", false, 1, 1},
      {"pretty.html", false, 1, 5},   {"master/", true, 0, 0}};
  SortForReading(children);
  EXPECT_EQ(Names(children), (std::vector<std::string>{"latest/", "12296/", "100/", "7/", "dev/",
                                                       "master/", "fullLog.txt", "pretty.html",
                                                       "summary.json", "b.txt", "a.txt"}));
}

TEST(Listing, CiLayout) {
  EXPECT_TRUE(IsPrFolder("AliceO2Group/AliceO2/14473/"));
  EXPECT_FALSE(IsPrFolder("AliceO2Group/AliceO2/"));
  EXPECT_TRUE(IsCommitFolder("o/r/14473/latest/"));
  EXPECT_TRUE(IsCommitFolder("o/r/dev/0c5c7fd0a6a3a4506513270e269e0d37f2a74de4/"));
  EXPECT_FALSE(IsCommitFolder("o/r/14473/build_O2_o2/"));
  EXPECT_TRUE(IsCommitName("0c5c7fd/"));
  EXPECT_FALSE(IsCommitName("0c5c/"));
}

class ListingCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lb-listing-" + HexEncode(RandomBytes(6)));
    store::LocalStoreOptions options;
    options.data_dir = dir_.string();
    options.min_free_bytes = 0;
    options.reserve_bytes = 0;
    auto store = store::OpenLocalStore(options);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->CreateBucket({"bkt", 1, "admin", "us-east-1"}).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Put(const std::string& key, const std::string& body) {
    auto blob = store_->NewBlob();
    ASSERT_TRUE(blob);
    ASSERT_TRUE((*blob)->Append(body).ok());
    store::ObjectInfo info;
    info.bucket = "bkt";
    info.key = key;
    info.etag = HexEncode(Md5(body));
    ASSERT_TRUE(store_->PutObject(info, std::move(*blob)));
  }
  std::filesystem::path dir_;
  std::unique_ptr<store::LocalStore> store_;
};

TEST_F(ListingCacheTest, ListsPastOneStorePageAndReusesTheListing) {
  for (int pr = 1; pr <= 1205; ++pr)
    Put("o/r/" + std::to_string(pr) + "/latest/c/fullLog.txt", "x");
  ListingCache cache(*store_, {});
  auto listed = cache.List("bkt", "o/r/", "");
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ((*listed)->children.size(), 1205u);
  EXPECT_TRUE((*listed)->complete);
  EXPECT_EQ((*listed)->children.front().name, "1205/");
  EXPECT_EQ((*listed)->children.back().name, "1/");
  Put("o/r/9999/latest/c/fullLog.txt", "x");
  auto again = cache.List("bkt", "o/r/", "");
  EXPECT_EQ(again->get(), listed->get()) << "within the TTL the listing is reused";
  ListingCache fresh(*store_, {.ttl_ms = 0});
  EXPECT_EQ((*fresh.List("bkt", "o/r/", ""))->children.front().name, "9999/");
  auto filtered = fresh.List("bkt", "o/r/", "120");
  EXPECT_EQ(
      Names((*filtered)->children),
      (std::vector<std::string>{"1205/", "1204/", "1203/", "1202/", "1201/", "1200/", "120/"}));
  ListingCache capped(*store_, {.max_children = 1000});
  EXPECT_FALSE((*capped.List("bkt", "o/r/", ""))->complete);
  // Every filter is a listing of its own, even an empty one: their number is bounded too.
  ListingCache few(*store_, {.max_cached_listings = 8});
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(few.List("bkt", "o/r/", "zz" + std::to_string(i)));
  EXPECT_EQ(few.cached_listings(), 8u);
}

// Past the TTL a listing, a date and a verdict are answered at once from the cache while one
// refresh runs in the background (over a remote store a big folder takes seconds to list);
// past stale_ms, or with stale_ms = 0, the reader waits for a fresh one.
TEST_F(ListingCacheTest, StaleAnswersAtOnceWhileOneRefreshRuns) {
  Put("o/r/1/aaaaaaa/c/fullLog.txt", "x");
  ListingCache cache(*store_, {.ttl_ms = 0});
  ASSERT_EQ(Names((*cache.List("bkt", "o/r/", ""))->children), (std::vector<std::string>{"1/"}));
  const int64_t first_date = cache.LastUploads("bkt", {"o/r/1/"})[0];
  EXPECT_EQ(cache.CheckVerdicts("bkt", {"o/r/1/aaaaaaa/c/"})[0], "");
  Put("o/r/2/latest/c/fullLog.txt", "x");
  Put("o/r/1/bbbbbbb/c/fullLog.txt", "x");
  Put("o/r/1/aaaaaaa/c/summary.json", R"({"verdict": "failed"})");
  int64_t newest = store_->HeadObject("bkt", "o/r/1/aaaaaaa/c/summary.json")->last_modified_ms;
  // Stale: the old answers, and refreshes queued.
  EXPECT_EQ(Names((*cache.List("bkt", "o/r/", ""))->children), (std::vector<std::string>{"1/"}));
  EXPECT_EQ(cache.LastUploads("bkt", {"o/r/1/"})[0], first_date);
  EXPECT_EQ(cache.CheckVerdicts("bkt", {"o/r/1/aaaaaaa/c/"})[0], "");
  cache.WaitForRefreshes();
  EXPECT_EQ(Names((*cache.List("bkt", "o/r/", ""))->children),
            (std::vector<std::string>{"2/", "1/"}));
  EXPECT_EQ(cache.LastUploads("bkt", {"o/r/1/"})[0], newest);
  EXPECT_EQ(cache.CheckVerdicts("bkt", {"o/r/1/aaaaaaa/c/"})[0], "failed");

  ListingCache waits(*store_, {.ttl_ms = 0, .stale_ms = 0});
  ASSERT_TRUE(waits.List("bkt", "o/r/", ""));
  Put("o/r/3/latest/c/fullLog.txt", "x");
  EXPECT_EQ(Names((*waits.List("bkt", "o/r/", ""))->children),
            (std::vector<std::string>{"3/", "2/", "1/"}));
}

TEST_F(ListingCacheTest, DatesAndVerdicts) {
  Put("o/r/1/aaaaaaa/c/fullLog.txt", "x");
  Put("o/r/1/aaaaaaa/c/summary.json", R"({"verdict": "failed", "errors": []})");
  Put("o/r/1/aaaaaaa/d/summary.json", "not json");
  Put("o/r/1/aaaaaaa/e/summary.json", R"({"verdict": "<script>"})");
  ListingCache cache(*store_, {});
  int64_t newest = 0;
  for (const char* key : {"o/r/1/aaaaaaa/c/fullLog.txt", "o/r/1/aaaaaaa/c/summary.json",
                          "o/r/1/aaaaaaa/d/summary.json", "o/r/1/aaaaaaa/e/summary.json"}) {
    auto head = store_->HeadObject("bkt", key);
    ASSERT_TRUE(head);
    newest = std::max(newest, head->last_modified_ms);
  }
  auto dates = cache.LastUploads("bkt", {"o/r/1/", "o/r/2/"});
  EXPECT_EQ(dates, (std::vector<int64_t>{newest, 0}));
  auto verdicts = cache.CheckVerdicts(
      "bkt", {"o/r/1/aaaaaaa/c/", "o/r/1/aaaaaaa/d/", "o/r/1/aaaaaaa/e/", "o/r/1/aaaaaaa/f/"});
  EXPECT_EQ(verdicts, (std::vector<std::string>{"failed", "", "", ""}));
}

}  // namespace
}  // namespace logbucket::web
