#include "http/metrics.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace logbucket::http {
namespace {

// The lines of `text` that start with `prefix`.
std::vector<std::string> Lines(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

TEST(MetricsTest, CountsRequestsByListenerOperationAndStatus) {
  Metrics m;
  Metrics::Listener& s3 = m.AddListener("s3");
  Metrics::Listener& web = m.AddListener("web");
  s3.RecordRequest("GetObject", 200, 0, 4096, 300);
  s3.RecordRequest("GetObject", 200, 0, 4096, 300);
  s3.RecordRequest("GetObject", 404, 0, 0, 100);
  s3.RecordRequest("PutObject", 200, 5000000, 0, 20000);
  web.RecordRequest("", 400, 0, 10, 5);
  std::string text = m.Render();
  EXPECT_EQ(Lines(text, "logbucket_http_requests_total{"),
            (std::vector<std::string>{
                "logbucket_http_requests_total{listener=\"s3\",operation=\"GetObject\","
                "status=\"200\"} 2",
                "logbucket_http_requests_total{listener=\"s3\",operation=\"GetObject\","
                "status=\"404\"} 1",
                "logbucket_http_requests_total{listener=\"s3\",operation=\"PutObject\","
                "status=\"200\"} 1",
                "logbucket_http_requests_total{listener=\"web\",operation=\"other\","
                "status=\"400\"} 1"}));
  // Bytes are counted exactly, as integers.
  EXPECT_NE(text.find("logbucket_http_request_body_bytes_total{listener=\"s3\",operation="
                      "\"PutObject\"} 5000000\n"),
            std::string::npos);
  EXPECT_NE(text.find("logbucket_http_response_body_bytes_total{listener=\"s3\",operation="
                      "\"GetObject\"} 8192\n"),
            std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndEndWithTheCount) {
  Metrics m;
  Metrics::Listener& l = m.AddListener("s3");
  l.RecordRequest("GetObject", 200, 0, 0, 500);         // 0.5 ms: le 0.001
  l.RecordRequest("GetObject", 200, 0, 0, 1000);        // exactly 1 ms: le 0.001 (<=)
  l.RecordRequest("GetObject", 200, 0, 0, 30000);       // 30 ms: le 0.05
  l.RecordRequest("GetObject", 200, 0, 0, 60'000'000);  // a minute: only +Inf
  std::string text = m.Render();
  auto buckets = Lines(text, "logbucket_http_request_duration_seconds_bucket{");
  ASSERT_EQ(buckets.size(), kLatencyBucketsSeconds.size() + 1);
  EXPECT_EQ(buckets[0],
            "logbucket_http_request_duration_seconds_bucket{listener=\"s3\",operation="
            "\"GetObject\",le=\"0.001\"} 2");
  EXPECT_EQ(buckets[4].substr(buckets[4].rfind(' ')), " 2");  // le 0.025
  EXPECT_EQ(buckets[5].substr(buckets[5].rfind(' ')), " 3");  // le 0.05
  EXPECT_EQ(buckets[11],
            "logbucket_http_request_duration_seconds_bucket{listener=\"s3\",operation="
            "\"GetObject\",le=\"10\"} 3");
  EXPECT_EQ(buckets[12],
            "logbucket_http_request_duration_seconds_bucket{listener=\"s3\",operation="
            "\"GetObject\",le=\"+Inf\"} 4");
  EXPECT_EQ(Lines(text, "logbucket_http_request_duration_seconds_count{")[0],
            "logbucket_http_request_duration_seconds_count{listener=\"s3\",operation="
            "\"GetObject\"} 4");
  EXPECT_EQ(Lines(text, "logbucket_http_request_duration_seconds_sum{")[0],
            "logbucket_http_request_duration_seconds_sum{listener=\"s3\",operation="
            "\"GetObject\"} 60.0315");
}

TEST(MetricsTest, EachFamilyHasOneHelpAndTypeBeforeItsSamples) {
  Metrics m;
  m.AddListener("s3").RecordRequest("GetObject", 200, 0, 1, 1);
  m.AddListener("web").RecordRequest("lines", 200, 0, 1, 1);
  m.AddSource([](std::string& out) {
    AppendFamilyHeader(out, "logbucket_extra_total", "counter", "From a source.");
    AppendSample(out, "logbucket_extra_total", "", 3);
  });
  std::string text = m.Render();
  std::set<std::string> typed;
  std::string current;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(name).second) << "second TYPE for " << name;
      current = name;
      continue;
    }
    if (line.rfind('#', 0) == 0) continue;
    // Every sample belongs to the family declared last (histograms add suffixes).
    EXPECT_EQ(line.rfind(current, 0), 0u) << line << " after TYPE " << current;
  }
  EXPECT_TRUE(typed.count("logbucket_extra_total"));
  EXPECT_NE(text.find("logbucket_extra_total 3\n"), std::string::npos);
}

TEST(MetricsTest, ConnectionsAndRefusals) {
  Metrics m;
  Metrics::Listener& l = m.AddListener("web");
  l.ConnectionOpened();
  l.ConnectionOpened();
  l.ConnectionClosed();
  l.ConnectionRefused();
  std::string text = m.Render();
  EXPECT_NE(text.find("logbucket_http_open_connections{listener=\"web\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("logbucket_http_refused_connections_total{listener=\"web\"} 1\n"),
            std::string::npos);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Metrics m;
  m.AddListener("we\"b").RecordRequest("x\ny", 200, 0, 0, 1);
  std::string text = m.Render();
  EXPECT_NE(text.find("listener=\"we\\\"b\",operation=\"x\\ny\""), std::string::npos);
}

}  // namespace
}  // namespace logbucket::http
