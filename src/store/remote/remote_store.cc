#include "store/remote/remote_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <pugixml.hpp>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/log.h"

namespace logbucket::store {
namespace {

constexpr std::string_view kReadOnly =
    "logbucket serve --store s3://… is read-only: write with logbucket push or any S3 client";

std::string Unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// An S3 error answer as a Status the viewer turns into the right page.
Status ErrorFrom(const s3client::S3Response& r, std::string_view what) {
  std::string detail = std::string(what) + ": the endpoint answered " + r.Summary();
  if (r.status == 404) {
    return Error(r.error_code == "NoSuchBucket" ? ErrorCode::kNoSuchBucket : ErrorCode::kNoSuchKey,
                 detail);
  }
  if (r.status == 403) return Error(ErrorCode::kAccessDenied, detail);
  if (r.status == 412) return Error(ErrorCode::kPreconditionFailed, detail);
  return Error(ErrorCode::kServiceUnavailable, detail);
}

class RemoteStore;

// Objects above the cache cap: each read is a ranged GET.
class RangedBody final : public ObjectBody {
 public:
  RangedBody(RemoteStore& store, ObjectInfo info) : store_(store), info_(std::move(info)) {}
  uint64_t size() const override { return info_.size; }
  Result<size_t> ReadAt(uint64_t offset, char* buffer, size_t size) override;

 private:
  RemoteStore& store_;
  ObjectInfo info_;
};

class RemoteStore final : public Store {
 public:
  explicit RemoteStore(RemoteStoreOptions options)
      : options_(std::move(options)),
        counters_(options_.counters != nullptr ? *options_.counters : own_counters_) {}

  // A client for this thread's request; returned to the pool after (keep-alive reuse).
  class Lease {
   public:
    explicit Lease(RemoteStore& store) : store_(store) {
      std::lock_guard lock(store_.pool_mu_);
      if (!store_.pool_.empty()) {
        client_ = std::move(store_.pool_.back());
        store_.pool_.pop_back();
      }
      if (!client_) client_ = std::make_unique<s3client::Client>(store_.options_.client);
    }
    ~Lease() {
      std::lock_guard lock(store_.pool_mu_);
      if (store_.pool_.size() < 32) store_.pool_.push_back(std::move(client_));
    }
    s3client::Client* operator->() { return client_.get(); }

   private:
    RemoteStore& store_;
    std::unique_ptr<s3client::Client> client_;
  };

  Status Check() {
    Lease c(*this);
    auto r = c->Request("HEAD", options_.bucket, "", "");
    if (!r) {
      return Error(ErrorCode::kServiceUnavailable,
                   "the endpoint cannot be reached: " + r.error().message());
    }
    if (r->ok()) return Status::Ok();
    // Anonymous readers may be allowed ListBucket but not HEAD bucket (or the reverse).
    auto listed = c->Request("GET", options_.bucket, "", "list-type=2&max-keys=1");
    if (!listed) return listed.error();
    if (!listed->ok()) return ErrorFrom(*listed, "s3://" + options_.bucket);
    return Status::Ok();
  }

  Status PrepareCache() {
    LB_RETURN_IF_ERROR(fs_.MakeDirs(options_.cache_dir, 0700));
    auto names = fs_.ListDir(options_.cache_dir);
    if (!names) return names.error();
    for (const auto& name : *names) {
      if (name.starts_with("tmp.")) (void)fs_.Remove(options_.cache_dir + "/" + name);
    }
    // A cache left by an earlier run is trimmed to this run's cap (it may have been lowered),
    // and the size gauge starts true.
    Evict("");
    return Status::Ok();
  }

  Result<std::vector<Bucket>> ListBuckets() override {
    auto b = GetBucket(options_.bucket);
    if (!b) return b.error();
    return std::vector<Bucket>{*b};
  }

  Result<Bucket> GetBucket(const std::string& name) override {
    if (name != options_.bucket) {
      return Error(ErrorCode::kNoSuchBucket, "this viewer serves only s3://" + options_.bucket);
    }
    Bucket b;
    b.name = name;
    b.region = options_.client.region;
    return b;
  }

  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key) override {
    if (bucket != options_.bucket) return Error(ErrorCode::kNoSuchBucket, "no such bucket");
    int64_t now = SystemClock::Instance().NowMs();
    {
      std::lock_guard lock(metadata_mu_);
      auto it = metadata_.find(key);
      if (it != metadata_.end() && now - it->second.fetched_ms < options_.metadata_ttl_ms) {
        return it->second.info;
      }
    }
    auto info = FetchHead(bucket, key);
    if (info && options_.metadata_ttl_ms > 0) {
      std::lock_guard lock(metadata_mu_);
      if (metadata_.size() >= 4096) metadata_.clear();  // bounded; entries live seconds anyway
      metadata_[key] = {*info, now};
    }
    return info;
  }

  Result<ObjectInfo> FetchHead(const std::string& bucket, const std::string& key) {
    Lease c(*this);
    auto r = c->Request("HEAD", bucket, key, "");
    if (!r) return r.error();
    if (!r->ok()) return ErrorFrom(*r, key);
    ObjectInfo info;
    info.bucket = bucket;
    info.key = key;
    info.etag = Unquote(FindHeader(r->headers, "etag").value_or(""));
    info.size = ParseDecimal(FindHeader(r->headers, "content-length").value_or("")).value_or(0);
    info.last_modified_ms =
        ParseHttpDate(FindHeader(r->headers, "last-modified").value_or("")).value_or(0);
    for (const auto& h : r->headers) {
      if (h.name == "content-type" || h.name == "content-disposition" ||
          h.name == "content-encoding" || h.name == "cache-control" ||
          h.name == "content-language" || h.name == "expires" ||
          h.name.starts_with("x-amz-meta-")) {
        info.headers.push_back(h);
      }
    }
    if (auto parts = FindHeader(r->headers, "x-amz-mp-parts-count")) {
      info.parts_count = static_cast<int>(ParseDecimal(*parts).value_or(0));
    }
    return info;
  }

  Result<OpenedObject> GetObject(const std::string& bucket, const std::string& key) override {
    // A second try only: an object rewritten faster than we can read it is an error, not a loop.
    for (int attempt = 1;; ++attempt) {
      auto info = HeadObject(bucket, key);
      if (!info) return info.error();
      OpenedObject opened;
      opened.info = *info;
      if (info->size > options_.cache_max_bytes || info->etag.empty()) {
        opened.body = std::make_unique<RangedBody>(*this, *info);
        return opened;
      }
      auto fd = Cached(*info);
      if (!fd && fd.error().code() == ErrorCode::kPreconditionFailed && attempt == 1) {
        // Overwritten since the (reused) HEAD: forget it and read the new version.
        std::lock_guard lock(metadata_mu_);
        metadata_.erase(key);
        continue;
      }
      if (!fd) return fd.error();
      opened.body =
          std::make_unique<platform::FileBytes>(std::move(*fd), info->size, "cached object");
      return opened;
    }
  }

  Result<OpenedObject> GetObjectForScan(const std::string& bucket,
                                        const std::string& key) override {
    auto info = HeadObject(bucket, key);
    if (!info) return info.error();
    OpenedObject opened;
    opened.info = *info;
    opened.body = std::make_unique<RangedBody>(*this, *info);
    return opened;
  }

  Result<BucketUsage> GetBucketUsage(const std::string&) override {
    return Error(ErrorCode::kNotImplemented, "bucket usage over a remote store");
  }
  Result<ListResult> ListObjects(const std::string& bucket, const ListOptions& o) override {
    if (bucket != options_.bucket) return Error(ErrorCode::kNoSuchBucket, "no such bucket");
    std::string query = "list-type=2&max-keys=" +
                        std::to_string(std::clamp(o.max_keys, 1, options_.list_page_keys));
    if (!o.prefix.empty()) query += "&prefix=" + UriEncode(o.prefix, false);
    if (!o.delimiter.empty()) query += "&delimiter=" + UriEncode(o.delimiter, false);
    if (!o.after.empty()) {
      // `after` may be a common prefix ("a/"): everything under it was already returned, so
      // start after the largest key it can hold.
      std::string start = o.after;
      if (!o.delimiter.empty() && start.ends_with(o.delimiter)) start += "\xf4\x8f\xbf\xbf";
      query += "&start-after=" + UriEncode(start, false);
    }
    Lease c(*this);
    auto r = c->Request("GET", bucket, "", query);
    if (!r) return r.error();
    if (!r->ok()) return ErrorFrom(*r, "listing s3://" + bucket);
    pugi::xml_document doc;
    if (!doc.load_buffer(r->body.data(), r->body.size())) {
      return Error(ErrorCode::kServiceUnavailable, "the endpoint's listing is not XML");
    }
    pugi::xml_node root = doc.child("ListBucketResult");
    ListResult out;
    for (pugi::xml_node n : root.children("Contents")) {
      ObjectInfo info;
      info.bucket = bucket;
      info.key = n.child_value("Key");
      info.size = ParseDecimal(n.child_value("Size")).value_or(0);
      info.etag = Unquote(n.child_value("ETag"));
      info.last_modified_ms = ParseIso8601(n.child_value("LastModified")).value_or(0);
      out.last_item = std::max(out.last_item, info.key);
      out.objects.push_back(std::move(info));
    }
    for (pugi::xml_node n : root.children("CommonPrefixes")) {
      std::string p = n.child_value("Prefix");
      out.last_item = std::max(out.last_item, p);
      out.common_prefixes.push_back(std::move(p));
    }
    out.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
    return out;
  }

  // --- read-only -------------------------------------------------------------------------
  Status ReadOnly() const { return Error(ErrorCode::kNotImplemented, std::string(kReadOnly)); }
  Status CreateBucket(const Bucket&) override { return ReadOnly(); }
  Status DeleteBucket(const std::string&) override { return ReadOnly(); }
  Status SetBucketDocument(const std::string&, BucketDocument, const std::string&) override {
    return ReadOnly();
  }
  Result<std::unique_ptr<BlobWriter>> NewBlob() override { return ReadOnly(); }
  Result<ObjectInfo> PutObject(ObjectInfo, std::unique_ptr<BlobWriter>,
                               const Precondition&) override {
    return ReadOnly();
  }
  Status DeleteObject(const std::string&, const std::string&, const Precondition&) override {
    return ReadOnly();
  }
  Result<std::vector<Status>> DeleteObjects(const std::string&, const std::vector<std::string>&,
                                            const std::vector<Precondition>&) override {
    return ReadOnly();
  }
  Status UpdateObjectHeaders(const std::string&, const std::string&, const Headers&) override {
    return ReadOnly();
  }
  Result<std::vector<ObjectInfo>> ListObjectsByAge(const std::string&, int64_t, const AgeCursor&,
                                                   int) override {
    return ReadOnly();
  }
  Result<int> DeleteObjectsIfUnchanged(const std::string&,
                                       const std::vector<ObjectVersion>&) override {
    return ReadOnly();
  }
  Result<Upload> CreateUpload(Upload) override { return ReadOnly(); }
  Result<Upload> GetUpload(const std::string&, const std::string&, const std::string&) override {
    return ReadOnly();
  }
  Result<Part> PutPart(const Upload&, Part, std::unique_ptr<BlobWriter>) override {
    return ReadOnly();
  }
  Result<ListPartsResult> ListParts(const Upload&, int, int) override { return ReadOnly(); }
  Result<ObjectInfo> CompleteUpload(const Upload&, const std::vector<CompletedPart>&, uint64_t,
                                    const Precondition&, const std::string&) override {
    return ReadOnly();
  }
  Status AbortUpload(const Upload&) override { return ReadOnly(); }
  Result<ListUploadsResult> ListUploads(const std::string&, const ListUploadsOptions&) override {
    return ReadOnly();
  }

  Result<size_t> ReadRange(const ObjectInfo& info, uint64_t offset, char* buffer, size_t size) {
    if (offset >= info.size || size == 0) return size_t{0};
    uint64_t last = std::min<uint64_t>(info.size, offset + size) - 1;
    counters_.ranged_reads.fetch_add(1, std::memory_order_relaxed);
    Lease c(*this);
    Headers h = {{"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(last)}};
    if (!info.etag.empty()) h.push_back({"if-match", "\"" + info.etag + "\""});
    auto r = c->Request("GET", info.bucket, info.key, "", {}, h);
    if (!r) return r.error();
    if (!r->ok()) return ErrorFrom(*r, info.key);
    size_t n = std::min(r->body.size(), size);
    std::memcpy(buffer, r->body.data(), n);
    return n;
  }

 private:
  // The cached copy of this exact version, downloading it first when missing. One download per
  // version at a time: readers that arrive while it is being fetched (a PR link opened by several
  // people at once) wait for it instead of fetching it again.
  Result<std::shared_ptr<const platform::ScopedFd>> Cached(const ObjectInfo& info) {
    std::string path = options_.cache_dir + "/" +
                       HexEncode(Sha256(info.bucket + '\0' + info.key + '\0' + info.etag)) + ".obj";
    if (auto fd = OpenCached(path)) return fd;
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard lock(flights_mu_);
      std::shared_ptr<Flight>& slot = flights_[path];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (!leader) {
      std::unique_lock lock(flight->mu);
      // In slices, with notify_all: glibc 2.36's lost wake-up (docs/decisions.md).
      while (!flight->done) flight->done_cv.wait_for(lock, std::chrono::milliseconds(100));
      if (!flight->status.ok()) return flight->status;
      lock.unlock();
      if (auto fd = OpenCached(path)) return fd;
      return DownloadWithRetries(info, path);  // evicted in the meantime: fetch it ourselves
    }
    auto result = DownloadWithRetries(info, path);
    {
      std::lock_guard lock(flights_mu_);
      flights_.erase(path);
    }
    {
      std::lock_guard lock(flight->mu);
      flight->done = true;
      flight->status = result ? Status::Ok() : result.error();
    }
    flight->done_cv.notify_all();
    return result;
  }

  std::shared_ptr<const platform::ScopedFd> OpenCached(const std::string& path) {
    auto fd = fs_.OpenForRead(path);
    if (!fd) return nullptr;
    ::futimens(fd->get(), nullptr);  // recently used: evicted last
    counters_.cache_hits.fetch_add(1, std::memory_order_relaxed);
    return std::make_shared<const platform::ScopedFd>(std::move(*fd));
  }

  Result<std::shared_ptr<const platform::ScopedFd>> DownloadWithRetries(const ObjectInfo& info,
                                                                        const std::string& path) {
    Status last;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      auto got = Download(info, path);
      if (got) {
        counters_.downloads.fetch_add(1, std::memory_order_relaxed);
        counters_.downloaded_bytes.fetch_add(info.size, std::memory_order_relaxed);
        return got;
      }
      counters_.download_failures.fetch_add(1, std::memory_order_relaxed);
      last = got.error();
      if (last.code() != ErrorCode::kServiceUnavailable) break;
      Log().warn("remote store: download of {} failed (attempt {}): {}", info.key, attempt,
                 last.message());
    }
    return last;
  }

  Result<std::shared_ptr<const platform::ScopedFd>> Download(const ObjectInfo& info,
                                                             const std::string& path) {
    std::string temp = options_.cache_dir + "/tmp." + HexEncode(RandomBytes(8));
    auto out = fs_.NewWritableFile(temp, 0600);
    if (!out) return out.error();
    uint64_t received = 0;
    Lease c(*this);
    auto r = c->RequestToSink("GET", info.bucket, info.key, "",
                              {{"if-match", "\"" + info.etag + "\""}}, [&](std::string_view data) {
                                received += data.size();
                                if (received > info.size) {
                                  return Error(ErrorCode::kServiceUnavailable,
                                               "object larger than its HEAD said");
                                }
                                return (*out)->Append(data);
                              });
    auto fail = [&](Status s) {
      out->reset();
      (void)fs_.Remove(temp);
      return s;
    };
    if (!r) return fail(r.error());
    if (!r->ok()) return fail(ErrorFrom(*r, info.key));
    if (received != info.size) {
      return fail(Error(ErrorCode::kServiceUnavailable,
                        "download of " + info.key + " ended after " + std::to_string(received) +
                            " of " + std::to_string(info.size) + " bytes"));
    }
    // Complete: visible under its final name only now (no fsync: a cache, checked by size).
    // Opened for reading first, so an eviction racing the rename cannot take it from us.
    out->reset();
    auto in = fs_.OpenForRead(temp);
    if (!in) return fail(in.error());
    if (Status renamed = fs_.Rename(temp, path); !renamed.ok()) return fail(renamed);
    Evict(path);
    return std::make_shared<const platform::ScopedFd>(std::move(*in));
  }

  // Least recently used first until the cache fits its cap; `keep` (just added) stays.
  void Evict(const std::string& keep) {
    std::lock_guard lock(evict_mu_);
    auto names = fs_.ListDir(options_.cache_dir);
    if (!names) return;
    struct Entry {
      std::string path;
      uint64_t size;
      int64_t used_ns;
    };
    std::vector<Entry> entries;
    uint64_t total = 0;
    for (const auto& name : *names) {
      if (!name.ends_with(".obj")) continue;
      std::string p = options_.cache_dir + "/" + name;
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0) continue;
      entries.push_back({p, static_cast<uint64_t>(st.st_size),
                         st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec});
      total += st.st_size;
    }
    counters_.cached_bytes.store(total, std::memory_order_relaxed);
    if (total <= options_.cache_max_bytes) return;
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.used_ns < b.used_ns; });
    for (const auto& e : entries) {
      if (total <= options_.cache_max_bytes) break;
      if (e.path == keep) continue;
      // Readers holding it open keep their copy (unlinked files live until closed).
      if (fs_.Remove(e.path).ok()) {
        total -= e.size;
        counters_.evictions.fetch_add(1, std::memory_order_relaxed);
        counters_.evicted_bytes.fetch_add(e.size, std::memory_order_relaxed);
        counters_.cached_bytes.store(total, std::memory_order_relaxed);
        Log().info("remote store: evicted {} bytes from the cache", e.size);
      }
    }
  }

  struct CachedHead {
    ObjectInfo info;
    int64_t fetched_ms = 0;
  };
  RemoteStoreOptions options_;
  platform::FileSystem& fs_ = *options_.fs;  // the cache directory's files
  RemoteStoreCounters own_counters_;         // when the options name none
  RemoteStoreCounters& counters_;
  struct Flight {  // a download in progress, for readers that wait for it
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    Status status;
  };
  std::mutex flights_mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // by cache file path
  std::mutex metadata_mu_;
  std::unordered_map<std::string, CachedHead> metadata_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<s3client::Client>> pool_;
  std::mutex evict_mu_;
};

Result<size_t> RangedBody::ReadAt(uint64_t offset, char* buffer, size_t size) {
  return store_.ReadRange(info_, offset, buffer, std::min<size_t>(size, 8 << 20));
}

}  // namespace

Result<std::string> ParseS3Url(const std::string& url) {
  if (!url.starts_with("s3://")) {
    return Error(ErrorCode::kInvalidArgument, "'" + url + "' is not an s3://BUCKET URL");
  }
  std::string bucket = url.substr(5);
  while (!bucket.empty() && bucket.back() == '/') bucket.pop_back();
  if (bucket.empty() || bucket.find('/') != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + url + "': give the bucket only, s3://BUCKET (no key prefix)");
  }
  return bucket;
}

Result<std::unique_ptr<Store>> OpenRemoteStore(const RemoteStoreOptions& options) {
  auto store = std::make_unique<RemoteStore>(options);
  LB_RETURN_IF_ERROR(store->PrepareCache());
  LB_RETURN_IF_ERROR(store->Check());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace logbucket::store
