// Threads for the requests an event loop must not run itself (uploads, pages that may wait).
// A task runs at once: on an idle thread when there is one, else on a new thread, so a slow
// task never queues others behind it (the server bounds the total by its connection limit).
// Threads stay idle for `idle_ms` before exiting, so a steady stream of requests reuses them
// instead of paying a thread start each. Idle threads sleep in poll() on their own eventfd,
// not on a condition variable (glibc 2.36's lost wake-up, docs/decisions.md).
#pragma once

#include <functional>
#include <mutex>
#include <vector>

namespace logbucket::http {

class WorkerPool {
 public:
  explicit WorkerPool(int idle_ms = 30000) : idle_ms_(idle_ms) {}
  // Waits for running tasks to finish (the server has drained them already) and idle threads
  // to exit.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False when no thread could be started (out of threads or memory); the task did not run.
  bool Run(std::function<void()> task);

  int threads() const;  // alive, busy or idle
  int idle() const;

 private:
  struct Worker;
  void Main(std::function<void()> first);

  const int idle_ms_;
  mutable std::mutex mu_;
  std::vector<Worker*> idle_;  // most recently idle last: reused first, the others time out
  int threads_ = 0;
  bool stopping_ = false;
};

}  // namespace logbucket::http
