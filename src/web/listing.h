// Folder listings for readers: every child of a folder, in the order a PR author looks for
// them (newest PRs first across pages, not S3's lexicographic order one page at a time), with
// the time of the last upload under each folder and a check's verdict. S3 has no "sort by" and
// no folder dates, so a folder is listed whole (pages of 1,000 through the Store, embedded or
// remote) and kept for `ttl_ms`; the dates and verdicts of the folders on the page are looked up
// (in parallel, cached the same way). One cache per viewer; many viewers over one bucket each
// keep their own (stateless frontends).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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
  int64_t ttl_ms = 15000;                // how long a listing, a date or a verdict is reused
  size_t max_children = 100000;          // a bigger folder lists its first ones (S3 order) only
  size_t max_cached_children = 1000000;  // across all cached listings (~60 bytes each)
  size_t max_cached_listings = 1024;     // each ?filter= is one: bounded even when empty
  int lookup_threads = 8;                // dates and verdicts looked up at once (remote stores)
  size_t max_objects_per_date = 10000;   // a folder's date is the newest of its first ones
};

class ListingCache {
 public:
  ListingCache(store::Store& store, ListingOptions options);

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
  int64_t LastUpload(const std::string& bucket, const std::string& prefix);
  std::string Verdict(const std::string& bucket, const std::string& check_prefix);
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
};

}  // namespace logbucket::web
