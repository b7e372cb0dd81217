#include "s3/lifecycle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "common/encoding.h"
#include "common/guard.h"
#include "common/hash.h"
#include "s3/janitor.h"
#include "store/local/local_store.h"

namespace logbucket::s3 {
namespace {

std::string Doc(const std::string& rules) {
  return "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + rules +
         "</LifecycleConfiguration>";
}

const int64_t kNoon = *ParseIso8601("2026-11-24T12:00:00Z");

TEST(Lifecycle, ExpiryRoundsToMidnightWithRealDays) {
  auto c = lifecycle::Parse(
      Doc("<Rule><ID>r</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>"
          "<Expiration><Days>60</Days></Expiration></Rule>"));
  ASSERT_TRUE(c) << c.error().message();
  auto e = lifecycle::ObjectExpiry(*c, "logs/a", 1, {}, kNoon, lifecycle::kDayMs);
  ASSERT_TRUE(e);
  // 2026-11-24 12:00 + 60 days = 2027-01-23 12:00 → next midnight 2027-01-24.
  EXPECT_EQ(FormatIso8601(e->at_ms), "2027-01-24T00:00:00.000Z");
  EXPECT_EQ(*lifecycle::ExpirationHeader(*c, "logs/a", 1, {}, kNoon),
            "expiry-date=\"Sun, 24 Jan 2027 00:00:00 GMT\", rule-id=\"r\"");
  // A test day of 10 s expires exactly 600 s later.
  EXPECT_EQ(lifecycle::ObjectExpiry(*c, "logs/a", 1, {}, kNoon, 10000)->at_ms, kNoon + 600000);
  EXPECT_FALSE(lifecycle::ObjectExpiry(*c, "other/a", 1, {}, kNoon, lifecycle::kDayMs));
}

TEST(Lifecycle, FiltersAndEarliestRule) {
  auto c = lifecycle::Parse(Doc(
      "<Rule><ID>all</ID><Filter/><Status>Enabled</Status><Expiration><Days>30</Days></"
      "Expiration></Rule>"
      "<Rule><ID>tagged</ID><Filter><And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
      "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status>"
      "<Expiration><Days>1</Days></Expiration></Rule>"
      "<Rule><ID>off</ID><Prefix>a/</Prefix><Status>Disabled</Status><Expiration><Days>1</Days></"
      "Expiration></Rule>"));
  ASSERT_TRUE(c) << c.error().message();
  std::vector<lifecycle::Tag> tags = {{"k", "v"}};
  EXPECT_EQ(lifecycle::ObjectExpiry(*c, "a/x", 11, tags, kNoon, 1000)->rule_id, "tagged");
  EXPECT_EQ(lifecycle::ObjectExpiry(*c, "a/x", 10, tags, kNoon, 1000)->rule_id, "all");
  EXPECT_EQ(lifecycle::ObjectExpiry(*c, "a/x", 11, {}, kNoon, 1000)->rule_id, "all");
  // Written back in the shape it was given (legacy Prefix stays a legacy Prefix).
  auto again = lifecycle::Parse(lifecycle::ToXml(*c));
  ASSERT_TRUE(again) << lifecycle::ToXml(*c);
  EXPECT_EQ(lifecycle::ToXml(*again), lifecycle::ToXml(*c));
  EXPECT_NE(lifecycle::ToXml(*c).find("<Rule><ID>off</ID><Prefix>a/</Prefix>"), std::string::npos);
  EXPECT_EQ(lifecycle::ParseTagSet("k=v&team=alice%20o2").size(), 2u);
}

TEST(Lifecycle, SeveralConditionsWithoutAndAreAllRequiredAsOnRgw) {
  auto c = lifecycle::Parse(
      Doc("<Rule><ID>t</ID><Filter><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
          "</Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"));
  ASSERT_TRUE(c) << c.error().message();
  std::vector<lifecycle::Tag> tags = {{"k", "v"}};
  EXPECT_TRUE(lifecycle::ObjectExpiry(*c, "a/x", 1, tags, kNoon, 1000));
  EXPECT_FALSE(lifecycle::ObjectExpiry(*c, "a/x", 1, {}, kNoon, 1000));
  EXPECT_FALSE(lifecycle::ObjectExpiry(*c, "b/x", 1, tags, kNoon, 1000));
  EXPECT_NE(lifecycle::ToXml(*c).find("<Filter><And><Prefix>a/</Prefix>"), std::string::npos);
  // Beside an <And> too: every condition of both, the longer of two agreeing prefixes.
  auto mixed = lifecycle::Parse(
      Doc("<Rule><ID>t</ID><Filter><Prefix>days1/</Prefix><Tag><Key>k</Key><Value>v</Value>"
          "</Tag><And><Prefix>days1</Prefix><Tag><Key>h</Key><Value>f</Value></Tag></And>"
          "</Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"));
  ASSERT_TRUE(mixed) << mixed.error().message();
  std::vector<lifecycle::Tag> both = {{"k", "v"}, {"h", "f"}};
  EXPECT_TRUE(lifecycle::ObjectExpiry(*mixed, "days1/x", 1, both, kNoon, 1000));
  EXPECT_FALSE(lifecycle::ObjectExpiry(*mixed, "days1/x", 1, tags, kNoon, 1000));
  EXPECT_FALSE(lifecycle::ObjectExpiry(*mixed, "days10", 1, both, kNoon, 1000));
}

TEST(Lifecycle, Errors) {
  struct Case {
    std::string xml;
    ErrorCode code;
    std::string part;
  };
  const std::string ok_action = "<Expiration><Days>1</Days></Expiration>";
  std::vector<Case> cases = {
      {Doc(""), ErrorCode::kMalformedXML, "at least one Rule"},
      {Doc("<Rule><ID>a</ID><Status>enabled</Status>" + ok_action + "</Rule>"),
       ErrorCode::kMalformedXML, "Enabled or Disabled"},
      {Doc("<Rule><ID>a</ID><Status>Enabled</Status></Rule>"), ErrorCode::kInvalidRequest,
       "At least one action"},
      {Doc("<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></"
           "Rule>"),
       ErrorCode::kInvalidArgument, "positive integer"},
      {Doc("<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Date>2026-01-01T10:00:00Z</Date></"
           "Expiration></Rule>"),
       ErrorCode::kInvalidArgument, "midnight"},
      {Doc("<Rule><ID>a</ID><Prefix>x</Prefix><Filter><Prefix>y</Prefix></Filter><Status>Enabled</"
           "Status>" +
           ok_action + "</Rule>"),
       ErrorCode::kMalformedXML, "both Prefix and Filter"},
      {Doc("<Rule><ID>a</ID><Status>Enabled</Status>" + ok_action +
           "</Rule><Rule><ID>a</ID><Status>Enabled</Status>" + ok_action + "</Rule>"),
       ErrorCode::kInvalidArgument, "unique"},
      {Doc("<Rule><ID>" + std::string(256, 'i') + "</ID><Status>Enabled</Status>" + ok_action +
           "</Rule>"),
       ErrorCode::kInvalidArgument, "255"},
      {Doc("<Rule><ID>a</ID><Status>Enabled</Status><Transition><Days>1</"
           "Days><StorageClass>GLACIER</StorageClass></Transition></Rule>"),
       ErrorCode::kNotImplemented, "single storage class"},
      {Doc("<Rule><ID>a</ID><Status>Enabled</Status><Colour>red</Colour>" + ok_action + "</Rule>"),
       ErrorCode::kMalformedXML, "<Colour>"},
      {"<!DOCTYPE x [<!ENTITY e \"e\">]>" + Doc(""), ErrorCode::kMalformedXML, "Document type"},
      {Doc("<Rule><ID>a</ID><Filter><Prefix>x</Prefix><And><Prefix>y</Prefix></And></Filter>"
           "<Status>Enabled</Status>" +
           ok_action + "</Rule>"),
       ErrorCode::kInvalidArgument, "cannot both hold"},
  };
  std::string many;
  for (int i = 0; i <= 1000; ++i) {
    many +=
        "<Rule><ID>r" + std::to_string(i) + "</ID><Status>Enabled</Status>" + ok_action + "</Rule>";
  }
  cases.push_back({Doc(many), ErrorCode::kInvalidArgument, "1000 rules"});
  for (const Case& c : cases) {
    auto r = lifecycle::Parse(c.xml);
    ASSERT_FALSE(r) << c.part;
    EXPECT_EQ(r.error().code(), c.code) << c.part << ": " << r.error().message();
    EXPECT_NE(r.error().message().find(c.part), std::string::npos) << r.error().message();
  }
}

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
