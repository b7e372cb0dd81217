// Counting lines fast: line numbers of search hits and error candidates come from here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace logbucket::logs {

// The number of '\n' bytes in [data, data + size), sixteen bytes at a time with SSE2, eight
// without (~10 GB/s).
uint64_t CountNewlines(const char* data, size_t size);

}  // namespace logbucket::logs
