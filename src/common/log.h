// The log facade: spdlog behind one accessor, so the sink and format are chosen once at
// start-up. Never log Authorization headers, signatures, cookies, tokens or secrets.
#pragma once

#include <spdlog/spdlog.h>

namespace logbucket {

// The process-wide logger ("logbucket"); created on first use, writing to stderr.
spdlog::logger& Log();

}  // namespace logbucket
