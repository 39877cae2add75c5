// Dropout masks from a counter-based hash: element i of the mask drawn for a seed depends on (seed, i)
// alone, so a mask is the same on every backend and thread count, the fused ops can recompute it instead
// of storing it, and a resumed run needs no generator state, only the seed (the trainer derives it from
// the layer's seed and the training step).
#pragma once
#include <cstddef>
#include <cstdint>

// The mask's arithmetic is shared with the CUDA kernels (nn/cuda), so a mask is the same on the device.
#ifdef __CUDACC__
#define SER_HOST_DEVICE __host__ __device__
#else
#define SER_HOST_DEVICE
#endif

namespace ser {

// Masks index their elements with 32 bits.
constexpr std::size_t kMaxDropoutElements = std::size_t{1} << 32;

struct DropoutKey {
  std::uint32_t first = 0, second = 0;
  std::uint32_t threshold = 0;  // keep when the 24-bit draw >= threshold
  float scale = 1.0f;           // 1 / (1 - rate)
};

// Throws InputError unless 0 <= rate < 1.
DropoutKey dropoutKey(std::uint64_t seed, float rate);

// murmur3's 32-bit finaliser: a bijection whose output bits each depend on every input bit.
SER_HOST_DEVICE inline std::uint32_t mix32(std::uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  return h ^ (h >> 16);
}

// 1 / (1 - rate) where element `index` is kept, else 0.
SER_HOST_DEVICE inline float dropoutValue(const DropoutKey& key, std::uint32_t index) {
  const std::uint32_t draw = mix32(mix32(index * 0x9E3779B1u ^ key.first) ^ key.second) >> 8;
  return draw >= key.threshold ? key.scale : 0.0f;
}

// mask[i] = dropoutValue(key of (seed, rate), first + i) for i < count, spread over the thread pool.
void dropoutMask(std::uint64_t seed, float rate, float* mask, std::size_t count);

}  // namespace ser
