// The model's training step written once over an engine's ops (CpuStepOps in model_step.cc,
// GpuStepOps in cuda/model_step.cu). Ops supply buffers (Buffer: data(), size()), copies from and to
// the host, the fused ops, GEMM and the step's small kernels; the orchestration, the tensor list and the
// loss (computed on the host from the batch's logits, a few hundred numbers) are shared.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/errors.h"
#include "nn/conv_block.h"
#include "nn/dropout.h"
#include "nn/gemm.h"
#include "nn/model_step.h"

namespace ser {

template <class Ops>
class ModelTrainerOn final : public ModelTrainer {
  using Buffer = typename Ops::Buffer;

 public:
  ModelTrainerOn(const ModelStepConfig& config, Ops ops) : config_(config), ops_(std::move(ops)) {
    validateModelStepConfig(config);
    tensors_ = modelTensors(config);
    for (const ModelTensor& t : tensors_) storage_.push_back(ops_.alloc(t.size()));
    const std::size_t blocks = config.convFilters.size();
    trainable_ = 3 * blocks + 6 + 5;
    for (std::size_t i = 0; i < trainable_; ++i) gradients_.push_back(ops_.alloc(tensors_[i].size()));
    std::size_t height = config.frames, width = config.coeffs, channels = 1;
    for (std::size_t i = 0; i < blocks; ++i) {
      ConvBlockShape s = blockShape(config.maxBatch, height, width, channels, config.convFilters[i]);
      workspaces_.push_back(ops_.alloc(ops_.convBlockWorkspaceFloats(s)));
      outputs_.push_back(ops_.alloc(s.outputSize()));
      outputGradients_.push_back(ops_.alloc(s.outputSize()));
      means_.push_back(ops_.alloc(s.channels()));
      variances_.push_back(ops_.alloc(s.channels()));
      height /= 2;
      width /= 2;
      channels = config.convFilters[i];
    }
    steps_ = height;
    lstmInput_ = width * channels;
    const LstmShape lstm = lstmShape(config.maxBatch);
    lstmWorkspace_ = ops_.alloc(ops_.lstmWorkspaceFloats(lstm));
    const std::size_t rows = config.maxBatch * steps_, units = 2 * config.lstmUnits;
    input_ = ops_.alloc(config.maxBatch * config.frames * config.coeffs);
    sequence_ = ops_.alloc(rows * units);
    sequenceGradient_ = ops_.alloc(rows * units);
    hidden_ = ops_.alloc(rows * config.attentionUnits);
    hiddenGradient_ = ops_.alloc(rows * config.attentionUnits);
    scores_ = ops_.alloc(rows);
    scoreGradient_ = ops_.alloc(rows);
    context_ = ops_.alloc(config.maxBatch * units);
    contextGradient_ = ops_.alloc(config.maxBatch * units);
    logits_ = ops_.alloc(config.maxBatch * config.classes);
    logitGradient_ = ops_.alloc(config.maxBatch * config.classes);
    hostLogits_.resize(config.maxBatch * config.classes);
    hostLogitGradient_.resize(config.maxBatch * config.classes);
  }

  const std::vector<ModelTensor>& tensors() const override { return tensors_; }
  const char* device() const override { return Ops::kDevice; }

  void write(std::size_t tensor, const float* values, std::size_t count) override {
    checkTensor(tensor, count);
    ops_.upload(storage_[tensor], values, count);
  }

  void read(std::size_t tensor, float* values, std::size_t count) override {
    checkTensor(tensor, count);
    ops_.download(storage_[tensor], values, count);
  }

  StepResult step(const StepInputs& in) override {
    const std::size_t blocks = config_.convFilters.size();
    const std::size_t batch = in.batch, classes = config_.classes;
    if (batch == 0 || batch > config_.maxBatch) {
      throw InputError("a training step's batch must hold 1 to " + std::to_string(config_.maxBatch) + " rows, got " +
                       std::to_string(batch));
    }
    const auto requireCount = [](const char* what, std::size_t got, std::size_t expected) {
      if (got != expected) {
        throw InputError(std::string("a training step's ") + what + " must hold " + std::to_string(expected) +
                         " floats, got " + std::to_string(got));
      }
    };
    requireCount("x", in.xCount, batch * config_.frames * config_.coeffs);
    requireCount("y", in.yCount, batch * classes);
    if (in.classWeights != nullptr) requireCount("class weights", in.classWeightCount, classes);
    if (in.dropoutSeeds.size() != blocks + 1) {
      throw InputError("a training step needs " + std::to_string(blocks + 1) + " dropout seeds, got " +
                       std::to_string(in.dropoutSeeds.size()));
    }
    ops_.upload(input_, in.x, batch * config_.frames * config_.coeffs);

    // Convolution blocks, each updating its batch norm's moving statistics as tfjs's layer does.
    std::vector<ConvBlockShape> shapes;
    const float* x = input_.data();
    std::size_t height = config_.frames, width = config_.coeffs, channels = 1;
    for (std::size_t i = 0; i < blocks; ++i) {
      ConvBlockShape s = blockShape(batch, height, width, channels, config_.convFilters[i]);
      s.dropoutRate = config_.dropoutRate;
      s.dropoutSeed = in.dropoutSeeds[i];
      shapes.push_back(s);
      ops_.convBlockForward(s, x, weight(3 * i), weight(3 * i + 1), weight(3 * i + 2), outputs_[i].data(),
                            means_[i].data(), variances_[i].data(), workspaces_[i].data());
      const float decay = static_cast<float>(1.0 - config_.batchNormMomentum);
      ops_.movingAverage(s.channels(), tensor(movingIndex(i)), means_[i].data(), decay);
      ops_.movingAverage(s.channels(), tensor(movingIndex(i) + 1), variances_[i].data(), decay);
      x = outputs_[i].data();
      height /= 2;
      width /= 2;
      channels = config_.convFilters[i];
    }

    // The BiLSTM over the blocks' output read as [batch, steps, width x channels] (the same memory).
    const LstmShape lstm = lstmShape(batch);
    const std::size_t l = 3 * blocks;
    const LstmWeights forward{weight(l), weight(l + 1), weight(l + 2)};
    const LstmWeights backward{weight(l + 3), weight(l + 4), weight(l + 5)};
    ops_.bilstmForward(lstm, forward, backward, x, sequence_.data(), lstmWorkspace_.data());

    // Attention pooling: hidden = tanh(S Wa + ba); scores = hidden v; alpha = softmax over time;
    // context = sum over time of alpha S. Then dropout and the dense head.
    const std::size_t a = l + 6, rows = batch * steps_, units = 2 * config_.lstmUnits, att = config_.attentionUnits;
    ops_.gemm(GemmShape{rows, att, units, false, false}, sequence_.data(), weight(a), hidden_.data(), false);
    ops_.biasTanh(rows, att, hidden_.data(), weight(a + 1));
    ops_.gemm(GemmShape{rows, 1, att, false, false}, hidden_.data(), weight(a + 2), scores_.data(), false);
    ops_.attentionPool(batch, steps_, units, scores_.data(), sequence_.data(), context_.data());
    const DropoutKey key = dropoutKey(in.dropoutSeeds[blocks], config_.dropoutRate);
    const bool dropout = config_.dropoutRate > 0.0f;
    if (dropout) ops_.dropout(batch * units, key, context_.data());
    ops_.gemm(GemmShape{batch, classes, units, false, false}, context_.data(), weight(a + 3), logits_.data(), false);
    ops_.addBias(batch, classes, logits_.data(), weight(a + 4));
    ops_.download(logits_, hostLogits_.data(), batch * classes);
    const StepResult result = softmaxCrossEntropy(in);
    ops_.upload(logitGradient_, hostLogitGradient_.data(), batch * classes);

    // Backward: the head, the dropout, the pooling, the attention's dense layers.
    ops_.gemm(GemmShape{units, classes, batch, true, false}, context_.data(), logitGradient_.data(), gradient(a + 3), false);
    ops_.columnSums(batch, classes, logitGradient_.data(), gradient(a + 4));
    ops_.gemm(GemmShape{batch, units, classes, false, true}, logitGradient_.data(), weight(a + 3),
              contextGradient_.data(), false);
    if (dropout) ops_.dropout(batch * units, key, contextGradient_.data());
    ops_.attentionPoolBackward(batch, steps_, units, scores_.data(), sequence_.data(), contextGradient_.data(),
                               scoreGradient_.data(), sequenceGradient_.data());
    ops_.gemm(GemmShape{att, 1, rows, true, false}, hidden_.data(), scoreGradient_.data(), gradient(a + 2), false);
    ops_.gemm(GemmShape{rows, att, 1, false, true}, scoreGradient_.data(), weight(a + 2), hiddenGradient_.data(), false);
    ops_.tanhGradient(rows * att, hiddenGradient_.data(), hidden_.data());
    ops_.gemm(GemmShape{units, att, rows, true, false}, sequence_.data(), hiddenGradient_.data(), gradient(a), false);
    ops_.columnSums(rows, att, hiddenGradient_.data(), gradient(a + 1));
    ops_.gemm(GemmShape{rows, units, att, false, true}, hiddenGradient_.data(), weight(a), sequenceGradient_.data(), true);

    // The BiLSTM and the blocks, last to first; the first block's input needs no gradient.
    const LstmGradients dForward{gradient(l), gradient(l + 1), gradient(l + 2)};
    const LstmGradients dBackward{gradient(l + 3), gradient(l + 4), gradient(l + 5)};
    ops_.bilstmBackward(lstm, forward, backward, lstmWorkspace_.data(), sequenceGradient_.data(),
                        outputGradients_[blocks - 1].data(), dForward, dBackward);
    for (std::size_t i = blocks; i-- > 0;) {
      const float* blockInput = i == 0 ? input_.data() : outputs_[i - 1].data();
      ops_.convBlockBackward(shapes[i], blockInput, weight(3 * i), weight(3 * i + 1), means_[i].data(),
                             variances_[i].data(), workspaces_[i].data(), outputGradients_[i].data(),
                             i == 0 ? nullptr : outputGradients_[i - 1].data(), gradient(3 * i), gradient(3 * i + 1),
                             gradient(3 * i + 2));
    }

    // Adam on every trainable weight, then the weight average.
    const std::size_t moments = trainable_ + 2 * blocks;
    std::vector<AdamVariable> variables(trainable_);
    for (std::size_t i = 0; i < trainable_; ++i) {
      variables[i] = AdamVariable{tensors_[i].size(), tensor(i), tensor(moments + 2 * i), tensor(moments + 2 * i + 1),
                                  gradient(i)};
    }
    ops_.adam(in.adam, variables);
    if (in.averageDecay >= 0.0f) {
      const float decay = in.averageDecay, oneMinusDecay = in.averageOneMinusDecay;
      const std::size_t averages = moments + 2 * trainable_;
      for (std::size_t i = 0; i < trainable_; ++i) {
        ops_.weightAverage(tensors_[i].size(), tensor(averages + i), tensor(i), decay, oneMinusDecay);
      }
    }
    ops_.synchronize();
    return result;
  }

 private:
  ConvBlockShape blockShape(std::size_t batch, std::size_t height, std::size_t width, std::size_t inChannels,
                            std::size_t filters) const {
    ConvBlockShape s;
    Conv2DGeometry& g = s.conv;
    g.batch = batch;
    g.inHeight = g.outHeight = height;
    g.inWidth = g.outWidth = width;
    g.inChannels = inChannels;
    g.outChannels = filters;
    g.filterHeight = g.filterWidth = 3;
    g.padTop = g.padLeft = 1;  // tfjs's 'same' for a 3 x 3 filter at stride 1
    s.epsilon = config_.batchNormEpsilon;
    return s;
  }

  LstmShape lstmShape(std::size_t batch) const {
    LstmShape s;
    s.batch = batch;
    s.steps = steps_;
    s.inputSize = lstmInput_;
    s.units = config_.lstmUnits;
    s.gates = config_.gates;
    return s;
  }

  std::size_t movingIndex(std::size_t block) const { return trainable_ + 2 * block; }
  float* tensor(std::size_t i) { return storage_[i].data(); }
  const float* weight(std::size_t i) { return storage_[i].data(); }
  float* gradient(std::size_t i) { return gradients_[i].data(); }

  void checkTensor(std::size_t tensor, std::size_t count) const {
    if (tensor >= tensors_.size()) throw InputError("the trainer has no tensor " + std::to_string(tensor));
    if (count != tensors_[tensor].size()) {
      throw InputError(tensors_[tensor].name + " holds " + std::to_string(tensors_[tensor].size()) + " values, got " +
                       std::to_string(count));
    }
  }

  // tfjs's softmax, clip to [1e-7, 1 - 1e-7], -sum y log p, mean over the batch (times each row's class
  // weight), and its gradient with respect to the logits as tfjs's autodiff forms it (the clip passes
  // the gradient where 1e-7 <= p <= 1 - 1e-7).
  StepResult softmaxCrossEntropy(const StepInputs& in) {
    const std::size_t batch = in.batch, classes = config_.classes;
    const float low = 1e-7f, high = 1.0f - 1e-7f;
    StepResult result;
    double lossSum = 0.0;
    std::vector<float> p(classes), dp(classes);
    for (std::size_t b = 0; b < batch; ++b) {
      const float* z = hostLogits_.data() + b * classes;
      const float* y = in.y + b * classes;
      float largest = z[0];
      for (std::size_t c = 1; c < classes; ++c) largest = std::max(largest, z[c]);
      float total = 0.0f;
      for (std::size_t c = 0; c < classes; ++c) total += (p[c] = std::exp(z[c] - largest));
      std::size_t predicted = 0, target = 0;
      for (std::size_t c = 0; c < classes; ++c) {
        p[c] /= total;
        if (p[c] > p[predicted]) predicted = c;
        if (y[c] > y[target]) target = c;
      }
      if (predicted == target) ++result.hits;
      float rowWeight = 1.0f;
      if (in.classWeights != nullptr) {
        rowWeight = 0.0f;
        for (std::size_t c = 0; c < classes; ++c) rowWeight += y[c] * in.classWeights[c];
      }
      double rowLoss = 0.0;
      const float scale = rowWeight / static_cast<float>(batch);
      float dot = 0.0f;
      for (std::size_t c = 0; c < classes; ++c) {
        const float clipped = std::min(std::max(p[c], low), high);
        rowLoss -= static_cast<double>(y[c]) * std::log(static_cast<double>(clipped));
        dp[c] = (p[c] >= low && p[c] <= high) ? -scale * y[c] / clipped : 0.0f;
        dot += dp[c] * p[c];
      }
      lossSum += rowLoss * rowWeight;
      float* dz = hostLogitGradient_.data() + b * classes;
      for (std::size_t c = 0; c < classes; ++c) dz[c] = p[c] * (dp[c] - dot);
    }
    result.loss = lossSum / static_cast<double>(batch);
    return result;
  }

  ModelStepConfig config_;
  Ops ops_;
  std::vector<ModelTensor> tensors_;
  std::vector<Buffer> storage_, gradients_, workspaces_, outputs_, outputGradients_, means_, variances_;
  std::size_t trainable_ = 0, steps_ = 0, lstmInput_ = 0;
  Buffer lstmWorkspace_, input_, sequence_, sequenceGradient_, hidden_, hiddenGradient_, scores_, scoreGradient_,
      context_, contextGradient_, logits_, logitGradient_;
  std::vector<float> hostLogits_, hostLogitGradient_;
};

}  // namespace ser
