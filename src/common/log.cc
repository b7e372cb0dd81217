#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace logbucket {

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("logbucket",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return *logger;
}

}  // namespace logbucket
