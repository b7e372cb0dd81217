// The lifecycle janitor: applies every bucket's lifecycle rules to the store on a timer —
// expires objects and aborts stale multipart uploads — in bounded batches, each one short
// group-committed transaction, so requests keep flowing while it works.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace logbucket::s3 {

struct JanitorOptions {
  int64_t interval_ms = 3600 * 1000;  // time between passes
  int64_t day_ms = 86400LL * 1000;    // one lifecycle "day" (tests shorten it)
  int64_t clock_offset_ms = 0;        // act as if it were this much later (tests, dry runs)
  int batch = 500;                    // objects examined / deleted per transaction
  const Clock* clock = &SystemClock::Instance();
};

class Janitor {
 public:
  Janitor(store::Store& store, JanitorOptions options);
  ~Janitor();
  Janitor(const Janitor&) = delete;
  Janitor& operator=(const Janitor&) = delete;

  void Start();
  void Stop();

  struct Pass {
    int buckets = 0;  // buckets with a lifecycle configuration
    int expired = 0;
    int aborted = 0;
  };
  // One pass over all buckets (what the timer runs; public for tests).
  Result<Pass> RunOnce();

 private:
  void Loop();
  int64_t Now() const { return options_.clock->NowMs() + options_.clock_offset_ms; }

  store::Store& store_;
  JanitorOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace logbucket::s3
