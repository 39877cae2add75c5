#include "nn/dropout.h"

#include <cmath>
#include <string>

#include "common/errors.h"

namespace ser {
namespace {

// splitmix64's finaliser: a bijection of 64-bit words whose outputs pass BigCrush for counter inputs.
inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

void dropoutMask(std::uint64_t seed, float rate, float* mask, std::size_t count) {
  if (!(rate >= 0.0f && rate < 1.0f)) throw InputError("dropout rate must be in [0, 1), got " + std::to_string(rate));
  const float scale = 1.0f / (1.0f - rate);
  // Keep when a uniform 24-bit draw u / 2^24 >= rate, the comparison done in integers.
  const std::uint64_t threshold = static_cast<std::uint64_t>(std::ceil(static_cast<double>(rate) * 16777216.0));
  const std::uint64_t key = mix(seed + 0x9E3779B97F4A7C15ull);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t draw = mix(key + 0x9E3779B97F4A7C15ull * (i + 1)) >> 40;
    mask[i] = draw >= threshold ? scale : 0.0f;
  }
}

}  // namespace ser
