// Internal to store/local: the caches in front of SQLite and the file system (metadata rows and
// inline bodies by key, open blob descriptors), and the effects a committed write has on them.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/file_util.h"
#include "store/local/rows.h"
#include "store/store.h"

namespace logbucket::store {

// Open descriptors of recently read blobs, so a hot GET costs no open()/close(). Blobs are
// immutable and their ids never reused, so a cached descriptor always has the right bytes; the
// committer drops a blob's entry when it unlinks the file, so no space stays pinned (a reader
// still holding it keeps the old bytes alive, as an open file always does).
class OpenBlobCache {
 public:
  static constexpr size_t kMaxOpen = 512;

  std::shared_ptr<const platform::ScopedFd> Find(const std::string& id) {
    std::shared_lock lock(mu_);
    auto it = fds_.find(id);
    return it == fds_.end() ? nullptr : it->second;
  }
  // Inserts unless `still_current` says a write happened since the blob id was looked up (the
  // committer bumps that generation before it erases and unlinks, so checking under our lock
  // means a late reader can never re-insert a descriptor of an unlinked blob).
  template <typename StillCurrent>
  void InsertIf(const std::string& id, std::shared_ptr<const platform::ScopedFd> fd,
                StillCurrent&& still_current) {
    std::unique_lock lock(mu_);
    if (!still_current()) return;
    if (fds_.size() >= kMaxOpen) fds_.clear();  // crude bound; reopening is cheap
    fds_.emplace(id, std::move(fd));
  }
  void Erase(const std::string& id) {
    std::unique_lock lock(mu_);
    fds_.erase(id);
  }

 private:
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const platform::ScopedFd>> fds_;
};

// What a committed write changes outside SQLite: blobs no row references any more, and cached
// rows that are now stale. Applied only after COMMIT (invalidating earlier would let a reader
// re-cache the old row between the invalidation and the commit).
struct Effects {
  std::vector<std::string> unlink;
  std::vector<std::pair<std::string, std::string>> objects;  // (bucket, key)
  std::vector<std::string> buckets;
};

// Read-through cache of bucket and object rows, so the GET path costs no SQLite read
// transaction (and no file lock) when warm. Only the serving process writes buckets and
// objects (the data dir is locked; admin commands touch only users), so every change passes
// through Invalidate. A reader records the generation before reading SQLite and inserts only if
// no invalidation happened meanwhile, so it can never re-insert a row older than a write.
class MetadataCache {
 public:
  struct CachedObject {
    ObjectInfo info;
    BodyRef body;
    std::shared_ptr<const std::string> data;  // an inline body's bytes, when cached
  };
  static constexpr size_t kMaxEntries = 200000;
  // Inline bodies kept beside their rows; past this, rows are cached without their bytes.
  static constexpr size_t kMaxDataBytes = 64 << 20;

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  std::optional<CachedObject> FindObject(const std::string& bucket, const std::string& key) {
    std::shared_lock lock(mu_);
    auto it = objects_.find(Key(bucket, key));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  void InsertObject(uint64_t seen_generation, CachedObject object) {
    std::unique_lock lock(mu_);
    if (generation_.load() != seen_generation) return;
    if (objects_.size() >= kMaxEntries) {  // crude bound; rows are cheap to reload
      objects_.clear();
      data_bytes_ = 0;
    }
    CachedObject& slot = objects_[Key(object.info.bucket, object.info.key)];
    if (slot.data) data_bytes_ -= slot.data->size();
    if (object.data && data_bytes_ + object.data->size() > kMaxDataBytes) object.data = nullptr;
    if (object.data) data_bytes_ += object.data->size();
    slot = std::move(object);
  }
  std::optional<Bucket> FindBucket(const std::string& name) {
    std::shared_lock lock(mu_);
    auto it = buckets_.find(name);
    if (it == buckets_.end()) return std::nullopt;
    return it->second;
  }
  void InsertBucket(uint64_t seen_generation, Bucket bucket) {
    std::unique_lock lock(mu_);
    if (generation_.load() != seen_generation) return;
    buckets_[bucket.name] = std::move(bucket);
  }
  void Invalidate(const Effects& effects) {
    if (effects.objects.empty() && effects.buckets.empty()) return;
    std::unique_lock lock(mu_);
    for (const auto& [bucket, key] : effects.objects) {
      auto it = objects_.find(Key(bucket, key));
      if (it == objects_.end()) continue;
      if (it->second.data) data_bytes_ -= it->second.data->size();
      objects_.erase(it);
    }
    for (const std::string& b : effects.buckets) buckets_.erase(b);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  void InvalidateObject(const std::string& bucket, const std::string& key) {
    Effects e;
    e.objects.emplace_back(bucket, key);
    Invalidate(e);
  }

 private:
  static std::string Key(const std::string& bucket, const std::string& key) {
    std::string k;
    k.reserve(bucket.size() + key.size() + 1);
    k.append(bucket).push_back('\0');
    k.append(key);
    return k;
  }
  std::shared_mutex mu_;
  std::atomic<uint64_t> generation_{0};
  std::unordered_map<std::string, CachedObject> objects_;
  size_t data_bytes_ = 0;  // sum of the cached inline bodies
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace logbucket::store
