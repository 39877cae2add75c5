// The first non-finite sample of an array, found by a branch-free scan the compiler vectorises (a
// loop that throws at the first bad sample stays scalar: 8% of a clip's features went to it).
#pragma once
#include <cmath>
#include <cstddef>

namespace ser {

// Index of the first NaN or infinity in x[0..n), or n when every value is finite.
inline std::size_t firstNonFinite(const float* x, std::size_t n) {
  constexpr std::size_t kBlock = 4096;
  for (std::size_t begin = 0; begin < n; begin += kBlock) {
    const std::size_t end = begin + kBlock < n ? begin + kBlock : n;
    unsigned bad = 0;
    for (std::size_t i = begin; i < end; ++i) bad |= static_cast<unsigned>(!(std::fabs(x[i]) <= 3.40282347e38f));
    if (bad == 0) continue;
    for (std::size_t i = begin; i < end; ++i) {
      if (!std::isfinite(x[i])) return i;
    }
  }
  return n;
}

}  // namespace ser
