// A bidirectional LSTM over whole sequences in one call each way, with the gate order, activations and
// zero initial state of tfjs-layers' LSTM (i, f, c, o; z = x W + h U + b). The forward pass keeps the
// time-major inputs, pre-activations, hidden and cell states, gate activations and the cells' tanh in a
// workspace; backpropagation through time reads them back and computes no transcendental function. Input projections and weight gradients are whole-sequence GEMMs on the pool;
// the two directions' recurrences run side by side.
#pragma once
#include <cstddef>

namespace ser {

enum class GateActivation { HardSigmoid, Sigmoid };

struct LstmShape {
  std::size_t batch = 0, steps = 0, inputSize = 0, units = 0;
  GateActivation gates = GateActivation::HardSigmoid;

  std::size_t inputFloats() const { return batch * steps * inputSize; }
  std::size_t outputFloats() const { return batch * steps * 2 * units; }
  std::size_t kernelFloats() const { return inputSize * 4 * units; }
  std::size_t recurrentFloats() const { return units * 4 * units; }
  std::size_t biasFloats() const { return 4 * units; }
  // What the forward pass leaves for the backward pass (both directions).
  std::size_t workspaceFloats() const { return 2 * steps * batch * (inputSize + 11 * units); }
};

// One direction's weights: kernel [inputSize, 4 units], recurrent kernel [units, 4 units], bias [4 units]
// (null: no bias).
struct LstmWeights {
  const float* kernel = nullptr;
  const float* recurrent = nullptr;
  const float* bias = nullptr;
};

struct LstmGradients {
  float* kernel = nullptr;
  float* recurrent = nullptr;
  float* bias = nullptr;  // may be null when the layer has no bias
};

// Throws InputError on a zero size or a size product that overflows.
void validateLstmShape(const LstmShape& shape);

// x [batch, steps, inputSize] -> y [batch, steps, 2 units]: the forward direction's h in [0, units),
// the backward direction's (run from the last step to the first, re-aligned to the original steps) in
// [units, 2 units). workspace holds workspaceFloats().
void bilstmForward(const LstmShape& shape, const LstmWeights& forward, const LstmWeights& backward, const float* x,
                   float* y, float* workspace);

// dy [batch, steps, 2 units] -> dx [batch, steps, inputSize] (null: not wanted) and each direction's
// weight gradients (overwritten). workspace is the forward pass's and is clobbered.
void bilstmBackward(const LstmShape& shape, const LstmWeights& forward, const LstmWeights& backward,
                    float* workspace, const float* dy, float* dx, const LstmGradients& dForward,
                    const LstmGradients& dBackward);

}  // namespace ser
