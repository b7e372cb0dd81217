// The build index and its indexer over a real LocalStore: what a board, a recurring-failures
// page and "the last green build" would show, and that the index follows the bucket (writes,
// summary.json, .gz, deletes, a deleted index rebuilt by a crawl).
#include "builds/index.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "builds/indexer.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "logs/summary.h"
#include "store/local/local_store.h"

namespace logbucket::builds {
namespace {

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kNow = 1'800'000'000'000;

class BuildIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lb-builds-" + HexEncode(RandomBytes(6)));
    std::filesystem::create_directories(dir_);
    auto opened = BuildIndex::Open((dir_ / "builds.sqlite").string());
    ASSERT_TRUE(opened) << opened.error().ToString();
    index_ = std::move(*opened);
  }
  void TearDown() override {
    index_.reset();
    std::filesystem::remove_all(dir_);
  }
  BuildRow Row(const std::string& pr, const std::string& check, const std::string& host, int64_t at,
               const std::string& error = "") {
    BuildRow r;
    r.bucket = "logs";
    r.repo = "org/app";
    r.pr = pr;
    r.commit = "c0ffee" + pr;
    r.check = check;
    r.host = host;
    r.key = "org/app/" + pr + "/" + r.commit + "/" + check + "/fullLog.txt";
    r.uploaded_ms = at;
    r.verdict = error.empty() ? "no-errors-found" : "failed";
    if (!error.empty()) {
      r.error_kind = "compile-error";
      r.error_text = error;
      r.signature = logs::ErrorSignature(r.error_kind, r.error_text);
    }
    r.source = "log";
    return r;
  }
  std::filesystem::path dir_;
  std::unique_ptr<BuildIndex> index_;
};

TEST_F(BuildIndexTest, AnInfrastructureFailureComesFirstWithItsHostAndPrs) {
  // One host breaks 12 unrelated PRs within a few hours; the same check passes elsewhere.
  for (int i = 0; i < 12; ++i) {
    std::string pr = std::to_string(100 + i);
    ASSERT_TRUE(index_
                    ->Put(Row(pr, "build", "alibuild-07", kNow - i * kHour / 4,
                              "c++: fatal error: cannot write /sw/BUILD/" + pr +
                                  "-slc9/0/a.o: No space left on device"))
                    .ok());
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        index_->Put(Row(std::to_string(300 + i), "build", "alibuild-02", kNow - i * kHour)).ok());
  }
  // Each PR's own bug, on several hosts, seen many times in one PR.
  for (int i = 0; i < 4; ++i) {  // two commits, two checks each
    BuildRow own = Row("200", i % 2 ? "build" : "test", "alibuild-0" + std::to_string(i),
                       kNow - 2 * kHour - i, "B.cxx:12:5: error: 'frob' was not declared");
    own.commit = i < 2 ? "1111111" : "2222222";
    own.key = "org/app/200/" + own.commit + "/" + own.check + "/fullLog.txt";
    ASSERT_TRUE(index_->Put(own).ok());
  }
  // Outside the window: not counted.
  ASSERT_TRUE(index_
                  ->Put(Row("400", "build", "alibuild-07", kNow - 30 * 24 * kHour,
                            "c++: fatal error: cannot write /sw/BUILD/400-slc9/0/a.o: No space "
                            "left on device"))
                  .ok());

  GroupOptions options;
  options.since_ms = kNow - 7 * 24 * kHour;
  auto groups = index_->Groups("logs", options);
  ASSERT_TRUE(groups) << groups.error().ToString();
  ASSERT_EQ(groups->size(), 2u);
  const FailureGroup& infra = groups->front();
  EXPECT_TRUE(infra.infrastructure);
  EXPECT_EQ(infra.prs, 12u);
  EXPECT_EQ(infra.builds, 12u);
  ASSERT_EQ(infra.hosts.size(), 1u);
  EXPECT_EQ(infra.hosts[0].host, "alibuild-07");
  EXPECT_NE(infra.reason.find("12 PRs within 24 h"), std::string::npos) << infra.reason;
  EXPECT_NE(infra.reason.find("on alibuild-07, while other hosts passed the same check 3 times"),
            std::string::npos)
      << infra.reason;
  EXPECT_EQ(infra.examples.size(), 5u);
  EXPECT_EQ(infra.examples[0].pr, "100");  // newest first
  const FailureGroup& own = (*groups)[1];
  EXPECT_FALSE(own.infrastructure) << own.reason;
  EXPECT_EQ(own.prs, 1u);
  EXPECT_EQ(own.builds, 4u);
  EXPECT_EQ(own.checks, (std::vector<std::string>{"build", "test"}));

  // One group on its own, and one repository's.
  options.signature = infra.signature;
  auto one = index_->Groups("logs", options);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().prs, 12u);
  options.signature.clear();
  options.repo = "org/other";
  EXPECT_TRUE(index_->Groups("logs", options)->empty());
}

TEST_F(BuildIndexTest, BoardShowsEachPrsLatestCommitNewestFirst) {
  // PR 1: an old commit failed, the new one passes both checks (one uploaded twice: under its
  // sha and under latest/). PR 2: fails. A branch build.
  BuildRow old = Row("1", "build", "h1", kNow - 5 * kHour, "x.cxx:1:1: error: old");
  old.commit = "aaaaaaa";
  old.key = "org/app/1/aaaaaaa/build/fullLog.txt";
  ASSERT_TRUE(index_->Put(old).ok());
  BuildRow build = Row("1", "build", "h1", kNow - 2 * kHour);
  ASSERT_TRUE(index_->Put(build).ok());
  build.key = "org/app/1/latest/build/fullLog.txt";
  build.uploaded_ms += 1000;
  ASSERT_TRUE(index_->Put(build).ok());
  ASSERT_TRUE(index_->Put(Row("1", "test", "h2", kNow - 2 * kHour + 5)).ok());
  ASSERT_TRUE(index_->Put(Row("2", "build", "h3", kNow - kHour, "y.cxx:2:2: error: new")).ok());
  BuildRow branch = Row("", "build", "h1", kNow - 3 * kHour);
  branch.branch = "master";
  branch.key = "org/app/master/latest/build/fullLog.txt";
  ASSERT_TRUE(index_->Put(branch).ok());

  BoardOptions options;
  options.repo = "org/app";
  auto board = index_->Board("logs", options);
  ASSERT_TRUE(board) << board.error().ToString();
  ASSERT_EQ(board->size(), 3u);
  EXPECT_EQ((*board)[0].pr, "2");
  EXPECT_TRUE((*board)[0].failing);
  EXPECT_EQ((*board)[1].pr, "1");
  EXPECT_FALSE((*board)[1].failing);         // its latest commit passes
  ASSERT_EQ((*board)[1].checks.size(), 2u);  // build once, not twice
  EXPECT_EQ((*board)[1].checks[0].check, "build");
  EXPECT_EQ((*board)[1].checks[1].check, "test");
  EXPECT_EQ((*board)[2].branch, "master");

  options.failing_only = true;
  board = index_->Board("logs", options);
  ASSERT_EQ(board->size(), 1u);
  EXPECT_EQ(board->front().pr, "2");

  // Paging by time: one entry per page, in order.
  options.failing_only = false;
  options.limit = 1;
  std::vector<std::string> order;
  for (int page = 0; page < 5; ++page) {
    auto some = index_->Board("logs", options);
    ASSERT_TRUE(some);
    if (some->empty()) break;
    order.push_back(some->front().pr.empty() ? some->front().branch : some->front().pr);
    options.before_ms = some->front().last_ms;
  }
  EXPECT_EQ(order, (std::vector<std::string>{"2", "1", "master"}));

  // The last green build of a check: the branch's first.
  auto green = index_->LastGreen("logs", "org/app", "build", kNow);
  ASSERT_TRUE(green && *green);
  EXPECT_EQ((*green)->branch, "master");
  green = index_->LastGreen("logs", "org/app", "test", kNow);
  ASSERT_TRUE(green && *green);
  EXPECT_EQ((*green)->pr, "1");
  EXPECT_FALSE(*index_->LastGreen("logs", "org/app", "test", kNow - 10 * kHour));
}

// The indexer over a real store: notified keys, summary.json, .gz, deletes, a crawl.
class IndexerTest : public BuildIndexTest {
 protected:
  void SetUp() override {
    BuildIndexTest::SetUp();
    store::LocalStoreOptions options;
    options.data_dir = (dir_ / "data").string();
    options.min_free_bytes = 0;
    options.reserve_bytes = 0;
    auto opened = store::OpenLocalStore(options);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->CreateBucket({"logs", 1, "admin", "us-east-1"}).ok());
  }
  void TearDown() override {
    indexer_.reset();
    store_.reset();
    BuildIndexTest::TearDown();
  }
  void Put(const std::string& key, const std::string& body) {
    auto blob = store_->NewBlob();
    ASSERT_TRUE(blob);
    ASSERT_TRUE((*blob)->Append(body).ok());
    store::ObjectInfo info;
    info.bucket = "logs";
    info.key = key;
    info.etag = HexEncode(Md5(body));
    ASSERT_TRUE(store_->PutObject(info, std::move(*blob)));
  }
  std::unique_ptr<store::LocalStore> store_;
  std::unique_ptr<Indexer> indexer_;
};

std::string Gzip(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

const char* const kFailedLog =
    "Finished building on alibuild-07 at 2026-11-18-13:24:03\n"
    "Built commit 0c5c7fd0a6a3a4506513270e269e0d37f2a74de4 from "
    "https://github.com/org/app/pull/7\n"
    "## Begin sw/BUILD/O2-latest/log Wed Nov 18 13:00:00 2026\n"
    "[1/2] Building CXX object a.o\n"
    "/sw/SOURCES/O2/7-slc9/0/a.cxx:3:4: error: 'frob' was not declared in this scope\n"
    "ninja: build stopped: subcommand failed.\n"
    "## End sw/BUILD/O2-latest/log Wed Nov 18 13:24:00 2026 (1440s)\n";

TEST_F(IndexerTest, NotifiedLogsAreIndexedFromTheLogOrItsSummary) {
  indexer_ = std::make_unique<Indexer>(*store_, *index_, IndexerOptions{});
  store_->SetObjectListener(
      [this](const std::string& bucket, const std::string& key) { indexer_->Notify(bucket, key); });
  indexer_->Start();
  ASSERT_TRUE(indexer_->WaitIdle(10000, /*crawled=*/true));

  // 1. A plain upload (no summary.json, under latest/): read from the log, commit from its header.
  Put("org/app/7/latest/build/fullLog.txt", kFailedLog);
  // 2. Compressed.
  Put("org/app/8/abcdef1/build/fullLog.txt.gz", Gzip("all good\n"));
  // 3. push's summary.json for these bytes (it says something the log would not).
  std::string green = "Finished building on alibuild-02 at 2026-11-18-14:00:00\nall good\n";
  Put("org/app/9/abcdef2/build/fullLog.txt", green);
  Put("org/app/9/abcdef2/build/summary.json",
      R"({"verdict":"failed","total_bytes":)" + std::to_string(green.size()) +
          R"(,"errors":[{"kind":"test-failure","text":"from the summary","line":2}],)"
          R"("header":{"host":"alibuild-02"}})");
  // 4. A summary.json of other bytes is not believed.
  Put("org/app/10/abcdef3/build/fullLog.txt", "fine\n");
  Put("org/app/10/abcdef3/build/summary.json",
      R"({"verdict":"failed","total_bytes":99999,"errors":[{"kind":"x","text":"y","line":1}]})");
  Put("org/app/10/abcdef3/build/pretty.html", "<p>not a build log</p>");
  ASSERT_TRUE(indexer_->WaitIdle(10000));

  auto row = index_->Get("logs", "org/app/7/latest/build/fullLog.txt");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->verdict, "failed");
  EXPECT_EQ((*row)->error_line, 5u);
  EXPECT_EQ((*row)->host, "alibuild-07");
  EXPECT_EQ((*row)->commit, "0c5c7fd0a6a3a4506513270e269e0d37f2a74de4");
  EXPECT_EQ((*row)->source, "log");
  EXPECT_EQ((*row)->signature,
            logs::ErrorSignature("compile-error",
                                 "/sw/SOURCES/O2/7-slc9/0/a.cxx:3:4: error: 'frob' was not "
                                 "declared in this scope"));
  // The same error on another PR's paths has the same signature.
  EXPECT_EQ((*row)->signature,
            logs::ErrorSignature("compile-error",
                                 "/sw/SOURCES/O2/14520-slc9_x86-64/0/a.cxx:3:4: error: 'frob' was "
                                 "not declared in this scope"));
  row = index_->Get("logs", "org/app/8/abcdef1/build/fullLog.txt.gz");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->verdict, "no-errors-found");
  row = index_->Get("logs", "org/app/9/abcdef2/build/fullLog.txt");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->source, "summary.json");
  EXPECT_EQ((*row)->error_text, "from the summary");
  EXPECT_EQ((*row)->host, "alibuild-02");
  row = index_->Get("logs", "org/app/10/abcdef3/build/fullLog.txt");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->source, "log");
  EXPECT_EQ((*row)->verdict, "no-errors-found");
  EXPECT_EQ(*index_->Count("logs"), 4u);

  // A delete (what lifecycle expiry does too) removes the row.
  ASSERT_TRUE(store_->DeleteObject("logs", "org/app/7/latest/build/fullLog.txt").ok());
  ASSERT_TRUE(indexer_->WaitIdle(10000));
  EXPECT_FALSE(*index_->Get("logs", "org/app/7/latest/build/fullLog.txt"));
  EXPECT_EQ(*index_->Count("logs"), 3u);
  IndexerStats stats = indexer_->stats();
  EXPECT_EQ(stats.from_summary_json, 1u);
  EXPECT_EQ(stats.errors, 0u);
}

TEST_F(IndexerTest, ASummaryJsonOfTheWrongShapeIsNotBelievedAndStopsNothing) {
  // Anyone who can upload writes summary.json: wrong types must not throw (an exception in the
  // crawl would stop it at this log on every pass), and the log is read instead.
  IndexerOptions options;
  options.crawl_interval_seconds = 0;
  indexer_ = std::make_unique<Indexer>(*store_, *index_, options);
  const std::vector<std::string> odd = {
      R"({"verdict":"failed","total_bytes":"5","errors":[{"kind":1,"text":[],"line":"x"}]})",
      R"({"verdict":"failed","total_bytes":5,"errors":"no","header":[1,2]})",
      R"({"verdict":["failed"],"total_bytes":5})",
      R"({"verdict":"failed","total_bytes":-5,"errors":[7],"header":{"host":{"a":1}}})",
      R"([1,2,3])",
      "not json at all",
  };
  for (size_t i = 0; i < odd.size(); ++i) {
    std::string folder = "org/app/" + std::to_string(100 + i) + "/abcdef1/build/";
    Put(folder + "fullLog.txt", "ok\n");  // 3 bytes; "5" never matches
    Put(folder + "summary.json", odd[i]);
  }
  // The same shape with the right size is believed, with what it says that is well typed.
  Put("org/app/200/abcdef1/build/fullLog.txt", "ok\n");
  Put("org/app/200/abcdef1/build/summary.json",
      R"({"verdict":"failed","total_bytes":3,"errors":[{"kind":"x","text":5,"line":-1}],)"
      R"("header":{"host":7,"commit":"c0ffee"}})");
  ASSERT_TRUE(indexer_->Crawl().ok());
  EXPECT_EQ(*index_->Count("logs"), odd.size() + 1);
  for (size_t i = 0; i < odd.size(); ++i) {
    auto row =
        index_->Get("logs", "org/app/" + std::to_string(100 + i) + "/abcdef1/build/fullLog.txt");
    ASSERT_TRUE(row && *row) << i;
    EXPECT_EQ((*row)->source, "log") << i;
    EXPECT_EQ((*row)->verdict, "no-errors-found") << i;
  }
  auto row = index_->Get("logs", "org/app/200/abcdef1/build/fullLog.txt");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->source, "summary.json");
  EXPECT_EQ((*row)->error_kind, "x");
  EXPECT_EQ((*row)->error_text, "");
  EXPECT_EQ((*row)->error_line, 0u);
  EXPECT_EQ((*row)->host, "");
  EXPECT_EQ(indexer_->stats().errors, 0u);
}

TEST_F(IndexerTest, ACrawlFindsWhatItWasNotToldAndForgetsWhatIsGone) {
  Put("org/app/7/abcdef1/build/fullLog.txt", kFailedLog);
  Put("org/app/8/abcdef1/build/fullLog.txt", "ok\n");
  BuildRow stale;
  stale.bucket = "logs";
  stale.key = "org/app/6/abcdef1/build/fullLog.txt";  // indexed once, deleted since
  stale.repo = "org/app";
  stale.verdict = "failed";
  ASSERT_TRUE(index_->Put(stale).ok());
  IndexerOptions options;
  options.crawl_interval_seconds = 0;
  indexer_ = std::make_unique<Indexer>(*store_, *index_, options);
  ASSERT_TRUE(indexer_->Crawl().ok());
  EXPECT_EQ(*index_->Count("logs"), 2u);
  EXPECT_FALSE(*index_->Get("logs", stale.key));
  EXPECT_EQ(indexer_->stats().indexed, 2u);
  // Unchanged keys are not read again.
  ASSERT_TRUE(indexer_->Crawl().ok());
  EXPECT_EQ(indexer_->stats().indexed, 2u);
}

}  // namespace
}  // namespace logbucket::builds
