// The model's training step on the device (nn/model_step_impl.h over GpuStepOps): the fused ops of
// nn/cuda, cuBLAS, and the step's small kernels (bias, tanh, attention pooling, dropout, moving and
// weight averages), each in the CPU step's arithmetic with separately rounded products.
#include <algorithm>
#include <memory>

#include "nn/cuda/internal.h"
#include "nn/dropout.h"
#include "nn/model_step_impl.h"

namespace ser {
namespace {

using gpu::blocksFor;
using gpu::checkLaunch;

__global__ void addBiasKernel(std::size_t count, std::size_t n, float* out, const float* bias, bool applyTanh) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  const float v = __fadd_rn(out[i], bias[i % n]);
  out[i] = applyTanh ? tanhf(v) : v;
}

__global__ void tanhGradientKernel(std::size_t n, float* gradient, const float* h) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) gradient[i] = __fmul_rn(gradient[i], 1.0f - __fmul_rn(h[i], h[i]));
}


// One thread per row of the batch: the softmax over its steps, in place.
__global__ void softmaxRows(std::size_t batch, std::size_t steps, float* scores) {
  const std::size_t b = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (b >= batch) return;
  float* alpha = scores + b * steps;
  float largest = alpha[0];
  for (std::size_t t = 1; t < steps; ++t) largest = fmaxf(largest, alpha[t]);
  float total = 0.0f;
  for (std::size_t t = 0; t < steps; ++t) {
    alpha[t] = expf(__fsub_rn(alpha[t], largest));
    total = __fadd_rn(total, alpha[t]);
  }
  for (std::size_t t = 0; t < steps; ++t) alpha[t] = __fdiv_rn(alpha[t], total);
}

__global__ void poolContext(std::size_t batch, std::size_t steps, std::size_t units, const float* alpha,
                            const float* sequence, float* context) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= batch * units) return;
  const std::size_t b = i / units, d = i % units;
  float sum = 0.0f;
  for (std::size_t t = 0; t < steps; ++t) {
    sum = __fadd_rn(sum, __fmul_rn(alpha[b * steps + t], sequence[(b * steps + t) * units + d]));
  }
  context[i] = sum;
}

// dAlpha[b, t] = dContext[b] . S[b, t], into dScores; dSequence[b, t] = alpha[b, t] dContext[b].
__global__ void poolBackwardRows(std::size_t batch, std::size_t steps, std::size_t units, const float* alpha,
                                 const float* sequence, const float* dContext, float* dAlpha, float* dSequence) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= batch * steps) return;
  const std::size_t b = i / steps;
  const float* row = sequence + i * units;
  const float* dc = dContext + b * units;
  float* dRow = dSequence + i * units;
  float dot = 0.0f;
  for (std::size_t d = 0; d < units; ++d) {
    dot = __fadd_rn(dot, __fmul_rn(dc[d], row[d]));
    dRow[d] = __fmul_rn(alpha[i], dc[d]);
  }
  dAlpha[i] = dot;
}

__global__ void softmaxGradientRows(std::size_t batch, std::size_t steps, const float* alpha, float* dScores) {
  const std::size_t b = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (b >= batch) return;
  const float* a = alpha + b * steps;
  float* g = dScores + b * steps;
  float weighted = 0.0f;
  for (std::size_t t = 0; t < steps; ++t) weighted = __fadd_rn(weighted, __fmul_rn(g[t], a[t]));
  for (std::size_t t = 0; t < steps; ++t) g[t] = __fmul_rn(a[t], __fsub_rn(g[t], weighted));
}

__global__ void dropoutKernel(std::size_t n, DropoutKey key, float* data) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) data[i] = __fmul_rn(data[i], dropoutValue(key, static_cast<std::uint32_t>(i)));
}

__global__ void movingAverageKernel(std::size_t n, float* moving, const float* batch, float decay) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) moving[i] = __fsub_rn(moving[i], __fmul_rn(__fsub_rn(moving[i], batch[i]), decay));
}

__global__ void weightAverageKernel(std::size_t n, float* average, const float* value, float decay, float oneMinusDecay) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) average[i] = __fadd_rn(__fmul_rn(average[i], decay), __fmul_rn(value[i], oneMinusDecay));
}

struct GpuStepOps {
  using Buffer = gpu::DeviceFloats;
  static constexpr const char* kDevice = "gpu";
  std::unique_ptr<gpu::Context> context = std::make_unique<gpu::Context>();
  Buffer scratch;  // doubles for column sums, grown on first use of a size

  cudaStream_t stream() { return context->state().stream; }
  Buffer alloc(std::size_t n) {
    Buffer b(n);
    b.zero();
    return b;
  }
  // Synchronous copies on the legacy stream, ordered with the context's blocking stream.
  void upload(Buffer& to, const float* from, std::size_t n) { to.upload(from, n); }
  void download(const Buffer& from, float* to, std::size_t n) { from.download(to, n); }
  void synchronize() { context->synchronize(); }

  std::size_t convBlockWorkspaceFloats(const ConvBlockShape& s) { return gpu::convBlockWorkspaceFloats(s); }
  std::size_t lstmWorkspaceFloats(const LstmShape& s) { return gpu::lstmWorkspaceFloats(s); }
  void convBlockForward(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                        const float* beta, float* y, float* mean, float* variance, float* workspace) {
    gpu::convBlockForward(*context, s, x, filter, gamma, beta, y, mean, variance, workspace);
  }
  void convBlockBackward(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                         const float* mean, const float* variance, float* workspace, const float* dy, float* dx,
                         float* dFilter, float* dGamma, float* dBeta) {
    gpu::convBlockBackward(*context, s, x, filter, gamma, mean, variance, workspace, dy, dx, dFilter, dGamma, dBeta);
  }
  void bilstmForward(const LstmShape& s, const LstmWeights& f, const LstmWeights& b, const float* x, float* y,
                     float* workspace) {
    gpu::bilstmForward(*context, s, f, b, x, y, workspace);
  }
  void bilstmBackward(const LstmShape& s, const LstmWeights& f, const LstmWeights& b, float* workspace,
                      const float* dy, float* dx, const LstmGradients& df, const LstmGradients& db) {
    gpu::bilstmBackward(*context, s, f, b, workspace, dy, dx, df, db);
  }
  void gemm(const GemmShape& s, const float* a, const float* b, float* c, bool accumulate) {
    gpu::gemm(*context, s, a, b, c, accumulate);
  }
  void addBias(std::size_t rows, std::size_t n, float* out, const float* bias) {
    addBiasKernel<<<blocksFor(rows * n), 256, 0, stream()>>>(rows * n, n, out, bias, false);
    checkLaunch("addBias");
  }
  void biasTanh(std::size_t rows, std::size_t n, float* out, const float* bias) {
    addBiasKernel<<<blocksFor(rows * n), 256, 0, stream()>>>(rows * n, n, out, bias, true);
    checkLaunch("biasTanh");
  }
  void tanhGradient(std::size_t n, float* gradient, const float* tanhOut) {
    tanhGradientKernel<<<blocksFor(n), 256, 0, stream()>>>(n, gradient, tanhOut);
    checkLaunch("tanhGradient");
  }
  void columnSums(std::size_t rows, std::size_t n, const float* in, float* out) {
    const std::size_t floats = 2 * gpu::columnSumScratch(rows, n);
    if (scratch.size() < floats) {
      synchronize();  // the old scratch may still be read by queued work
      scratch = Buffer(floats);
    }
    const double* sums =
        gpu::columnSums(*context, rows, n, gpu::RowValues{in, n}, reinterpret_cast<double*>(scratch.data()));
    gpu::storeFirstSums<<<blocksFor(n), 256, 0, stream()>>>(n, sums, out);
    checkLaunch("storeSums");
  }
  void attentionPool(std::size_t batch, std::size_t steps, std::size_t units, float* scores, const float* sequence,
                     float* context_) {
    softmaxRows<<<blocksFor(batch, 64), 64, 0, stream()>>>(batch, steps, scores);
    checkLaunch("softmaxRows");
    poolContext<<<blocksFor(batch * units), 256, 0, stream()>>>(batch, steps, units, scores, sequence, context_);
    checkLaunch("poolContext");
  }
  void attentionPoolBackward(std::size_t batch, std::size_t steps, std::size_t units, const float* alpha,
                             const float* sequence, const float* dContext, float* dScores, float* dSequence) {
    poolBackwardRows<<<blocksFor(batch * steps), 256, 0, stream()>>>(batch, steps, units, alpha, sequence, dContext,
                                                                      dScores, dSequence);
    checkLaunch("poolBackwardRows");
    softmaxGradientRows<<<blocksFor(batch, 64), 64, 0, stream()>>>(batch, steps, alpha, dScores);
    checkLaunch("softmaxGradientRows");
  }
  void dropout(std::size_t n, const DropoutKey& key, float* data) {
    dropoutKernel<<<blocksFor(n), 256, 0, stream()>>>(n, key, data);
    checkLaunch("dropout");
  }
  void movingAverage(std::size_t n, float* moving, const float* batch, float decay) {
    movingAverageKernel<<<blocksFor(n), 256, 0, stream()>>>(n, moving, batch, decay);
    checkLaunch("movingAverage");
  }
  void weightAverage(std::size_t n, float* average, const float* value, float decay, float oneMinusDecay) {
    weightAverageKernel<<<blocksFor(n), 256, 0, stream()>>>(n, average, value, decay, oneMinusDecay);
    checkLaunch("weightAverage");
  }
  void adam(const AdamStep& step, const std::vector<AdamVariable>& variables) {
    for (const AdamVariable& x : variables) gpu::adamUpdate(*context, step, x.count, x.value, x.m, x.v, x.gradient, x.value, x.m, x.v);
  }
};

}  // namespace

std::unique_ptr<ModelTrainer> makeGpuTrainer(const ModelStepConfig& config) {
  return std::make_unique<ModelTrainerOn<GpuStepOps>>(config, GpuStepOps{});
}

}  // namespace ser
