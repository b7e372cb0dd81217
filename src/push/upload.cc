#include "push/upload.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <pugixml.hpp>
#include <regex>
#include <thread>
#include <unordered_set>

#include "common/encoding.h"
#include "logs/ansi.h"
#include "platform/file_util.h"

namespace logbucket::push {

Status CheckResponse(const Result<s3client::S3Response>& r, const std::string& what) {
  if (!r) return Error(r.error().code(), what + ": " + r.error().message());
  if (!r->ok()) return Error(ErrorCode::kServiceUnavailable, what + ": " + r->Summary());
  return Status::Ok();
}

Headers ObjectHeaders(const Upload& u) {
  Headers headers = {{"content-type", u.content_type}, {"content-disposition", "inline"}};
  // The viewer titles the page with it ("build/O2/o2", not the folder's "build_O2_o2").
  // S3 metadata is ASCII: a name with anything else is left to the key.
  bool printable = !u.check.empty() && std::all_of(u.check.begin(), u.check.end(),
                                                   [](char c) { return c >= 0x20 && c < 0x7f; });
  if (printable) headers.push_back({"x-amz-meta-check", u.check});
  return headers;
}

Status UploadFile(const s3client::ClientOptions& options, const std::string& bucket,
                  const Upload& u, const UploadOptions& flags, Progress& progress) {
  platform::ScopedFd in(::open(u.file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return platform::PosixError("open", u.file, errno);
  auto length = platform::FileSize(in.get());
  if (!length) return length.error();
  s3client::Client client(options);
  progress.Begin(u.key, *length);
  if (*length < flags.multipart_threshold) {  // small: one PUT
    auto body = platform::ReadFile(u.file, flags.multipart_threshold);
    if (!body) return body.error();
    auto r = client.Request("PUT", bucket, u.key, "", *body, ObjectHeaders(u));
    LB_RETURN_IF_ERROR(CheckResponse(r, "PUT " + u.key));
    progress.Add(u.key, body->size());
    progress.Finish(u.key);
    return Status::Ok();
  }
  auto created = client.Request("POST", bucket, u.key, "uploads", {}, ObjectHeaders(u));
  LB_RETURN_IF_ERROR(CheckResponse(created, "CreateMultipartUpload " + u.key));
  pugi::xml_document doc;
  doc.load_buffer(created->body.data(), created->body.size());
  std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty()) {
    return Error(ErrorCode::kServiceUnavailable,
                 "CreateMultipartUpload " + u.key + ": no UploadId");
  }
  uint64_t part_size = std::max<uint64_t>(flags.part_size, 5ULL << 20);
  int parts = static_cast<int>((*length + part_size - 1) / part_size);
  if (parts > 10000) {
    part_size = (*length + 9999) / 10000;
    parts = static_cast<int>((*length + part_size - 1) / part_size);
  }
  std::vector<std::string> etags(parts);
  std::atomic<int> next{0};
  std::mutex failure_mu;
  Status failure;
  auto worker = [&] {
    s3client::Client c(options);
    std::string buffer;
    while (true) {
      int i = next++;
      if (i >= parts) return;
      {
        std::lock_guard lock(failure_mu);
        if (!failure.ok()) return;
      }
      uint64_t offset = i * part_size;
      buffer.resize(std::min(part_size, *length - offset));
      ssize_t n = ::pread(in.get(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
      Status st;
      if (n != static_cast<ssize_t>(buffer.size())) {
        st = platform::PosixError("read", u.file, n < 0 ? errno : EIO);
      } else {
        auto r = c.Request(
            "PUT", bucket, u.key,
            "partNumber=" + std::to_string(i + 1) + "&uploadId=" + UriEncode(upload_id, false),
            buffer);
        st = CheckResponse(r, "UploadPart " + std::to_string(i + 1) + " of " + u.key);
        if (st.ok()) {
          std::string etag(FindHeader(r->headers, "etag").value_or(""));
          etags[i] = etag;
          progress.Add(u.key, buffer.size());
        }
      }
      if (!st.ok()) {
        std::lock_guard lock(failure_mu);
        if (failure.ok()) failure = st;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::clamp(flags.jobs, 1, 32); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::string query = "uploadId=" + UriEncode(upload_id, false);
  if (!failure.ok()) {
    (void)client.Request("DELETE", bucket, u.key, query);  // nothing half-written stays
    return failure;
  }
  std::string xml = "<CompleteMultipartUpload>";
  for (int i = 0; i < parts; ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] +
           "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  auto done =
      client.Request("POST", bucket, u.key, query, xml, {{"content-type", "application/xml"}});
  Status st = CheckResponse(done, "CompleteMultipartUpload " + u.key);
  // A 200 can still carry an error body (S3 sends it once the response has started).
  if (st.ok() && done->body.find("<Error>") != std::string::npos) {
    st = Error(ErrorCode::kServiceUnavailable,
               "CompleteMultipartUpload " + u.key + ": " + done->body);
  }
  if (!st.ok()) (void)client.Request("DELETE", bucket, u.key, query);
  if (st.ok()) progress.Finish(u.key);
  return st;
}

Status CopyOrUpload(const s3client::ClientOptions& options, const std::string& bucket,
                    const Upload& u, const std::string& source_key, const UploadOptions& flags,
                    Progress& progress) {
  struct stat st {};
  if (::stat(u.file.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > (5ULL << 30)) {
    return UploadFile(options, bucket, u, flags, progress);
  }
  s3client::Client client(options);
  auto r =
      client.Request("PUT", bucket, u.key, "", {},
                     {{"x-amz-copy-source", "/" + bucket + "/" + UriEncode(source_key, true)}});
  LB_RETURN_IF_ERROR(CheckResponse(r, "CopyObject " + source_key + " to " + u.key));
  // Like CompleteMultipartUpload, a copy can fail after its 200 has started.
  if (r->body.find("<Error>") != std::string::npos) {
    return Error(ErrorCode::kServiceUnavailable, "CopyObject to " + u.key + ": " + r->body);
  }
  return Status::Ok();
}

Status UploadAll(const s3client::ClientOptions& options, const std::string& bucket,
                 const std::vector<Upload>& uploads, const UploadOptions& flags,
                 Progress& progress) {
  std::vector<const Upload*> small;
  for (const Upload& u : uploads) {
    struct stat st {};
    if (::stat(u.file.c_str(), &st) == 0 &&
        static_cast<uint64_t>(st.st_size) >= flags.multipart_threshold) {
      LB_RETURN_IF_ERROR(UploadFile(options, bucket, u, flags, progress));
    } else {
      small.push_back(&u);
    }
  }
  std::atomic<size_t> next{0};
  std::mutex failure_mu;
  Status failure;
  auto worker = [&] {
    while (true) {
      size_t i = next++;
      if (i >= small.size()) return;
      {
        std::lock_guard lock(failure_mu);
        if (!failure.ok()) return;
      }
      Status st = UploadFile(options, bucket, *small[i], flags, progress);
      if (!st.ok()) {
        std::lock_guard lock(failure_mu);
        if (failure.ok()) failure = st;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  size_t workers = std::min<size_t>(small.size(), std::clamp(flags.jobs, 1, 32));
  for (size_t t = 0; t < workers; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return failure;
}

}  // namespace logbucket::push
