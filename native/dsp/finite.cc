#include "dsp/finite.h"

#include <cmath>

#include "common/simd.h"

namespace ser {
namespace {

// 1 when some value of x[begin, end) is NaN or infinite.
SER_HOT_WIDE unsigned anyNonFinite(const float* x, std::size_t begin, std::size_t end) {
  unsigned bad = 0;
  for (std::size_t i = begin; i < end; ++i) bad |= static_cast<unsigned>(!(std::fabs(x[i]) <= 3.40282347e38f));
  return bad;
}

}  // namespace

std::size_t firstNonFinite(const float* x, std::size_t n) {
  constexpr std::size_t kBlock = 4096;
  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t end = begin + kBlock < n ? begin + kBlock : n;
    if (anyNonFinite(x, begin, end) == 0) continue;
    for (std::size_t i = begin; i < end; ++i) {
      if (!std::isfinite(x[i])) return i;
    }
  }
  return n;
}

}  // namespace ser
