// The last line of defence at every thread entry (event loops, workers, the accept thread, TLS
// terminators, the committer, the janitor): an exception that escapes the code a thread runs is
// reported here (a log line with where it happened, and a counter `/_metrics` publishes) and
// stops there, so that no request, however malformed, can end the process. Libraries throw where
// our code expects error codes (Boost.Beast's fields throw std::length_error on a 64 KiB field,
// nlohmann::json and toml++ throw on bad input, any allocation can throw std::bad_alloc), so
// catching at the few thread entries is what makes "one request kills the server" impossible as
// a class, not just for the instances found so far.
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

namespace logbucket {

// Where an exception was stopped; the label in `logbucket_escaped_exceptions_total{where=…}`.
enum class ThreadEntry {
  kEventLoop,   // an HTTP listener's event loop (parsing, inline GET/HEAD handlers)
  kWorker,      // a request on a worker thread (uploads, slow viewer pages)
  kAccept,      // an HTTP listener's accept thread
  kTls,         // a TLS terminator thread
  kCommitter,   // the local store's group-commit thread
  kJanitor,     // the lifecycle janitor
  kBackground,  // other background tasks (the remote store's downloads, indexers)
  kCount
};

std::string_view ThreadEntryName(ThreadEntry where);

// Logs `what` happened at `where` (with `context`, e.g. the request id) and counts it.
void ReportEscapedException(ThreadEntry where, std::string_view context,
                            const std::exception_ptr& error) noexcept;

// How many exceptions were stopped at `where` since start.
uint64_t EscapedExceptions(ThreadEntry where) noexcept;

// The message of a caught exception, for logs ("std::length_error: field value too large").
std::string DescribeException(const std::exception_ptr& error) noexcept;

// A test seam for the thread entries whose code no test can make throw through its inputs (the
// accept thread, the TLS terminator): after ArmInjectedFault(where, n), the next n calls of
// InjectedFault(where) throw std::runtime_error("injected fault"). Unarmed (always, outside
// tests), InjectedFault is one relaxed atomic load.
void ArmInjectedFault(ThreadEntry where, int count) noexcept;
void InjectedFault(ThreadEntry where);

// Runs fn(); an exception that escapes it is reported and swallowed. True when fn returned.
template <class Fn>
bool RunGuarded(ThreadEntry where, std::string_view context, Fn&& fn) noexcept {
  try {
    fn();
    return true;
  } catch (...) {
    ReportEscapedException(where, context, std::current_exception());
    return false;
  }
}

}  // namespace logbucket
