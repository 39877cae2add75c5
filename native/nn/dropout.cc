#include "nn/dropout.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/errors.h"
#include "common/simd.h"
#include "nn/threadpool.h"

namespace ser {
namespace {

// splitmix64's finaliser, to spread a small integer seed over both 32-bit keys.
std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

SER_HOT void fillMask(const DropoutKey& given, std::uint32_t first, float* mask, std::size_t count) {
  const DropoutKey key = given;  // stores to mask could otherwise alias the key's float scale
  for (std::size_t i = 0; i < count; ++i) mask[i] = dropoutValue(key, first + static_cast<std::uint32_t>(i));
}

constexpr std::size_t kChunk = 1 << 16;

}  // namespace

DropoutKey dropoutKey(std::uint64_t seed, float rate) {
  if (!(rate >= 0.0f && rate < 1.0f)) throw InputError("dropout rate must be in [0, 1), got " + std::to_string(rate));
  const std::uint64_t mixed = mix64(seed + 0x9E3779B97F4A7C15ull);
  DropoutKey key;
  key.first = static_cast<std::uint32_t>(mixed);
  key.second = static_cast<std::uint32_t>(mixed >> 32);
  // Keep when a uniform 24-bit draw u satisfies u / 2^24 >= rate.
  key.threshold = static_cast<std::uint32_t>(std::ceil(static_cast<double>(rate) * 16777216.0));
  key.scale = 1.0f / (1.0f - rate);
  return key;
}

void dropoutMask(std::uint64_t seed, float rate, float* mask, std::size_t count) {
  const DropoutKey key = dropoutKey(seed, rate);
  if (count > kMaxDropoutElements) throw InputError("a dropout mask holds at most 2^32 elements");
  parallelFor((count + kChunk - 1) / kChunk, [&](std::size_t chunk) {
    const std::size_t first = chunk * kChunk;
    fillMask(key, static_cast<std::uint32_t>(first), mask + first, std::min(kChunk, count - first));
  });
}

}  // namespace ser
