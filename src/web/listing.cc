#include "web/listing.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "common/clock.h"

namespace logbucket::web {
namespace {

constexpr size_t kMaxLookups = 100000;          // cached dates and verdicts
constexpr uint64_t kMaxSummaryBytes = 4 << 20;  // a summary.json read for its verdict

bool AllDigits(std::string_view s) {
  return !s.empty() && s.size() < 19 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool AllHex(std::string_view s) {
  return s.size() >= 7 && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The folder names of `prefix` ("a/b/c/" → a, b, c).
std::vector<std::string_view> Parts(std::string_view prefix) {
  std::vector<std::string_view> parts;
  while (!prefix.empty()) {
    size_t slash = prefix.find('/');
    if (slash == std::string_view::npos) break;
    parts.push_back(prefix.substr(0, slash));
    prefix.remove_prefix(slash + 1);
  }
  return parts;
}

int FileRank(const std::string& name) {
  if (name == "fullLog.txt") return 0;
  if (name == "pretty.html") return 1;
  if (name == "summary.json") return 2;
  return 3;
}

// A cache key: the parts, each ended by a NUL (which no bucket, key or filter holds).
std::string Key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view part : parts) {
    key.append(part);
    key.push_back('\0');
  }
  return key;
}

}  // namespace

bool IsCommitName(std::string_view folder_name) {
  if (folder_name.ends_with('/')) folder_name.remove_suffix(1);
  return folder_name == "latest" || AllHex(folder_name);
}

bool IsPrFolder(std::string_view prefix) { return Parts(prefix).size() == 3; }

bool IsCommitFolder(std::string_view prefix) {
  auto parts = Parts(prefix);
  return parts.size() == 4 && IsCommitName(parts[3]);
}

void SortForReading(std::vector<Child>& children) {
  // Decorated once: a comparator that parsed numbers would do it n log n times.
  struct Keyed {
    int group;
    int64_t number;  // PRs
    int rank;        // files
    size_t index;
  };
  std::vector<Keyed> keys(children.size());
  for (size_t i = 0; i < children.size(); ++i) {
    const Child& c = children[i];
    std::string_view name(c.name);
    Keyed& k = keys[i];
    k.index = i;
    k.number = 0;
    k.rank = 0;
    if (!c.folder) {
      k.group = 3;
      k.rank = FileRank(c.name);
    } else if (name == "latest/") {
      k.group = 0;
    } else if (AllDigits(name.substr(0, name.size() - 1))) {
      k.group = 1;
      k.number = std::stoll(c.name);
    } else {
      k.group = 2;
    }
  }
  std::stable_sort(keys.begin(), keys.end(), [&](const Keyed& a, const Keyed& b) {
    if (a.group != b.group) return a.group < b.group;
    if (a.group == 1) return a.number > b.number;
    if (a.group == 3) {
      if (a.rank != b.rank) return a.rank < b.rank;
      return children[a.index].modified_ms > children[b.index].modified_ms;
    }
    return false;  // names: S3's order is already by name
  });
  std::vector<Child> sorted;
  sorted.reserve(children.size());
  for (const Keyed& k : keys) sorted.push_back(std::move(children[k.index]));
  children = std::move(sorted);
}

ListingCache::ListingCache(store::Store& store, ListingOptions options)
    : store_(store), options_(options) {}

ListingCache::~ListingCache() {
  {
    std::lock_guard lock(mu_);
    refresh_stop_ = true;
    refresh_queue_.clear();
  }
  refresh_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

ListingCache::Use ListingCache::UseCached(int64_t age_ms) const {
  if (age_ms < options_.ttl_ms) return Use::kFresh;
  if (age_ms < options_.stale_ms) return Use::kStale;
  return Use::kNo;
}

void ListingCache::QueueRefresh(const std::string& id, std::function<void()> refresh) {
  if (refresh_stop_ || refresh_pending_.count(id) != 0 ||
      refresh_queue_.size() >= options_.max_pending_refreshes) {
    return;
  }
  if (!refresher_.joinable()) {
    try {
      refresher_ = std::thread([this] { RefreshLoop(); });
    } catch (const std::system_error&) {  // no thread: the next view past stale_ms lists
      return;
    }
  }
  refresh_pending_.insert(id);
  refresh_queue_.emplace_back(id, std::move(refresh));
  refresh_cv_.notify_all();
}

void ListingCache::RefreshLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    refresh_cv_.wait(lock, [&] { return refresh_stop_ || !refresh_queue_.empty(); });
    if (refresh_stop_) return;
    auto [id, refresh] = std::move(refresh_queue_.front());
    refresh_queue_.pop_front();
    lock.unlock();
    try {
      refresh();  // a failure keeps the stale answer; the next view past ttl_ms asks again
    } catch (...) {
    }
    lock.lock();
    refresh_pending_.erase(id);
    refresh_cv_.notify_all();
  }
}

void ListingCache::WaitForRefreshes() {
  std::unique_lock lock(mu_);
  refresh_cv_.wait(lock, [&] { return refresh_stop_ || refresh_pending_.empty(); });
}

Result<std::shared_ptr<const FolderListing>> ListingCache::List(const std::string& bucket,
                                                                const std::string& prefix,
                                                                const std::string& filter) {
  std::string id = Key({bucket, prefix, filter});
  const int64_t now = MonotonicMs();
  {
    std::lock_guard lock(mu_);
    auto it = listings_.find(id);
    Use use = it == listings_.end() ? Use::kNo : UseCached(now - it->second.at_ms);
    if (use != Use::kNo) {
      lru_.remove(id);
      lru_.push_front(id);
      if (use == Use::kStale) {
        QueueRefresh(id, [this, bucket, prefix, filter, id] {
          const int64_t at = MonotonicMs();
          if (auto listing = ListUncached(bucket, prefix, filter)) Remember(id, *listing, at);
        });
      }
      return it->second.listing;
    }
  }
  // Two readers of the same cold folder may both list it; the second result replaces the first.
  auto listing = ListUncached(bucket, prefix, filter);
  if (!listing) return listing.error();
  Remember(id, *listing, now);
  return *listing;
}

void ListingCache::Remember(const std::string& id, std::shared_ptr<const FolderListing> listing,
                            int64_t at) {
  std::lock_guard lock(mu_);
  auto it = listings_.find(id);
  if (it != listings_.end()) {
    cached_children_ -= it->second.listing->children.size();
    lru_.remove(id);
  }
  cached_children_ += listing->children.size();
  listings_[id] = {std::move(listing), at};
  lru_.push_front(id);
  while ((cached_children_ > options_.max_cached_children ||
          listings_.size() > options_.max_cached_listings) &&
         lru_.size() > 1) {
    auto victim = listings_.find(lru_.back());
    cached_children_ -= victim->second.listing->children.size();
    listings_.erase(victim);
    lru_.pop_back();
  }
}

Result<std::shared_ptr<const FolderListing>> ListingCache::ListUncached(const std::string& bucket,
                                                                        const std::string& prefix,
                                                                        const std::string& filter) {
  auto out = std::make_shared<FolderListing>();
  store::ListOptions list;
  list.prefix = prefix + filter;
  list.delimiter.push_back('/');  // (= "/" trips GCC 12's -Wrestrict here)
  list.max_keys = 1000;
  while (true) {
    auto page = store_.ListObjects(bucket, list);
    if (!page) return page.error();
    for (const auto& p : page->common_prefixes) {
      out->children.push_back({p.substr(prefix.size()), true, 0, 0});
    }
    for (const auto& o : page->objects) {
      out->children.push_back({o.key.substr(prefix.size()), false, o.size, o.last_modified_ms});
    }
    if (!page->truncated || page->last_item.empty()) break;
    if (out->children.size() >= options_.max_children) {
      out->complete = false;
      break;
    }
    list.after = page->last_item;
  }
  SortForReading(out->children);
  return std::shared_ptr<const FolderListing>(std::move(out));
}

size_t ListingCache::cached_listings() {
  std::lock_guard lock(mu_);
  return listings_.size();
}

void ListingCache::ForEach(size_t n, const std::function<void(size_t)>& fn) {
  size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, options_.lookup_threads)));
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    try {
      for (size_t i = next++; i < n; i = next++) fn(i);
    } catch (...) {  // (a thread's entry: what it had not done stays unknown, as a failed lookup)
    }
  };
  std::vector<std::thread> pool;
  try {
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  } catch (const std::system_error&) {  // out of threads: this one does the rest
  }
  work();
  for (auto& t : pool) t.join();
}

std::vector<int64_t> ListingCache::LastUploads(const std::string& bucket,
                                               const std::vector<std::string>& prefixes) {
  std::vector<int64_t> out(prefixes.size(), 0);
  ForEach(prefixes.size(), [&](size_t i) { out[i] = LastUpload(bucket, prefixes[i]); });
  return out;
}

int64_t ListingCache::LastUpload(const std::string& bucket, const std::string& prefix) {
  std::string id = Key({bucket, prefix});
  {
    std::lock_guard lock(mu_);
    auto it = dates_.find(id);
    Use use = it == dates_.end() ? Use::kNo : UseCached(MonotonicMs() - it->second.at_ms);
    if (use == Use::kStale) {
      QueueRefresh("date:" + id, [this, bucket, prefix] { LastUploadUncached(bucket, prefix); });
    }
    if (use != Use::kNo) return it->second.date_ms;
  }
  return LastUploadUncached(bucket, prefix);
}

int64_t ListingCache::LastUploadUncached(const std::string& bucket, const std::string& prefix) {
  std::string id = Key({bucket, prefix});
  const int64_t now = MonotonicMs();
  int64_t newest = 0;
  size_t seen = 0;
  store::ListOptions list;
  list.prefix = prefix;
  list.max_keys = 1000;
  while (seen < options_.max_objects_per_date) {
    auto page = store_.ListObjects(bucket, list);
    if (!page) break;  // shown without a date; the next view tries again
    for (const auto& o : page->objects) newest = std::max(newest, o.last_modified_ms);
    seen += page->objects.size();
    if (!page->truncated || page->last_item.empty()) break;
    list.after = page->last_item;
  }
  std::lock_guard lock(mu_);
  if (dates_.size() >= kMaxLookups) dates_.clear();
  dates_[id] = {newest, "", now};
  return newest;
}

std::vector<std::string> ListingCache::CheckVerdicts(
    const std::string& bucket, const std::vector<std::string>& check_prefixes) {
  std::vector<std::string> out(check_prefixes.size());
  ForEach(check_prefixes.size(), [&](size_t i) { out[i] = Verdict(bucket, check_prefixes[i]); });
  return out;
}

std::string ListingCache::Verdict(const std::string& bucket, const std::string& check_prefix) {
  std::string id = Key({bucket, check_prefix});
  {
    std::lock_guard lock(mu_);
    auto it = verdicts_.find(id);
    Use use = it == verdicts_.end() ? Use::kNo : UseCached(MonotonicMs() - it->second.at_ms);
    if (use == Use::kStale) {
      QueueRefresh("verdict:" + id,
                   [this, bucket, check_prefix] { VerdictUncached(bucket, check_prefix); });
    }
    if (use != Use::kNo) return it->second.verdict;
  }
  return VerdictUncached(bucket, check_prefix);
}

std::string ListingCache::VerdictUncached(const std::string& bucket,
                                          const std::string& check_prefix) {
  std::string id = Key({bucket, check_prefix});
  const int64_t now = MonotonicMs();
  std::string verdict;
  // Sized first: a remote store fetches what GetObject opens, and a huge summary.json is no
  // verdict anyway.
  auto head = store_.HeadObject(bucket, check_prefix + "summary.json");
  auto object = head && head->size <= kMaxSummaryBytes
                    ? store_.GetObject(bucket, check_prefix + "summary.json")
                    : Result<store::OpenedObject>(Error(ErrorCode::kNoSuchKey));
  if (object && object->info.size <= kMaxSummaryBytes) {
    std::string text(object->info.size, '\0');
    size_t done = 0;
    while (done < text.size()) {
      auto n = object->body->ReadAt(done, text.data() + done, text.size() - done);
      if (!n || *n == 0) break;
      done += *n;
    }
    if (done == text.size()) {
      auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("verdict") && j["verdict"].is_string()) {
        std::string v = j["verdict"];
        if (v == "failed" || v == "no-errors-found" || v == "broken-builder") verdict = v;
      }
    }
  }
  std::lock_guard lock(mu_);
  if (verdicts_.size() >= kMaxLookups) verdicts_.clear();
  verdicts_[id] = {0, verdict, now};
  return verdict;
}

}  // namespace logbucket::web
