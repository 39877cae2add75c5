#include "nn/activation.h"

#include "common/fast_math.h"
#include "common/simd.h"

namespace ser {

SER_HOT void tanhArray(const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = fastmath::tanh(x[i]);
}

}  // namespace ser
