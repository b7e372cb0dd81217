#include "http/server/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/guard.h"

namespace logbucket::http {
namespace {

// Polls `done` for up to 10 s: the pool's threads run on their own schedule.
template <typename F>
bool Eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(WorkerPoolTest, ATaskThatThrowsIsReportedAndTheThreadServesTheNext) {
  WorkerPool pool;
  uint64_t before = EscapedExceptions(ThreadEntry::kWorker);
  ASSERT_TRUE(pool.Run([] { throw std::runtime_error("task bug"); }));
  ASSERT_TRUE(Eventually([&] { return pool.idle() == 1; }));
  EXPECT_EQ(EscapedExceptions(ThreadEntry::kWorker), before + 1);
  std::atomic<bool> ran{false};
  ASSERT_TRUE(pool.Run([&] { ran = true; }));
  ASSERT_TRUE(Eventually([&] { return ran.load(); }));
  EXPECT_EQ(pool.threads(), 1);  // the same thread, alive after the exception
}

TEST(WorkerPoolTest, SequentialTasksReuseOneThread) {
  WorkerPool pool;
  std::mutex mu;
  std::set<std::thread::id> seen;
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(pool.Run([&] {
      std::lock_guard lock(mu);
      seen.insert(std::this_thread::get_id());
      ++ran;
    }));
    // The next task comes once this one is done and its thread idle again.
    ASSERT_TRUE(Eventually([&] { return ran == i + 1 && pool.idle() == 1; }));
  }
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_EQ(pool.threads(), 1);
}

TEST(WorkerPoolTest, ABlockedTaskNeverDelaysAnother) {
  WorkerPool pool;
  constexpr int kTasks = 8;
  std::atomic<int> arrived{0};
  std::atomic<bool> all_met{true};
  // Each task waits until all have started: they can only finish if they run at the same time.
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(pool.Run([&] {
      ++arrived;
      if (!Eventually([&] { return arrived == kTasks; })) all_met = false;
    }));
  }
  ASSERT_TRUE(Eventually([&] { return pool.idle() == kTasks; }));
  EXPECT_TRUE(all_met);
  EXPECT_EQ(pool.threads(), kTasks);
  // Now idle, they take the next burst without new threads.
  std::atomic<int> second{0};
  for (int i = 0; i < kTasks; ++i) ASSERT_TRUE(pool.Run([&] { ++second; }));
  ASSERT_TRUE(Eventually([&] { return second == kTasks && pool.idle() == kTasks; }));
  EXPECT_EQ(pool.threads(), kTasks);
}

TEST(WorkerPoolTest, IdleThreadsExitAfterTheirIdleTime) {
  WorkerPool pool(/*idle_ms=*/50);
  std::atomic<int> ran{0};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.Run([&] { ++ran; }));
  ASSERT_TRUE(Eventually([&] { return ran == 4; }));
  EXPECT_TRUE(Eventually([&] { return pool.threads() == 0 && pool.idle() == 0; }));
  // And the pool still works afterwards.
  ASSERT_TRUE(pool.Run([&] { ++ran; }));
  EXPECT_TRUE(Eventually([&] { return ran == 5; }));
}

TEST(WorkerPoolTest, DestructionWaitsForIdleAndBusyThreads) {
  std::atomic<int> finished{0};
  {
    WorkerPool pool;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(pool.Run([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ++finished;
      }));
    }
  }  // returns only once every thread has left the pool
  EXPECT_EQ(finished, 3);
}

}  // namespace
}  // namespace logbucket::http
