// A setting read on every request and replaced, rarely, by a configuration reload (SIGHUP):
// readers take a snapshot (a shared_ptr copy under a short lock) and keep using it for their
// request; a reload swaps in a new value without waiting for them.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace logbucket {

template <typename T>
class Live {
 public:
  explicit Live(T value = T()) : value_(std::make_shared<const T>(std::move(value))) {}

  std::shared_ptr<const T> Get() const {
    std::lock_guard lock(mu_);
    return value_;
  }

  void Set(T value) {
    auto next = std::make_shared<const T>(std::move(value));
    std::lock_guard lock(mu_);
    value_.swap(next);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
};

}  // namespace logbucket
