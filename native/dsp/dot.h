// Float dot product shared by the resampler and the DCT.
#pragma once
#include <cstddef>

namespace ser {

// Sixteen independent partial sums (two 8-wide accumulators) combined in a fixed order: vectorises
// without -ffast-math and gives the same bits on every run and thread. Fastest when n % 16 == 0.
// Always inlined, so it takes the ISA of the SER_HOT loop that calls it (a call per dot product
// through the clone resolver cost as much as the arithmetic).
__attribute__((always_inline)) inline float dotProduct(const float* a, const float* b, std::size_t n) {
  float lanes[16] = {0};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; j < 8; ++j) lanes[j] += lanes[j + 8];
  float sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace ser
