#include "push/progress.h"

#include <algorithm>
#include <cmath>

namespace logbucket::push {

std::string FormatBytes(double bytes) {
  char out[32];
  if (bytes >= 1e9) {
    std::snprintf(out, sizeof out, "%.2f GB", bytes / 1e9);
  } else {
    std::snprintf(out, sizeof out, "%.1f MB", bytes / 1e6);
  }
  return out;
}

std::string FormatSeconds(double seconds) {
  auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
}

Progress::Progress(Mode mode, uint64_t total_bytes, std::FILE* out, const Clock* clock)
    : mode_(mode), total_(total_bytes), out_(out), clock_(clock), start_ms_(clock->NowMs()) {}

void Progress::Begin(const std::string& key, uint64_t bytes) {
  if (mode_ == Mode::kQuiet) return;
  std::lock_guard lock(mu_);
  files_[key] = File{bytes, 0, clock_->NowMs()};
  current_ = key;
}

void Progress::Add(const std::string& key, uint64_t bytes) {
  if (mode_ == Mode::kQuiet) return;
  std::lock_guard lock(mu_);
  done_ += bytes;
  auto it = files_.find(key);
  if (it != files_.end()) it->second.done += bytes;
  current_ = key;
  if (mode_ == Mode::kTerminal) DrawLocked(clock_->NowMs(), false);
}

void Progress::Finish(const std::string& key) {
  if (mode_ == Mode::kQuiet) return;
  std::lock_guard lock(mu_);
  auto it = files_.find(key);
  if (it == files_.end()) return;
  const int64_t now = clock_->NowMs();
  if (mode_ == Mode::kLines) {
    double seconds = std::max<int64_t>(now - it->second.started_ms, 1) / 1000.0;
    std::fprintf(out_, "logbucket push: uploaded %s (%s in %s, %s/s)\n", key.c_str(),
                 FormatBytes(static_cast<double>(it->second.size)).c_str(),
                 FormatSeconds(seconds).c_str(),
                 FormatBytes(static_cast<double>(it->second.size) / seconds).c_str());
    std::fflush(out_);
  } else {
    DrawLocked(now, true);
    if (done_ >= total_) {
      std::fprintf(out_, "\n");
      std::fflush(out_);
      drawn_width_ = 0;
    }
  }
  files_.erase(it);
}

void Progress::DrawLocked(int64_t now_ms, bool force) {
  if (!force && now_ms - drawn_ms_ < 100) return;
  drawn_ms_ = now_ms;
  double elapsed = std::max<int64_t>(now_ms - start_ms_, 1) / 1000.0;
  double rate = static_cast<double>(done_) / elapsed;
  uint64_t shown = std::min(done_, total_);
  int percent = total_ > 0 ? static_cast<int>(100 * shown / total_) : 100;
  const int width = 20;
  int filled = width * percent / 100;
  std::string line = "[" + std::string(filled, '#') + std::string(width - filled, ' ') + "] " +
                     std::to_string(percent) + "% " + FormatBytes(static_cast<double>(shown)) +
                     " of " + FormatBytes(static_cast<double>(total_)) + ", " + FormatBytes(rate) +
                     "/s";
  if (rate > 0 && shown < total_) {
    line += ", " + FormatSeconds(static_cast<double>(total_ - shown) / rate) + " left";
  }
  auto it = files_.find(current_);
  if (it != files_.end() && it->second.size > 0) {
    const File& f = it->second;
    std::string name = current_.substr(current_.rfind('/') + 1);
    int file_percent = static_cast<int>(100 * std::min(f.done, f.size) / f.size);
    line += " | " + name + " " + std::to_string(file_percent) + "%";
    double file_elapsed = std::max<int64_t>(now_ms - f.started_ms, 1) / 1000.0;
    double file_rate = static_cast<double>(f.done) / file_elapsed;
    if (file_rate > 0 && f.done < f.size) {
      line += ", " + FormatSeconds(static_cast<double>(f.size - f.done) / file_rate) + " left";
    }
  }
  // Pad over the previous line's tail (it may have been longer).
  size_t length = line.size();
  if (length < drawn_width_) line.append(drawn_width_ - length, ' ');
  drawn_width_ = length;
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
}

}  // namespace logbucket::push
