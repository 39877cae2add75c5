// Dropout masks from a counter-based hash: element i of the mask drawn for a seed depends on (seed, i)
// alone, so a mask is the same on every backend and thread count and a resumed run needs no generator
// state, only the seed (the trainer derives it from the layer's seed and the training step).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ser {

// mask[i] = 1 / (1 - rate) where the element is kept (probability 1 - rate), else 0. rate in [0, 1).
void dropoutMask(std::uint64_t seed, float rate, float* mask, std::size_t count);

}  // namespace ser
