#include "nn/optimizer.h"

#include <algorithm>
#include <cmath>

#include "common/simd.h"
#include "nn/threadpool.h"

namespace ser {
namespace {

SER_HOT void adamRange(const AdamStep& s, std::size_t begin, std::size_t end, const float* value, const float* m,
                       const float* v, const float* g, float* newValue, float* newM, float* newV) {
  const float negativeLr = -s.learningRate;
  for (std::size_t i = begin; i < end; ++i) {
    const float gi = g[i];
    const float mi = m[i] * s.beta1 + gi * s.oneMinusBeta1;
    const float vi = v[i] * s.beta2 + (gi * gi) * s.oneMinusBeta2;
    const float mHat = mi / s.oneMinusAccBeta1;
    const float vHat = vi / s.oneMinusAccBeta2;
    newValue[i] = (mHat / (std::sqrt(vHat) + s.epsilon)) * negativeLr + value[i];
    newM[i] = mi;
    newV[i] = vi;
  }
}

constexpr std::size_t kChunk = 1 << 15;

}  // namespace

void adamUpdate(const AdamStep& step, std::size_t count, const float* value, const float* m, const float* v,
                const float* gradient, float* newValue, float* newM, float* newV) {
  parallelFor((count + kChunk - 1) / kChunk, [&](std::size_t chunk) {
    const std::size_t begin = chunk * kChunk;
    adamRange(step, begin, std::min(count, begin + kChunk), value, m, v, gradient, newValue, newM, newV);
  });
}

}  // namespace ser
