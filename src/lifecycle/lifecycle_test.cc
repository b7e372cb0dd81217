#include "lifecycle/lifecycle.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "common/hash.h"

namespace logbucket {
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

}  // namespace
}  // namespace logbucket
