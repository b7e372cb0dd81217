// Status and Result<T>: errors as values. Result<T> is spelled like std::expected (has_value,
// value, error, operator*, value_or) so that moving to C++23 is one alias.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "common/error_code.h"

namespace logbucket {

class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  // The message for the client; falls back to the table's default.
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status Error(ErrorCode code, std::string message = {}) {
  return Status(code, std::move(message));
}

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT: implicit like std::expected
  Result(Status error) : v_(std::move(error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Status& error() const { return std::get<1>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  template <typename U>
  T value_or(U&& fallback) const {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace logbucket

// Propagates an error Status from an expression returning Status.
#define LB_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::logbucket::Status lb_status_ = (expr); \
    if (!lb_status_.ok()) return lb_status_; \
  } while (0)

// Declares or assigns `lhs` from an expression returning Result<T>, or returns its error:
//   LB_ASSIGN_OR_RETURN(auto rows, index.Keys(bucket));
#define LB_CONCAT_INNER_(a, b) a##b
#define LB_CONCAT_(a, b) LB_CONCAT_INNER_(a, b)
#define LB_ASSIGN_OR_RETURN(lhs, expr) \
  LB_ASSIGN_OR_RETURN_IMPL_(LB_CONCAT_(lb_result_, __LINE__), lhs, expr)
// `lhs` may be a declaration ("auto rows") and `result` is a name this macro makes: neither can
// be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define LB_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                              \
  if (!result) return result.error();                \
  lhs = std::move(*result)
// NOLINTEND(bugprone-macro-parentheses)
