#include "logs/newlines.h"

#include <algorithm>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace logbucket::logs {

uint64_t CountNewlines(const char* data, size_t size) {
  uint64_t count = 0;
  size_t i = 0;
#ifdef __SSE2__
  // 16 bytes per step: compare, subtract the -1s into byte counters, and fold those into the
  // total with SAD before any of them can overflow (255 steps).
  const __m128i newline = _mm_set1_epi8('\n');
  while (i + 16 <= size) {
    __m128i counters = _mm_setzero_si128();
    size_t steps = std::min<size_t>((size - i) / 16, 255);
    for (size_t k = 0; k < steps; ++k, i += 16) {
      __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
      counters = _mm_sub_epi8(counters, _mm_cmpeq_epi8(chunk, newline));
    }
    __m128i sums = _mm_sad_epu8(counters, _mm_setzero_si128());
    count += static_cast<uint64_t>(_mm_cvtsi128_si64(sums)) +
             static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
  }
#else
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    uint64_t x = word ^ (kOnes * '\n');  // zero bytes where '\n' was
    // High bit set exactly in the zero bytes (no carries between bytes: exact, not a guess),
    // then one bit per '\n' summed by a multiply.
    uint64_t zero = ~(((x & kLow7) + kLow7) | x | kLow7);
    count += ((zero >> 7) * kOnes) >> 56;
  }
#endif
  for (; i < size; ++i) count += data[i] == '\n';
  return count;
}

}  // namespace logbucket::logs
