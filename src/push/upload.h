// Uploading a check's files: one PUT below the multipart threshold, parallel parts above it,
// server-side copies for latest/, progress on a terminal.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/headers.h"
#include "common/status.h"
#include "push/progress.h"
#include "s3client/client.h"

namespace logbucket::push {

struct UploadOptions {
  uint64_t multipart_threshold = 64ULL << 20;
  uint64_t part_size = 16ULL << 20;
  int jobs = 4;
};

struct Upload {
  std::string file;  // local path
  std::string key;
  std::string content_type;
  std::string check;  // the check's name as given (the key has it with '/' as '_')
};

Status CheckResponse(const Result<s3client::S3Response>& r, const std::string& what);

Headers ObjectHeaders(const Upload& u);

// One object: a single PUT below the threshold, else a multipart upload with `jobs` parts in
// flight, aborted if any part fails for good (the client retries each first).
Status UploadFile(const s3client::ClientOptions& options, const std::string& bucket,
                  const Upload& u, const UploadOptions& flags, Progress& progress);

// Server-side copy (CopyObject keeps the type and disposition): the latest/ copies cost no
// second upload. Objects over CopyObject's 5 GiB limit are uploaded again instead.
Status CopyOrUpload(const s3client::ClientOptions& options, const std::string& bucket,
                    const Upload& u, const std::string& source_key, const UploadOptions& flags,
                    Progress& progress);

// Uploads every file, stopping at the first that fails for good (after its retries). Files
// below the multipart threshold go `jobs` at a time (a check may have hundreds of small plots);
// larger ones one after another, each in `jobs` parallel parts.
Status UploadAll(const s3client::ClientOptions& options, const std::string& bucket,
                 const std::vector<Upload>& uploads, const UploadOptions& flags,
                 Progress& progress);

}  // namespace logbucket::push
