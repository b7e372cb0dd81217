#include "common/guard.h"

#include <cxxabi.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <typeinfo>

#include "common/log.h"

namespace logbucket {
namespace {

std::array<std::atomic<uint64_t>, static_cast<size_t>(ThreadEntry::kCount)>& Counters() {
  static std::array<std::atomic<uint64_t>, static_cast<size_t>(ThreadEntry::kCount)> counters{};
  return counters;
}

std::string TypeName(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

std::array<std::atomic<int>, static_cast<size_t>(ThreadEntry::kCount)>& ArmedFaults() {
  static std::array<std::atomic<int>, static_cast<size_t>(ThreadEntry::kCount)> armed{};
  return armed;
}

}  // namespace

void ArmInjectedFault(ThreadEntry where, int count) noexcept {
  ArmedFaults()[static_cast<size_t>(where)].store(count);
}

void InjectedFault(ThreadEntry where) {
  auto& armed = ArmedFaults()[static_cast<size_t>(where)];
  if (armed.load(std::memory_order_relaxed) <= 0) return;
  if (armed.fetch_sub(1) > 0) throw std::runtime_error("injected fault");
}

std::string_view ThreadEntryName(ThreadEntry where) {
  switch (where) {
    case ThreadEntry::kEventLoop:
      return "event_loop";
    case ThreadEntry::kWorker:
      return "worker";
    case ThreadEntry::kAccept:
      return "accept";
    case ThreadEntry::kTls:
      return "tls";
    case ThreadEntry::kCommitter:
      return "committer";
    case ThreadEntry::kJanitor:
      return "janitor";
    case ThreadEntry::kBackground:
      return "background";
    case ThreadEntry::kCount:
      break;
  }
  return "unknown";
}

std::string DescribeException(const std::exception_ptr& error) noexcept {
  try {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return TypeName(typeid(e)) + ": " + e.what();
    } catch (...) {
      return "an exception of a type that is not std::exception";
    }
  } catch (...) {  // bad_alloc while building the text
    return {};
  }
}

void ReportEscapedException(ThreadEntry where, std::string_view context,
                            const std::exception_ptr& error) noexcept {
  Counters()[static_cast<size_t>(where)].fetch_add(1, std::memory_order_relaxed);
  try {
    Log().error("{}: stopped an exception{}{}: {}", ThreadEntryName(where),
                context.empty() ? "" : " in ", context, DescribeException(error));
  } catch (...) {  // the log itself failed (out of memory): the count still says it happened
  }
}

uint64_t EscapedExceptions(ThreadEntry where) noexcept {
  return Counters()[static_cast<size_t>(where)].load(std::memory_order_relaxed);
}

}  // namespace logbucket
