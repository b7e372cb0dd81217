#include "logs/gunzip.h"

#include <zlib.h>

#include <string>

namespace logbucket::logs {

struct GzipDecoder::State {
  z_stream z{};
  bool in_member = false;
  bool initialised = false;
  ~State() {
    if (initialised) inflateEnd(&z);
  }
};

GzipDecoder::GzipDecoder(uint64_t max_output)
    : state_(std::make_unique<State>()), max_output_(max_output) {
  // 15 + 16: zlib window, gzip wrapper only.
  if (inflateInit2(&state_->z, 15 + 16) == Z_OK) state_->initialised = true;
}

GzipDecoder::~GzipDecoder() = default;

Status GzipDecoder::Feed(std::string_view input,
                         const std::function<void(std::string_view)>& sink) {
  if (!state_->initialised) return Error(ErrorCode::kInternalError, "zlib: cannot initialise");
  if (limit_reached_) return Status::Ok();
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  z.avail_in = static_cast<uInt>(input.size());
  char out[65536];
  while (z.avail_in > 0) {
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = sizeof out;
    state_->in_member = true;
    int rc = inflate(&z, Z_NO_FLUSH);
    size_t got = sizeof out - z.avail_out;
    if (got > 0) {
      if (produced_ + got >= max_output_) {
        got = static_cast<size_t>(max_output_ - produced_);
        limit_reached_ = true;
      }
      produced_ += got;
      sink(std::string_view(out, got));
      if (limit_reached_) return Status::Ok();
    }
    if (rc == Z_STREAM_END) {
      state_->in_member = false;
      inflateReset(&z);  // a following member, if any
      continue;
    }
    if (rc == Z_BUF_ERROR && got == 0) break;  // needs more input
    if (rc != Z_OK) {
      return Error(ErrorCode::kInvalidArgument,
                   std::string("not valid gzip data: ") + (z.msg ? z.msg : "inflate failed"));
    }
  }
  return Status::Ok();
}

Status GzipDecoder::Finish() const {
  if (state_->in_member && !limit_reached_) {
    return Error(ErrorCode::kInvalidArgument, "gzip data ends early (truncated)");
  }
  return Status::Ok();
}

bool IsGzipName(std::string_view path) { return path.ends_with(".gz"); }

}  // namespace logbucket::logs
