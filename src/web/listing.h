// Folder listings for readers: every child of a folder, in the order a PR author looks for
// them (newest PRs first across pages, not S3's lexicographic order one page at a time), with
// the time of the last upload under each folder and a check's verdict. S3 has no "sort by" and
// no folder dates, so a folder is listed whole (pages of 1,000 through the Store, embedded or
// remote) and kept for `ttl_ms`; the dates and verdicts of the folders on the page are looked up
// (in parallel, cached the same way). One cache per viewer; many viewers over one bucket each
// keep their own (stateless frontends).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace logbucket::web {

struct Child {
  std::string name;  // relative to the folder; a folder's ends in '/'
  bool folder = false;
  uint64_t size = 0;
  int64_t modified_ms = 0;  // files: the object's; folders: filled in by LastUploads
};

struct FolderListing {
  std::vector<Child> children;  // in reading order (SortForReading)
  bool complete = true;         // false: cut at ListingOptions::max_children
};

// The order of a folder's children for a reader:
//   - folders: "latest/" first, then pull requests (all-digit names) by number, highest first,
//     then the other folders (branches, checks) by name;
//   - files after folders: the check's own files first (fullLog.txt, pretty.html,
//     summary.json), then the newest first.
// Commit folders (hex names) are put in upload order by the caller, which has their dates.
void SortForReading(std::vector<Child>& children);

// Whether `prefix` is a PR or branch folder (<org>/<repo>/<pr>/) or a commit folder
// (<org>/<repo>/<pr>/<sha|latest>/) in the CI layout.
bool IsPrFolder(std::string_view prefix);
bool IsCommitFolder(std::string_view prefix);
bool IsCommitName(std::string_view folder_name);  // "0c5c7fd…/" or "latest/"

struct ListingOptions {
  int64_t ttl_ms = 15000;  // how long a listing, a date or a verdict is reused
  // Past ttl_ms and up to stale_ms, it is still answered at once while one refresh runs in the
  // background: over a remote store a 20,000-PR folder takes seconds to list, and without this
  // the first reader after every ttl_ms would wait for it. 0: refresh in the request.
  int64_t stale_ms = 600000;
  size_t max_pending_refreshes = 256;    // background refreshes queued (more: the next view asks)
  size_t max_children = 100000;          // a bigger folder lists its first ones (S3 order) only
  size_t max_cached_children = 1000000;  // across all cached listings (~60 bytes each)
  size_t max_cached_listings = 1024;     // each ?filter= is one: bounded even when empty
  int lookup_threads = 8;                // dates and verdicts looked up at once (remote stores)
  size_t max_objects_per_date = 10000;   // a folder's date is the newest of its first ones
};

class ListingCache {
 public:
  ListingCache(store::Store& store, ListingOptions options);
  ~ListingCache();  // waits for a refresh that is running

  // The children of bucket/prefix whose names start with `filter`, in reading order.
  Result<std::shared_ptr<const FolderListing>> List(const std::string& bucket,
                                                    const std::string& prefix,
                                                    const std::string& filter);
  // The last upload under each of `prefixes` (ms since the epoch; 0 when unknown or empty).
  std::vector<int64_t> LastUploads(const std::string& bucket,
                                   const std::vector<std::string>& prefixes);
  // The verdict in each check folder's summary.json ("failed", "no-errors-found",
  // "broken-builder"), or "" when it has none.
  std::vector<std::string> CheckVerdicts(const std::string& bucket,
                                         const std::vector<std::string>& check_prefixes);
  size_t cached_listings();
  // Waits until no background refresh is queued or running (tests).
  void WaitForRefreshes();

 private:
  struct Cached {
    std::shared_ptr<const FolderListing> listing;
    int64_t at_ms = 0;
  };
  struct Looked {
    int64_t date_ms = 0;
    std::string verdict;
    int64_t at_ms = 0;
  };
  Result<std::shared_ptr<const FolderListing>> ListUncached(const std::string& bucket,
                                                            const std::string& prefix,
                                                            const std::string& filter);
  void Remember(const std::string& id, std::shared_ptr<const FolderListing> listing, int64_t at);
  int64_t LastUpload(const std::string& bucket, const std::string& prefix);
  int64_t LastUploadUncached(const std::string& bucket, const std::string& prefix);
  std::string Verdict(const std::string& bucket, const std::string& check_prefix);
  std::string VerdictUncached(const std::string& bucket, const std::string& check_prefix);
  // Whether a cached answer of age `age_ms` is used as it is (fresh, or stale with a refresh
  // of `id` queued by `refresh`). mu_ held.
  enum class Use { kFresh, kStale, kNo };
  Use UseCached(int64_t age_ms) const;
  void QueueRefresh(const std::string& id, std::function<void()> refresh);  // mu_ held
  void RefreshLoop();
  // Runs fn(i) for i in [0, n), on up to lookup_threads threads.
  void ForEach(size_t n, const std::function<void(size_t)>& fn);

  store::Store& store_;
  ListingOptions options_;
  std::mutex mu_;
  std::map<std::string, Cached> listings_;  // bucket \0 prefix \0 filter
  std::list<std::string> lru_;              // most recent first
  size_t cached_children_ = 0;
  std::map<std::string, Looked> dates_;     // bucket \0 prefix
  std::map<std::string, Looked> verdicts_;  // bucket \0 check prefix

  // Background refreshes: one thread, started with the first one, in queue order.
  std::condition_variable refresh_cv_;
  std::deque<std::pair<std::string, std::function<void()>>> refresh_queue_;
  std::set<std::string> refresh_pending_;  // ids queued or running (one refresh each)
  bool refresh_stop_ = false;
  std::thread refresher_;
};

}  // namespace logbucket::web
