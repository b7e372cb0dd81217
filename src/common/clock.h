// Injectable clock: lifecycle expiry, signature skew and presign expiry are tested without
// waiting by substituting a ManualClock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace logbucket {

// For durations, deadlines and timeouts: the steady clock, immune to wall-clock steps (not
// injectable; tests bound their waits instead).
inline int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline int64_t MonotonicMs() { return MonotonicUs() / 1000; }

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;  // Unix time in milliseconds
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static const SystemClock& Instance() {
    static const SystemClock clock;
    return clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  void Set(int64_t now_ms) { now_ms_ = now_ms; }
  void Advance(int64_t delta_ms) { now_ms_ += delta_ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace logbucket
