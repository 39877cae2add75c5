#include "nn/model_step.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "common/aligned.h"
#include "common/errors.h"
#include "nn/activation.h"
#include "nn/model_step_impl.h"
#include "nn/optimizer.h"
#include "nn/threadpool.h"

namespace ser {

std::size_t ModelTensor::size() const {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

void validateModelStepConfig(const ModelStepConfig& c) {
  if (c.maxBatch == 0 || c.frames == 0 || c.coeffs == 0 || c.classes == 0 || c.lstmUnits == 0 ||
      c.attentionUnits == 0 || c.convFilters.empty()) {
    throw InputError("the model's sizes must be positive and it needs at least one convolution block");
  }
  // Each size far beyond any real model is refused, so every product of sizes below fits in 64 bits.
  constexpr std::size_t kLargestSize = std::size_t{1} << 16, kLargestFrames = std::size_t{1} << 22;
  if (c.maxBatch > kLargestSize || c.coeffs > kLargestSize || c.classes > kLargestSize || c.lstmUnits > kLargestSize ||
      c.attentionUnits > kLargestSize || c.frames > kLargestFrames || c.convFilters.size() > 32) {
    throw InputError("a model size is out of range (batch, coefficients, classes and units at most 65536, frames at most 4194304)");
  }
  std::size_t height = c.frames, width = c.coeffs;
  for (std::size_t filters : c.convFilters) {
    if (filters == 0 || filters > kLargestSize) throw InputError("a convolution block needs 1 to 65536 filters");
    if (height < 2 || width < 2) {
      throw InputError("input " + std::to_string(c.frames) + " x " + std::to_string(c.coeffs) + " is too small for " +
                       std::to_string(c.convFilters.size()) + " pooling blocks");
    }
    height /= 2;
    width /= 2;
  }
  if (!(c.dropoutRate >= 0.0f && c.dropoutRate < 1.0f)) throw InputError("dropout rate must be in [0, 1)");
  if (!(c.batchNormMomentum >= 0.0 && c.batchNormMomentum <= 1.0)) throw InputError("batch-norm momentum must be in [0, 1]");
  // The largest activations (the first block's output, the BiLSTM's workspace) and every dropout mask's
  // 32-bit element index.
  const double batch = static_cast<double>(c.maxBatch);
  const double lstmRows = batch * static_cast<double>(height);
  const double elements = std::max(batch * c.frames * c.coeffs * c.convFilters[0],
                                   2.0 * lstmRows * (static_cast<double>(width) * c.convFilters.back() + 11.0 * c.lstmUnits));
  if (elements > 4e9 || batch * 2.0 * c.lstmUnits > 4e9) {
    throw InputError("the batch is too large for one training step (" + std::to_string(c.maxBatch) + " rows)");
  }
}

std::vector<ModelTensor> modelTensors(const ModelStepConfig& c) {
  validateModelStepConfig(c);
  std::vector<ModelTensor> trainable, moving;
  std::size_t channels = 1, height = c.frames, width = c.coeffs;
  for (std::size_t i = 0; i < c.convFilters.size(); ++i) {
    const std::string n = std::to_string(i + 1), filters = "";
    trainable.push_back({"conv" + n + "/kernel", {3, 3, channels, c.convFilters[i]}});
    trainable.push_back({"bn" + n + "/gamma", {c.convFilters[i]}});
    trainable.push_back({"bn" + n + "/beta", {c.convFilters[i]}});
    moving.push_back({"bn" + n + "/moving_mean", {c.convFilters[i]}});
    moving.push_back({"bn" + n + "/moving_variance", {c.convFilters[i]}});
    channels = c.convFilters[i];
    height /= 2;
    width /= 2;
  }
  const std::size_t input = width * channels, u = c.lstmUnits, a = c.attentionUnits;
  for (const char* side : {"forward", "backward"}) {
    const std::string prefix = std::string("bilstm/") + side + "_lstm/";
    trainable.push_back({prefix + "kernel", {input, 4 * u}});
    trainable.push_back({prefix + "recurrent_kernel", {u, 4 * u}});
    trainable.push_back({prefix + "bias", {4 * u}});
  }
  trainable.push_back({"attention_hidden/kernel", {2 * u, a}});
  trainable.push_back({"attention_hidden/bias", {a}});
  trainable.push_back({"attention_score/kernel", {a, 1}});
  trainable.push_back({"emotion/kernel", {2 * u, c.classes}});
  trainable.push_back({"emotion/bias", {c.classes}});
  std::vector<ModelTensor> all = trainable;
  all.insert(all.end(), moving.begin(), moving.end());
  for (const ModelTensor& t : trainable) {
    all.push_back({t.name + "/m", t.shape});
    all.push_back({t.name + "/v", t.shape});
  }
  for (const ModelTensor& t : trainable) all.push_back({t.name + "/average", t.shape});
  return all;
}

namespace {

// The step's ops on the CPU engine; every loop below is tfjs's arithmetic in float32.
struct CpuStepOps {
  using Buffer = AlignedVector<float>;
  static constexpr const char* kDevice = "cpu";
  static constexpr std::size_t kRowsPerTask = 64;

  Buffer alloc(std::size_t n) { return Buffer(n, 0.0f); }
  void upload(Buffer& to, const float* from, std::size_t n) { std::copy(from, from + n, to.data()); }
  void download(const Buffer& from, float* to, std::size_t n) { std::copy(from.data(), from.data() + n, to); }
  void synchronize() {}

  std::size_t convBlockWorkspaceFloats(const ConvBlockShape& s) { return s.workspaceFloats(); }
  std::size_t lstmWorkspaceFloats(const LstmShape& s) { return s.workspaceFloats(); }
  void convBlockForward(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                        const float* beta, float* y, float* mean, float* variance, float* workspace) {
    ser::convBlockForward(s, x, filter, gamma, beta, y, mean, variance, workspace);
  }
  void convBlockBackward(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                         const float* mean, const float* variance, float* workspace, const float* dy, float* dx,
                         float* dFilter, float* dGamma, float* dBeta) {
    ser::convBlockBackward(s, x, filter, gamma, mean, variance, workspace, dy, dx, dFilter, dGamma, dBeta);
  }
  void bilstmForward(const LstmShape& s, const LstmWeights& f, const LstmWeights& b, const float* x, float* y,
                     float* workspace) {
    ser::bilstmForward(s, f, b, x, y, workspace);
  }
  void bilstmBackward(const LstmShape& s, const LstmWeights& f, const LstmWeights& b, float* workspace,
                      const float* dy, float* dx, const LstmGradients& df, const LstmGradients& db) {
    ser::bilstmBackward(s, f, b, workspace, dy, dx, df, db);
  }
  void gemm(const GemmShape& s, const float* a, const float* b, float* c, bool accumulate) {
    ser::gemm(s, a, b, c, accumulate);
  }
  void addBias(std::size_t rows, std::size_t n, float* out, const float* bias) {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t j = 0; j < n; ++j) out[r * n + j] += bias[j];
    }
  }
  // The attention's elementwise passes (rows = batch x steps) run over the pool in fixed row ranges;
  // each value is computed alone, so the bits do not depend on the split.
  void biasTanh(std::size_t rows, std::size_t n, float* out, const float* bias) {
    parallelFor((rows + kRowsPerTask - 1) / kRowsPerTask, [&](std::size_t task) {
      const std::size_t first = task * kRowsPerTask, count = std::min(kRowsPerTask, rows - first);
      addBias(count, n, out + first * n, bias);
      tanhArray(out + first * n, out + first * n, count * n);
    });
  }
  void tanhGradient(std::size_t n, float* gradient, const float* tanhOut) {
    constexpr std::size_t kValuesPerTask = 1 << 14;
    parallelFor((n + kValuesPerTask - 1) / kValuesPerTask, [&](std::size_t task) {
      const std::size_t end = std::min(n, (task + 1) * kValuesPerTask);
      for (std::size_t i = task * kValuesPerTask; i < end; ++i) gradient[i] *= 1.0f - tanhOut[i] * tanhOut[i];
    });
  }
  // Each column summed in row order (in double) whatever the split: column blocks are the tasks.
  void columnSums(std::size_t rows, std::size_t n, const float* in, float* out) {
    constexpr std::size_t kColumns = 32;
    parallelFor((n + kColumns - 1) / kColumns, [&](std::size_t block) {
      const std::size_t first = block * kColumns, end = std::min(n, first + kColumns);
      double sums[kColumns] = {};
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t j = first; j < end; ++j) sums[j - first] += in[r * n + j];
      }
      for (std::size_t j = first; j < end; ++j) out[j] = static_cast<float>(sums[j - first]);
    });
  }
  // scores [batch, steps] become alpha = softmax over steps; context[b] = sum over t of alpha[b, t] S[b, t].
  void attentionPool(std::size_t batch, std::size_t steps, std::size_t units, float* scores, const float* sequence,
                     float* context) {
    parallelFor(batch, [&](std::size_t b) {
      float* alpha = scores + b * steps;
      float largest = alpha[0];
      for (std::size_t t = 1; t < steps; ++t) largest = std::max(largest, alpha[t]);
      float total = 0.0f;
      for (std::size_t t = 0; t < steps; ++t) total += (alpha[t] = std::exp(alpha[t] - largest));
      for (std::size_t t = 0; t < steps; ++t) alpha[t] /= total;
      float* out = context + b * units;
      std::fill(out, out + units, 0.0f);
      for (std::size_t t = 0; t < steps; ++t) {
        const float* row = sequence + (b * steps + t) * units;
        for (std::size_t d = 0; d < units; ++d) out[d] += alpha[t] * row[d];
      }
    });
  }
  // dScores = alpha (dAlpha - sum alpha dAlpha) with dAlpha[b, t] = dContext[b] . S[b, t];
  // dSequence[b, t] = alpha[b, t] dContext[b] (overwritten).
  void attentionPoolBackward(std::size_t batch, std::size_t steps, std::size_t units, const float* alpha,
                             const float* sequence, const float* dContext, float* dScores, float* dSequence) {
    parallelFor(batch, [&](std::size_t b) {
      thread_local std::vector<float> dAlpha;
      dAlpha.resize(steps);
      const float* a = alpha + b * steps;
      const float* dc = dContext + b * units;
      float weighted = 0.0f;
      for (std::size_t t = 0; t < steps; ++t) {
        const float* row = sequence + (b * steps + t) * units;
        float dot = 0.0f;
        for (std::size_t d = 0; d < units; ++d) dot += dc[d] * row[d];
        dAlpha[t] = dot;
        weighted += dot * a[t];
        float* dRow = dSequence + (b * steps + t) * units;
        for (std::size_t d = 0; d < units; ++d) dRow[d] = a[t] * dc[d];
      }
      for (std::size_t t = 0; t < steps; ++t) dScores[b * steps + t] = a[t] * (dAlpha[t] - weighted);
    });
  }
  void dropout(std::size_t n, const DropoutKey& key, float* data) {
    for (std::size_t i = 0; i < n; ++i) data[i] *= dropoutValue(key, static_cast<std::uint32_t>(i));
  }
  void movingAverage(std::size_t n, float* moving, const float* batch, float decay) {
    for (std::size_t i = 0; i < n; ++i) moving[i] = moving[i] - (moving[i] - batch[i]) * decay;
  }
  void weightAverage(std::size_t n, float* average, const float* value, float decay, float oneMinusDecay) {
    constexpr std::size_t kValuesPerTask = 1 << 15;
    parallelFor((n + kValuesPerTask - 1) / kValuesPerTask, [&](std::size_t task) {
      const std::size_t end = std::min(n, (task + 1) * kValuesPerTask);
      for (std::size_t i = task * kValuesPerTask; i < end; ++i) average[i] = average[i] * decay + value[i] * oneMinusDecay;
    });
  }
  void adam(const AdamStep& step, const std::vector<AdamVariable>& variables) {
    adamUpdateAll(step, variables.data(), variables.size());
  }
};

}  // namespace

std::unique_ptr<ModelTrainer> makeCpuTrainer(const ModelStepConfig& config) {
  return std::make_unique<ModelTrainerOn<CpuStepOps>>(config, CpuStepOps{});
}

}  // namespace ser
