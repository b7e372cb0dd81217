// Internal to store/local: the writer of a new body (memory first, then tmp/<id>).
#pragma once

#include <memory>
#include <string>

#include "platform/file_system.h"
#include "store/store.h"

namespace logbucket::store {

// A body being received. Up to `inline_limit` bytes it stays in memory, so a small PutObject
// costs no file at all (its bytes go into the metadata transaction); past that it spills into
// tmp/<id> and continues there.
class LocalBlobWriter final : public BlobWriter {
 public:
  LocalBlobWriter(platform::FileSystem& fs, std::string id, std::string temp_path,
                  size_t inline_limit)
      : fs_(fs),
        id_(std::move(id)),
        temp_path_(std::move(temp_path)),
        inline_limit_(inline_limit) {}
  ~LocalBlobWriter() override {
    file_.reset();
    if (spilled_ && !committed_) (void)fs_.Remove(temp_path_);
  }
  Status Append(std::string_view data) override {
    if (!spilled_ && memory_.size() + data.size() <= inline_limit_) {
      memory_.append(data);
    } else {
      LB_RETURN_IF_ERROR(Spill());
      LB_RETURN_IF_ERROR(file_->Append(data));
    }
    size_ += data.size();
    return Status::Ok();
  }
  // Appends another file's bytes (multipart completion), copy_file_range where it can.
  Status AppendFrom(int in_fd, uint64_t in_offset, uint64_t length) {
    LB_RETURN_IF_ERROR(Spill());
    LB_RETURN_IF_ERROR(file_->AppendFrom(in_fd, in_offset, length));
    size_ += length;
    return Status::Ok();
  }
  uint64_t size() const override { return size_; }

  // Moves what is buffered into tmp/<id>; from then on every byte goes to the file.
  Status Spill() {
    if (spilled_) return Status::Ok();
    auto file = fs_.NewWritableFile(temp_path_, 0640);
    if (!file) return file.error();
    file_ = std::move(*file);
    spilled_ = true;
    if (!memory_.empty()) LB_RETURN_IF_ERROR(file_->Append(memory_));
    std::string().swap(memory_);
    return Status::Ok();
  }
  Status Sync() {
    LB_RETURN_IF_ERROR(Spill());
    LB_RETURN_IF_ERROR(file_->Sync());
    file_.reset();
    return Status::Ok();
  }
  bool in_memory() const { return !spilled_; }
  const std::string& memory() const { return memory_; }
  const std::string& id() const { return id_; }
  const std::string& temp_path() const { return temp_path_; }
  void MarkCommitted() { committed_ = true; }

 private:
  platform::FileSystem& fs_;
  std::string id_;
  std::string temp_path_;
  size_t inline_limit_;
  std::string memory_;
  bool spilled_ = false;
  std::unique_ptr<platform::WritableFile> file_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace logbucket::store
