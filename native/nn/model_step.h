// The whole training step of the project's model (src/train/model.ts: Conv2D blocks -> BiLSTM ->
// additive attention pooling -> dropout -> dense softmax, cross-entropy on soft targets, Adam, the batch
// norms' moving statistics and the weight average) as one engine call, with every tensor resident in
// the trainer: on the CPU engine, or on the GPU where a step uploads the batch once and reads back the
// logits alone. The arithmetic is the tfjs layers' and optimiser's, op for op as the fused ops do it,
// so a step here matches a step of the tfjs model on the `native` backend (checked in the tests) and a
// run can move between the two at any epoch boundary.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/optimizer.h"
#include "nn/recurrent.h"

namespace ser {

struct ModelStepConfig {
  std::size_t maxBatch = 0, frames = 0, coeffs = 0, classes = 0;
  std::vector<std::size_t> convFilters;  // 3 x 3 'same' convolutions, each block pooled 2 x 2
  std::size_t lstmUnits = 0, attentionUnits = 0;
  float dropoutRate = 0.0f;                 // after each block and after the attention pooling
  double batchNormMomentum = 0.99;  // double, as tfjs holds it: the decay is 1 - momentum rounded once
  float batchNormEpsilon = 1e-3f;
  GateActivation gates = GateActivation::HardSigmoid;
};

// The trainer's tensors, in the tfjs model's `weights` order: the trainable weights, then the batch
// norms' moving statistics; then each trainable weight's Adam moments (name/m, name/v) and its weight
// average (name/average).
struct ModelTensor {
  std::string name;
  std::vector<std::size_t> shape;
  std::size_t size() const;
};

// Every count is checked against the trainer's sizes before anything is read.
struct StepInputs {
  const float* x = nullptr;  // [batch, frames, coeffs]
  const float* y = nullptr;  // [batch, classes]: target distributions (mixup gives soft ones)
  std::size_t batch = 0;     // 1 .. maxBatch
  std::size_t xCount = 0, yCount = 0;
  const float* classWeights = nullptr;  // [classes], or null
  std::size_t classWeightCount = 0;
  AdamStep adam;
  // Mask seeds of this step's dropouts: one per convolution block, then the one after the attention.
  std::vector<std::uint64_t> dropoutSeeds;
  // The weight average's decay this step (min(d, (1 + step) / (10 + step))); negative: no average.
  float averageDecay = -1.0f;
  float averageOneMinusDecay = 0.0f;  // 1 - decay computed in double, then rounded (as tfjs scalars are)
};

struct StepResult {
  double loss = 0.0;      // the batch's mean cross-entropy (class-weighted when weights are given)
  std::size_t hits = 0;   // rows whose largest probability is the target's largest class
};

class ModelTrainer {
 public:
  virtual ~ModelTrainer() = default;
  virtual const std::vector<ModelTensor>& tensors() const = 0;
  // Whole tensors by index into tensors(); count must be the tensor's size.
  virtual void write(std::size_t tensor, const float* values, std::size_t count) = 0;
  virtual void read(std::size_t tensor, float* values, std::size_t count) = 0;
  virtual StepResult step(const StepInputs& inputs) = 0;
  virtual const char* device() const = 0;  // "cpu" or "gpu"
};

// Throws InputError on a configuration the step cannot run (a zero size, input too small to pool).
void validateModelStepConfig(const ModelStepConfig& config);
std::vector<ModelTensor> modelTensors(const ModelStepConfig& config);

std::unique_ptr<ModelTrainer> makeCpuTrainer(const ModelStepConfig& config);
// Throws std::runtime_error with probeGpu()'s reason where no GPU can be used (always without CUDA).
std::unique_ptr<ModelTrainer> makeGpuTrainer(const ModelStepConfig& config);

}  // namespace ser
