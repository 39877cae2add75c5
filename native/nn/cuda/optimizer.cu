// Adam on the device: one thread per element, tfjs's arithmetic in tfjs's order (nn/optimizer.cc),
// each operation rounded on its own (no fused multiply-add).
#include "nn/cuda/internal.h"

namespace ser {
namespace gpu {
namespace {

__global__ void adamKernel(AdamStep s, std::size_t count, const float* value, const float* m, const float* v,
                           const float* g, float* newValue, float* newM, float* newV) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  const float gi = g[i];
  const float mi = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(gi, s.oneMinusBeta1));
  const float vi = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(gi, gi), s.oneMinusBeta2));
  const float mHat = __fdiv_rn(mi, s.oneMinusAccBeta1);
  const float vHat = __fdiv_rn(vi, s.oneMinusAccBeta2);
  newValue[i] = __fadd_rn(__fmul_rn(__fdiv_rn(mHat, __fadd_rn(__fsqrt_rn(vHat), s.epsilon)), -s.learningRate), value[i]);
  newM[i] = mi;
  newV[i] = vi;
}

}  // namespace

void adamUpdate(Context& context, const AdamStep& step, std::size_t count, const float* value, const float* m,
                const float* v, const float* gradient, float* newValue, float* newM, float* newV) {
  if (count == 0) return;
  adamKernel<<<blocksFor(count), 256, 0, context.state().stream>>>(step, count, value, m, v, gradient, newValue, newM,
                                                                    newV);
  checkLaunch("adamKernel");
}

}  // namespace gpu
}  // namespace ser
