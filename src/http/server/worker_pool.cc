#include "http/server/worker_pool.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <system_error>
#include <thread>

#include "common/guard.h"

namespace logbucket::http {

struct WorkerPool::Worker {
  int wake_fd = -1;
  std::function<void()> task;  // set under mu_ by Run when it picks this worker
};

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (Worker* w : idle_) {
      uint64_t one = 1;
      (void)!::write(w->wake_fd, &one, sizeof one);
    }
  }
  // Workers leave mu_ as their last touch of the pool: once none is counted, none is inside.
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (threads_ == 0) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool WorkerPool::Run(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      Worker* w = idle_.back();
      idle_.pop_back();
      w->task = std::move(task);
      uint64_t one = 1;
      (void)!::write(w->wake_fd, &one, sizeof one);
      return true;
    }
    ++threads_;
  }
  try {
    std::thread([this, first = std::move(task)]() mutable { Main(std::move(first)); }).detach();
    return true;
  } catch (const std::system_error&) {
    std::lock_guard lock(mu_);
    --threads_;
    return false;
  }
}

void WorkerPool::Main(std::function<void()> first) {
  Worker self;
  self.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::function<void()> task = std::move(first);
  while (true) {
    // Tasks catch their own exceptions (the server's answer 500); this is the last resort that
    // keeps a thread, and the process, alive if one did not.
    RunGuarded(ThreadEntry::kWorker, "a worker task", task);
    task = nullptr;
    if (self.wake_fd < 0) break;  // cannot be woken: this thread runs one task only
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      idle_.push_back(&self);
    }
    // Idle until Run picks this thread (it sets the task under mu_, then writes wake_fd), the
    // destructor wakes it, or idle_ms_ pass.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(idle_ms_);
    bool picked = false;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      pollfd p{self.wake_fd, POLLIN, 0};
      if (left > 0) ::poll(&p, 1, static_cast<int>(left));
      uint64_t count = 0;
      (void)!::read(self.wake_fd, &count, sizeof count);  // non-blocking: clear any wake-up
      std::lock_guard lock(mu_);
      if (self.task) {
        task = std::move(self.task);
        self.task = nullptr;
        picked = true;
        break;
      }
      if (stopping_ || std::chrono::steady_clock::now() >= deadline) {
        // Not picked (picking and this check both hold mu_): leave the idle list and exit.
        idle_.erase(std::remove(idle_.begin(), idle_.end(), &self), idle_.end());
        break;
      }
    }
    if (!picked) break;
  }
  if (self.wake_fd >= 0) ::close(self.wake_fd);
  std::lock_guard lock(mu_);
  --threads_;
}

int WorkerPool::threads() const {
  std::lock_guard lock(mu_);
  return threads_;
}

int WorkerPool::idle() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(idle_.size());
}

}  // namespace logbucket::http
