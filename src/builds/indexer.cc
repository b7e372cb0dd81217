#include "builds/indexer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "builds/layout.h"
#include "common/guard.h"
#include "common/json_fields.h"
#include "common/log.h"
#include "logs/gunzip.h"
#include "logs/log_index.h"
#include "logs/summary.h"

namespace logbucket::builds {
namespace {

using Clock = std::chrono::steady_clock;

std::string FolderOf(const std::string& key) { return key.substr(0, key.rfind('/') + 1); }

// A summary.json written by push for other bytes (an older upload, a log replaced by hand) is
// not this log's: its size must match, and it must not be older than the log by more than the
// time an upload takes.
constexpr int64_t kSummaryGraceMs = 10 * 60 * 1000;

// The decisive error and the header, from a summary (ours or push's JSON).
void Fill(BuildRow& row, const logs::Summary& s) {
  row.verdict = s.verdict;
  if (!s.errors.empty()) {
    const logs::Finding& f = s.errors.front();
    row.error_kind = f.kind;
    row.error_text = f.text;
    row.error_line = f.line;
    row.signature = logs::ErrorSignature(f.kind, f.text);
  }
  row.host = s.header.host;
  row.finished = s.header.finished;
  if (row.commit == "latest" && !s.header.commit.empty()) row.commit = s.header.commit;
}

}  // namespace

struct Indexer::Impl {
  store::Store& store;
  BuildIndex& index;
  IndexerOptions options;

  mutable std::mutex mu;
  std::condition_variable wake;
  std::condition_variable idle;
  std::deque<std::pair<std::string, std::string>> queue;
  std::unordered_set<std::string> queued;  // bucket '\n' key, to merge repeats
  bool stopping = false;
  uint64_t notified = 0;  // keys accepted into the queue, ever
  uint64_t done = 0;      // of those, handled
  IndexerStats stats;
  std::thread thread;
  Clock::time_point next_request = Clock::now();

  Impl(store::Store& s, BuildIndex& i, IndexerOptions o)
      : store(s), index(i), options(std::move(o)) {}

  // Waits for the next request slot (the rate limit); false when stopping.
  bool Pace() {
    std::unique_lock lock(mu);
    ++stats.requests;
    if (options.requests_per_second <= 0) return !stopping;
    auto now = Clock::now();
    if (next_request < now) next_request = now;
    auto slot = next_request;
    next_request +=
        std::chrono::microseconds(static_cast<int64_t>(1e6 / options.requests_per_second));
    wake.wait_until(lock, slot, [&] { return stopping; });
    return !stopping;
  }

  // What a crawl's listing already says of the summary.json beside a log.
  struct SummaryHint {
    enum class State { kUnknown, kAbsent, kPresent } state = State::kUnknown;
    store::ObjectInfo info;
  };

  Result<logs::Summary> FromSummaryJson(const std::string& bucket, const store::ObjectInfo& log,
                                        const SummaryHint& hint, std::string* summary_etag) {
    std::string key = FolderOf(log.key) + "summary.json";
    if (hint.state == SummaryHint::State::kAbsent) {
      return Error(ErrorCode::kNotFound, "no summary.json");
    }
    Result<store::ObjectInfo> head = hint.info;
    if (hint.state == SummaryHint::State::kUnknown) {
      if (!Pace()) return Error(ErrorCode::kServiceUnavailable, "stopping");
      head = store.HeadObject(bucket, key);
    }
    if (!head) return head.error();
    if (head->size > options.max_summary_json_bytes ||
        head->last_modified_ms + kSummaryGraceMs < log.last_modified_ms) {
      return Error(ErrorCode::kNotFound, "no summary.json for these bytes");
    }
    if (!Pace()) return Error(ErrorCode::kServiceUnavailable, "stopping");
    auto object = store.GetObjectForScan(bucket, key);
    if (!object) return object.error();
    std::string text;
    LB_RETURN_IF_ERROR(logs::ForEachChunk(*object->body, 0, [&](std::string_view chunk) {
      text.append(chunk);
      return text.size() <= options.max_summary_json_bytes;
    }));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    // Anyone who can upload can write it: every field is checked, none trusted to be typed.
    const nlohmann::json* verdict = JsonField(j, "verdict");
    if (verdict == nullptr || !verdict->is_string()) {
      return Error(ErrorCode::kInvalidArgument, "summary.json is not a summary");
    }
    logs::Summary s;
    s.verdict = verdict->get<std::string>();
    s.total_bytes = JsonUnsigned(j, "total_bytes");
    if (s.total_bytes != log.size) return Error(ErrorCode::kNotFound, "summary of other bytes");
    const nlohmann::json* errors = JsonField(j, "errors");
    if (errors != nullptr && errors->is_array() && !errors->empty()) {
      const nlohmann::json& first = (*errors)[0];
      logs::Finding f;
      f.kind = JsonString(first, "kind");
      f.text = JsonString(first, "text");
      f.line = JsonUnsigned(first, "line");
      if (!f.kind.empty()) s.errors.push_back(std::move(f));
    }
    if (const nlohmann::json* header = JsonField(j, "header")) {
      s.header.host = JsonString(*header, "host");
      s.header.finished = JsonString(*header, "finished");
      s.header.commit = JsonString(*header, "commit");
    }
    *summary_etag = head->etag;
    return s;
  }

  Result<logs::Summary> FromLog(const std::string& bucket, const store::ObjectInfo& log) {
    if (!Pace()) return Error(ErrorCode::kServiceUnavailable, "stopping");
    auto object = store.GetObjectForScan(bucket, log.key);
    if (!object) return object.error();
    logs::Analyzer analyzer;
    if (!logs::IsGzipName(log.key)) {
      LB_RETURN_IF_ERROR(logs::ForEachChunk(
          *object->body, 0, [&](std::string_view chunk) { return analyzer.Feed(chunk); }));
      return analyzer.Finish(log.size);
    }
    // The viewer's cap on one decompressed copy: past it the rest of a bomb is not read.
    logs::GzipDecoder gunzip(4ULL << 30);
    Status decoded = Status::Ok();
    LB_RETURN_IF_ERROR(logs::ForEachChunk(*object->body, 0, [&](std::string_view chunk) {
      decoded = gunzip.Feed(chunk, [&](std::string_view out) { analyzer.Feed(out); });
      return decoded.ok() && !gunzip.limit_reached();
    }));
    LB_RETURN_IF_ERROR(decoded);
    return analyzer.Finish(gunzip.output_bytes());
  }

  Status IndexLog(const std::string& bucket, const store::ObjectInfo& log,
                  const SummaryHint& hint) {
    KeyFacts facts = ParseCiKey(log.key);
    if (!IsBuildLog(facts)) return Status::Ok();
    BuildRow row;
    row.bucket = bucket;
    row.key = log.key;
    row.repo = facts.repo;
    row.pr = facts.pr;
    row.branch = facts.branch;
    row.commit = facts.commit;
    row.check = facts.check;
    row.uploaded_ms = log.last_modified_ms;
    row.size = log.size;
    row.etag = log.etag;
    auto summary = FromSummaryJson(bucket, log, hint, &row.summary_etag);
    row.source = "summary.json";
    if (!summary) {
      if (summary.error().code() == ErrorCode::kServiceUnavailable) return summary.error();
      row.summary_etag.clear();
      row.source = "log";
      summary = FromLog(bucket, log);
      if (!summary) return summary.error();
    }
    Fill(row, *summary);
    LB_RETURN_IF_ERROR(index.Put(row));
    std::lock_guard lock(mu);
    ++stats.indexed;
    if (row.source == "summary.json") ++stats.from_summary_json;
    return Status::Ok();
  }

  Status IndexKey(const std::string& bucket, const std::string& key) {
    if (!IsBuildLog(ParseCiKey(key))) return Status::Ok();
    if (!Pace()) return Error(ErrorCode::kServiceUnavailable, "stopping");
    auto head = store.HeadObject(bucket, key);
    if (!head) {
      if (head.error().code() != ErrorCode::kNoSuchKey &&
          head.error().code() != ErrorCode::kNotFound &&
          head.error().code() != ErrorCode::kNoSuchBucket) {
        return head.error();
      }
      LB_RETURN_IF_ERROR(index.Remove(bucket, key));
      std::lock_guard lock(mu);
      ++stats.removed;
      return Status::Ok();
    }
    return IndexLog(bucket, *head, SummaryHint());
  }

  Status CrawlBucket(const std::string& bucket) {
    std::unordered_map<std::string, BuildIndex::Known> known;
    {
      LB_ASSIGN_OR_RETURN(auto keys, index.Keys(bucket));
      for (auto& k : keys) known.emplace(k.key, std::move(k));
    }
    std::unordered_set<std::string> seen;
    store::ListOptions list;
    list.max_keys = 1000;
    while (true) {
      if (!Pace()) return Error(ErrorCode::kServiceUnavailable, "stopping");
      LB_ASSIGN_OR_RETURN(store::ListResult page, store.ListObjects(bucket, list));
      // The page's new or changed logs, each with what the listing says of its summary.json
      // (so most logs cost one read, not a HEAD and a read).
      std::unordered_map<std::string, const store::ObjectInfo*> summaries;
      std::vector<const store::ObjectInfo*> changed;
      for (const store::ObjectInfo& o : page.objects) {
        KeyFacts facts = ParseCiKey(o.key);
        if (IsBuildLog(facts)) {
          seen.insert(o.key);
          auto it = known.find(o.key);
          if (it == known.end() || it->second.etag != o.etag) changed.push_back(&o);
        } else if (facts.file == "summary.json") {
          summaries.emplace(o.key, &o);
          // A summary that arrived (or changed) after its log was indexed from the log.
          std::string log_key = FolderOf(o.key) + "fullLog.txt";
          auto it = known.find(log_key);
          if (it != known.end() && it->second.summary_etag != o.etag) Enqueue(bucket, log_key);
        }
      }
      const std::string last_listed = page.objects.empty() ? "" : page.objects.back().key;
      auto hint_for = [&](const store::ObjectInfo& log) {
        SummaryHint hint;
        std::string key = FolderOf(log.key) + "summary.json";
        auto it = summaries.find(key);
        if (it != summaries.end()) {
          hint.state = SummaryHint::State::kPresent;
          hint.info = *it->second;
        } else if (!page.truncated || last_listed > key) {
          hint.state = SummaryHint::State::kAbsent;  // it would have been listed here
        }
        return hint;
      };
      // Several at a time: over a remote store each read waits for the network.
      std::atomic<size_t> next{0};
      std::atomic<bool> stopped{false};
      auto work = [&] {
        for (size_t i = next++; i < changed.size() && !stopped; i = next++) {
          Status s = IndexLog(bucket, *changed[i], hint_for(*changed[i]));
          if (s.ok()) continue;
          if (s.code() == ErrorCode::kServiceUnavailable) {
            stopped = true;
            return;
          }
          Log().warn("build index: {}/{}: {}", bucket, changed[i]->key, s.ToString());
          std::lock_guard lock(mu);
          ++stats.errors;
        }
      };
      std::vector<std::thread> helpers;
      for (int t = 1; t < options.crawl_threads && static_cast<size_t>(t) < changed.size(); ++t) {
        helpers.emplace_back([&] {
          try {
            work();
          } catch (...) {
            ReportEscapedException(ThreadEntry::kBackground, "build indexer",
                                   std::current_exception());
          }
        });
      }
      // The helpers use this frame: join them whatever happens here, then pass it on.
      std::exception_ptr failure;
      try {
        work();
      } catch (...) {
        failure = std::current_exception();
        stopped = true;
      }
      for (auto& h : helpers) h.join();
      if (failure) std::rethrow_exception(failure);
      if (stopped) return Error(ErrorCode::kServiceUnavailable, "stopping");
      HandleQueue();  // a pushed log need not wait for a long crawl
      if (!page.truncated) break;
      list.after = page.last_item;
    }
    for (const auto& [key, k] : known) {
      if (seen.count(key)) continue;
      LB_RETURN_IF_ERROR(index.Remove(bucket, key));
      std::lock_guard lock(mu);
      ++stats.removed;
    }
    return Status::Ok();
  }

  Status Crawl() {
    std::vector<std::string> buckets = options.buckets;
    if (buckets.empty()) {
      if (!Pace()) return Error(ErrorCode::kServiceUnavailable, "stopping");
      LB_ASSIGN_OR_RETURN(auto all, store.ListBuckets());
      for (const auto& b : all) buckets.push_back(b.name);
    }
    Status result = Status::Ok();
    for (const std::string& bucket : buckets) {
      Status s = CrawlBucket(bucket);
      if (s.code() == ErrorCode::kServiceUnavailable) return s;
      if (!s.ok()) {
        Log().warn("build index: crawling {}: {}", bucket, s.ToString());
        result = s;
      }
    }
    std::lock_guard lock(mu);
    ++stats.crawls;
    idle.notify_all();
    return result;
  }

  bool Enqueue(const std::string& bucket, const std::string& key) {
    std::lock_guard lock(mu);
    if (!queued.insert(bucket + '\n' + key).second) return false;
    if (queue.size() >= options.max_queued) {  // the crawl will find it
      queued.erase(queue.front().first + '\n' + queue.front().second);
      queue.pop_front();
      ++done;
    }
    queue.emplace_back(bucket, key);
    ++notified;
    wake.notify_all();
    return true;
  }

  // Indexes what was notified, one key at a time.
  void HandleQueue() {
    while (true) {
      std::pair<std::string, std::string> item;
      {
        std::lock_guard lock(mu);
        if (queue.empty() || stopping) return;
        item = std::move(queue.front());
        queue.pop_front();
        queued.erase(item.first + '\n' + item.second);
      }
      Status s = IndexKey(item.first, item.second);
      std::lock_guard lock(mu);
      if (!s.ok() && s.code() != ErrorCode::kServiceUnavailable) {
        Log().warn("build index: {}/{}: {}", item.first, item.second, s.ToString());
        ++stats.errors;
      }
      ++done;
      idle.notify_all();
    }
  }

  void Run() {
    auto next_crawl = Clock::now();
    bool crawl_again = true;
    while (true) {
      try {
        {
          std::unique_lock lock(mu);
          wake.wait_until(lock, crawl_again ? next_crawl : Clock::time_point::max(),
                          [&] { return stopping || !queue.empty(); });
          if (stopping) return;
        }
        HandleQueue();
        if (crawl_again && Clock::now() >= next_crawl) {
          Status s = Crawl();
          if (s.code() == ErrorCode::kServiceUnavailable) return;
          crawl_again = options.crawl_interval_seconds > 0;
          next_crawl = Clock::now() + std::chrono::seconds(options.crawl_interval_seconds);
        }
      } catch (...) {
        ReportEscapedException(ThreadEntry::kBackground, "build indexer", std::current_exception());
        // A pass that threw is not retried at once (it would throw again at the same log): the
        // next one comes at its time, at least a minute on.
        next_crawl =
            Clock::now() + std::chrono::seconds(std::max(options.crawl_interval_seconds, 60));
        crawl_again = true;
        std::unique_lock lock(mu);
        ++stats.errors;
        // Not a hot loop if the failure repeats: wait a little before trying again.
        wake.wait_for(lock, std::chrono::seconds(5), [&] { return stopping; });
        if (stopping) return;
      }
    }
  }
};

Indexer::Indexer(store::Store& store, BuildIndex& index, IndexerOptions options)
    : impl_(std::make_unique<Impl>(store, index, std::move(options))) {}

Indexer::~Indexer() { Stop(); }

void Indexer::Start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { impl_->Run(); });
}

void Indexer::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->wake.notify_all();
    impl_->idle.notify_all();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Indexer::Notify(const std::string& bucket, const std::string& key) {
  KeyFacts facts = ParseCiKey(key);
  if (IsBuildLog(facts)) {
    impl_->Enqueue(bucket, key);
  } else if (facts.file == "summary.json") {
    impl_->Enqueue(bucket, FolderOf(key) + "fullLog.txt");
  }
}

Status Indexer::IndexKey(const std::string& bucket, const std::string& key) {
  return impl_->IndexKey(bucket, key);
}

Status Indexer::Crawl() { return impl_->Crawl(); }

bool Indexer::WaitIdle(int timeout_ms, bool crawled) {
  std::unique_lock lock(impl_->mu);
  uint64_t target = impl_->notified;
  return impl_->idle.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return impl_->stopping || (impl_->done >= target && (!crawled || impl_->stats.crawls > 0));
  });
}

IndexerStats Indexer::stats() const {
  std::lock_guard lock(impl_->mu);
  IndexerStats s = impl_->stats;
  s.queued = impl_->queue.size();
  return s;
}

}  // namespace logbucket::builds
