#include "s3/janitor.h"

#include <algorithm>

#include "common/guard.h"
#include "common/log.h"
#include "lifecycle/lifecycle.h"

namespace logbucket::s3 {
namespace {

std::vector<lifecycle::Tag> TagsOf(const store::ObjectInfo& info) {
  return lifecycle::ParseTagSet(FindHeader(info.headers, "x-amz-tagging").value_or(""));
}

// When an upload started `initiated_ms` is due for abortion under `days`.
int64_t AbortTime(int64_t initiated_ms, int days, int64_t day_ms) {
  int64_t at = initiated_ms + static_cast<int64_t>(days) * day_ms;
  if (day_ms == lifecycle::kDayMs) at = (at / day_ms) * day_ms + day_ms;  // next midnight UTC
  return at;
}

}  // namespace

Janitor::Janitor(store::Store& store, JanitorOptions options) : store_(store), options_(options) {}

Janitor::~Janitor() { Stop(); }

void Janitor::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Janitor::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Janitor::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    // A pass that throws (a stored rule the parser chokes on, an allocation) is reported and
    // tried again at the next interval, like a pass that failed.
    RunGuarded(ThreadEntry::kJanitor, "a lifecycle pass", [this] {
      auto pass = RunOnce();
      if (!pass) {
        Log().warn("lifecycle: pass failed: {}", pass.error().message());
      } else if (pass->expired > 0 || pass->aborted > 0) {
        Log().info("lifecycle: expired {} objects, aborted {} uploads in {} buckets", pass->expired,
                   pass->aborted, pass->buckets);
      }
    });
    lock.lock();
    // Wait in slices of at most a second: glibc 2.36 can lose a condition-variable wakeup
    // (sourceware bug 25847, see docs/decisions.md), and Stop() must never wait an interval.
    auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.interval_ms);
    while (!stop_) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next) break;
      cv_.wait_for(
          lock, std::min<std::chrono::steady_clock::duration>(next - now, std::chrono::seconds(1)));
    }
  }
}

Result<Janitor::Pass> Janitor::RunOnce() {
  Pass pass;
  auto buckets = store_.ListBuckets();
  if (!buckets) return buckets.error();
  for (const store::Bucket& bucket : *buckets) {
    if (bucket.lifecycle.empty()) continue;
    auto config = lifecycle::Parse(bucket.lifecycle);
    if (!config) {
      Log().error("lifecycle: bucket {}: stored configuration does not parse: {}", bucket.name,
                  config.error().message());
      continue;
    }
    ++pass.buckets;
    const int64_t now = Now();

    // Expiration: every object that could have expired is older than the shortest "Days"
    // rule (or any object at all once a "Date" rule has passed). Scan those oldest first.
    std::optional<int64_t> modified_before;
    for (const lifecycle::Rule& r : config->rules) {
      if (!r.enabled) continue;
      std::optional<int64_t> bound;
      if (r.expiration_days)
        bound = now - static_cast<int64_t>(*r.expiration_days) * options_.day_ms;
      if (r.expiration_date_ms && *r.expiration_date_ms <= now) bound = now + 1;
      if (bound) modified_before = std::max(modified_before.value_or(bound.value()), *bound);
    }
    if (modified_before) {
      store::AgeCursor cursor;
      while (true) {
        auto batch = store_.ListObjectsByAge(bucket.name, *modified_before, cursor, options_.batch);
        if (!batch) {
          if (batch.error().code() == ErrorCode::kNoSuchBucket) break;
          return batch.error();
        }
        if (batch->empty()) break;
        std::vector<store::ObjectVersion> expired;
        for (const store::ObjectInfo& o : *batch) {
          auto e = lifecycle::ObjectExpiry(*config, o.key, o.size, TagsOf(o), o.last_modified_ms,
                                           options_.day_ms);
          if (e && e->at_ms <= now) expired.push_back({o.key, o.etag, o.last_modified_ms});
        }
        cursor = {batch->back().last_modified_ms, batch->back().key};
        if (!expired.empty()) {
          auto deleted = store_.DeleteObjectsIfUnchanged(bucket.name, expired);
          if (!deleted) return deleted.error();
          pass.expired += *deleted;
        }
        if (static_cast<int>(batch->size()) < options_.batch) break;
      }
    }

    // Stale multipart uploads.
    for (const lifecycle::Rule& r : config->rules) {
      if (!r.enabled || !r.abort_incomplete_days) continue;
      store::ListUploadsOptions list;
      list.prefix = r.filter.prefix;
      list.max_uploads = options_.batch;
      while (true) {
        auto uploads = store_.ListUploads(bucket.name, list);
        if (!uploads) break;
        for (const store::Upload& u : uploads->uploads) {
          if (AbortTime(u.initiated_ms, *r.abort_incomplete_days, options_.day_ms) > now) continue;
          Status s = store_.AbortUpload(u);
          if (s.ok()) ++pass.aborted;
        }
        if (!uploads->truncated) break;
        list.key_marker = uploads->next_key_marker;
        list.upload_id_marker = uploads->next_upload_id_marker;
      }
    }
  }
  return pass;
}

}  // namespace logbucket::s3
