// The janitor applies lifecycle rules to a real LocalStore, driven by a manual clock.
#include "s3/janitor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "common/encoding.h"
#include "common/guard.h"
#include "common/hash.h"
#include "lifecycle/lifecycle.h"
#include "store/local/local_store.h"

namespace logbucket::s3 {
namespace {

std::string Doc(const std::string& rules) {
  return "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + rules +
         "</LifecycleConfiguration>";
}

const int64_t kNoon = *ParseIso8601("2026-11-24T12:00:00Z");

// The janitor against a real LocalStore with a manual clock: nothing before the day, exactly
// the matching objects after it, stale uploads aborted, rewritten objects kept.
TEST(Janitor, ExpiresWithInjectedClock) {
  auto dir = std::filesystem::temp_directory_path() / ("lb-janitor-" + HexEncode(RandomBytes(6)));
  ManualClock clock(kNoon);
  store::LocalStoreOptions options;
  options.data_dir = dir.string();
  options.clock = &clock;
  auto opened = store::OpenLocalStore(options);
  ASSERT_TRUE(opened) << opened.error().message();
  auto& store = **opened;
  ASSERT_TRUE(store.CreateBucket({"logs", kNoon, "admin", "us-east-1"}).ok());
  auto put = [&](const std::string& key) {
    auto blob = store.NewBlob();
    ASSERT_TRUE(blob);
    ASSERT_TRUE((*blob)->Append("data").ok());
    store::ObjectInfo info;
    info.bucket = "logs";
    info.key = key;
    info.etag = "e";
    ASSERT_TRUE(store.PutObject(info, std::move(*blob)));
  };
  for (int i = 0; i < 7; ++i) put("pr/" + std::to_string(i) + "/fullLog.txt");
  put("keep/test.txt");
  store::Upload upload;
  upload.bucket = "logs";
  upload.key = "pr/big";
  upload.initiated_ms = kNoon;
  ASSERT_TRUE(store.CreateUpload(upload));
  auto config = lifecycle::Parse(
      Doc("<Rule><ID>sixty</ID><Filter><Prefix>pr/</Prefix></Filter><Status>Enabled</Status>"
          "<Expiration><Days>60</Days></Expiration><AbortIncompleteMultipartUpload>"
          "<DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"));
  ASSERT_TRUE(config);
  ASSERT_TRUE(store.SetBucketLifecycle("logs", lifecycle::ToXml(*config)).ok());

  JanitorOptions jo;
  jo.clock = &clock;
  jo.batch = 3;  // several batches
  Janitor janitor(store, jo);
  auto count = [&] { return store.ListObjects("logs", {})->objects.size(); };

  clock.Set(kNoon + 59 * lifecycle::kDayMs);
  auto pass = janitor.RunOnce();
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->expired, 0);
  EXPECT_EQ(pass->aborted, 1);  // 2 days after initiation, rounded to midnight, has passed
  EXPECT_EQ(count(), 8u);

  put("pr/0/fullLog.txt");  // rewritten on day 59: its own 60 days start now
  clock.Set(kNoon + 61 * lifecycle::kDayMs);
  pass = janitor.RunOnce();
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->expired, 6);
  auto left = store.ListObjects("logs", {});
  ASSERT_TRUE(left);
  ASSERT_EQ(left->objects.size(), 2u);
  EXPECT_EQ(left->objects[0].key, "keep/test.txt");
  EXPECT_EQ(left->objects[1].key, "pr/0/fullLog.txt");
  opened->reset();
  std::filesystem::remove_all(dir);
}

// The janitor's thread survives an exception in a pass (here from its clock, standing for any
// library call that throws): it is counted, and the next pass runs and expires what is due.
class ClockThatThrowsOnce final : public Clock {
 public:
  explicit ClockThatThrowsOnce(int64_t now) : now_(now) {}
  int64_t NowMs() const override {
    if (!thrown_.exchange(true)) throw std::runtime_error("injected: clock failed");
    return now_;
  }

 private:
  int64_t now_;
  mutable std::atomic<bool> thrown_{false};
};

TEST(Janitor, AnExceptionInAPassIsReportedAndTheNextPassRuns) {
  auto dir = std::filesystem::temp_directory_path() / ("lb-janitor-" + HexEncode(RandomBytes(6)));
  store::LocalStoreOptions options;
  options.data_dir = dir.string();
  auto opened = store::OpenLocalStore(options);
  ASSERT_TRUE(opened) << opened.error().message();
  auto& store = **opened;
  ASSERT_TRUE(store.CreateBucket({"logs", kNoon, "admin", "us-east-1"}).ok());
  auto blob = store.NewBlob();
  ASSERT_TRUE(blob && (*blob)->Append("old log").ok());
  store::ObjectInfo info;
  info.bucket = "logs";
  info.key = "pr/1/fullLog.txt";
  info.etag = "e";
  ASSERT_TRUE(store.PutObject(info, std::move(*blob)));
  auto config = lifecycle::Parse(
      Doc("<Rule><ID>one</ID><Filter><Prefix>pr/</Prefix></Filter><Status>Enabled</Status>"
          "<Expiration><Days>1</Days></Expiration></Rule>"));
  ASSERT_TRUE(config);
  ASSERT_TRUE(store.SetBucketLifecycle("logs", lifecycle::ToXml(*config)).ok());

  ClockThatThrowsOnce clock(SystemClock::Instance().NowMs() + 10 * lifecycle::kDayMs);
  JanitorOptions jo;
  jo.clock = &clock;
  jo.interval_ms = 20;
  uint64_t before = EscapedExceptions(ThreadEntry::kJanitor);
  {
    Janitor janitor(store, jo);
    janitor.Start();
    // Bounded wait for the second pass to expire the object (the first one threw).
    for (int i = 0; i < 500 && !store.ListObjects("logs", {})->objects.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(EscapedExceptions(ThreadEntry::kJanitor), before + 1);
  EXPECT_TRUE(store.ListObjects("logs", {})->objects.empty());
  opened->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace logbucket::s3
