// Sum (and mean) over any set of axes, the reductions of batch-norm statistics and bias gradients.
#pragma once
#include <cstddef>
#include <vector>

namespace ser {

// out[kept index] = scale * sum of x over the axes with reduced[axis] set; out holds the kept
// dimensions in their order. Sums accumulate in double, as the tfjs cpu backend's JS numbers do.
void reduceSum(const float* x, const std::vector<std::size_t>& shape, const std::vector<bool>& reduced, double scale,
               float* out);

}  // namespace ser
