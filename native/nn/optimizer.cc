#include "nn/optimizer.h"

#include <algorithm>
#include <cmath>
#include <vector>

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

void adamUpdateAll(const AdamStep& step, const AdamVariable* variables, std::size_t count) {
  struct Chunk {
    const AdamVariable* variable;
    std::size_t begin, end;
  };
  std::vector<Chunk> chunks;
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t begin = 0; begin < variables[i].count; begin += kChunk) {
      chunks.push_back({variables + i, begin, std::min(variables[i].count, begin + kChunk)});
    }
  }
  parallelFor(chunks.size(), [&](std::size_t task) {
    const Chunk& c = chunks[task];
    const AdamVariable& x = *c.variable;
    adamRange(step, c.begin, c.end, x.value, x.m, x.v, x.gradient, x.value, x.m, x.v);
  });
}

}  // namespace ser
