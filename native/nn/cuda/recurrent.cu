// The bidirectional LSTM on the device, in the CPU engine's layout and arithmetic (nn/recurrent.cc):
// whole-sequence input projections and weight gradients as single cuBLAS products, and per step one
// product per direction (h U, or dz U^T) plus one kernel that updates both directions' cells.
#include <algorithm>
#include <cstdint>

#include "nn/cuda/internal.h"

namespace ser {
namespace gpu {
namespace {

struct Direction {
  float* inputs;       // [steps, batch, inputSize]; after backward, the input gradient
  float* gates;        // [steps, batch, 4 units] pre-activations (bias included); after backward, dz
  float* hidden;       // [steps, batch, units]
  float* cells;        // [steps, batch, units]
  float* activations;  // [steps, batch, 4 units]
  float* cellTanh;     // [steps, batch, units]
  float* dh;           // [batch, units]: the gradient carried into the previous step
  float* dc;           // [batch, units]
  const float* bias;   // [4 units] or null
  bool reversed;
  std::size_t outputOffset;
};

struct Pair {
  Direction d[2];
};

struct Sizes {
  std::size_t batch, steps, inputSize, units;
  bool sigmoid;
};

Pair directionsOf(const LstmShape& s, float* workspace, const LstmWeights& forward, const LstmWeights& backward) {
  const std::size_t rows = s.steps * s.batch;
  const std::size_t per = rows * (s.inputSize + 11 * s.units);
  Pair p{};
  for (int which = 0; which < 2; ++which) {
    Direction& d = p.d[which];
    d.inputs = workspace + static_cast<std::size_t>(which) * per;
    d.gates = d.inputs + rows * s.inputSize;
    d.hidden = d.gates + rows * 4 * s.units;
    d.cells = d.hidden + rows * s.units;
    d.activations = d.cells + rows * s.units;
    d.cellTanh = d.activations + rows * 4 * s.units;
    d.dh = workspace + 2 * per + static_cast<std::size_t>(which) * 2 * s.batch * s.units;
    d.dc = d.dh + s.batch * s.units;
    d.bias = which == 0 ? forward.bias : backward.bias;
    d.reversed = which == 1;
    d.outputOffset = which == 1 ? s.units : 0;
  }
  return p;
}

double* biasScratch(const LstmShape& s, float* workspace) {
  if (reinterpret_cast<std::uintptr_t>(workspace) % 8 != 0) throw InputError("a GPU workspace must be 8-byte aligned");
  std::size_t offset = 2 * s.steps * s.batch * (s.inputSize + 11 * s.units) + 4 * s.batch * s.units;
  offset += offset % 2;
  return reinterpret_cast<double*>(workspace + offset);
}

__device__ inline std::size_t originalStep(const Sizes& s, const Direction& d, std::size_t step) {
  return d.reversed ? s.steps - 1 - step : step;
}

// tfjs's hardSigmoid: clip(0.5 + 0.2 z, 0, 1), its gradient 0.2 where 0 <= 0.5 + 0.2 z <= 1.
__device__ inline float gate(bool sigmoid, float z) {
  if (sigmoid) return 1.0f / (1.0f + expf(-z));
  const float y = __fadd_rn(0.5f, __fmul_rn(0.2f, z));
  return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
}

__device__ inline float gateSlope(bool sigmoid, float z, float activated) {
  if (sigmoid) return __fmul_rn(activated, 1.0f - activated);
  const float y = __fadd_rn(0.5f, __fmul_rn(0.2f, z));
  return (y >= 0.0f && y <= 1.0f) ? 0.2f : 0.0f;
}

__global__ void gatherInputs(Sizes s, Pair p, const float* x) {
  const std::size_t per = s.steps * s.batch * s.inputSize;
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= 2 * per) return;
  const Direction& d = p.d[index / per];
  const std::size_t local = index % per;
  const std::size_t j = local % s.inputSize, row = local / s.inputSize;
  const std::size_t step = row / s.batch, b = row % s.batch;
  d.inputs[local] = x[(b * s.steps + originalStep(s, d, step)) * s.inputSize + j];
}

__global__ void cellForward(Sizes s, Pair p, std::size_t step, float* y) {
  const std::size_t u = s.units, per = s.batch * u;
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= 2 * per) return;
  const Direction& d = p.d[index / per];
  const std::size_t b = (index % per) / u, j = index % u;
  const std::size_t row = step * s.batch + b;
  float* z = d.gates + row * 4 * u;
  float* act = d.activations + row * 4 * u;
  float zq[4];
  for (int q = 0; q < 4; ++q) {
    zq[q] = z[q * u + j];
    if (d.bias != nullptr) zq[q] = __fadd_rn(zq[q], d.bias[q * u + j]);
    z[q * u + j] = zq[q];
  }
  const float i = gate(s.sigmoid, zq[0]), f = gate(s.sigmoid, zq[1]), g = tanhf(zq[2]), o = gate(s.sigmoid, zq[3]);
  act[j] = i;
  act[u + j] = f;
  act[2 * u + j] = g;
  act[3 * u + j] = o;
  const float carried = step > 0 ? __fmul_rn(f, d.cells[(row - s.batch) * u + j]) : 0.0f;
  const float c = __fadd_rn(carried, __fmul_rn(i, g));
  const float tc = tanhf(c);
  const float h = __fmul_rn(o, tc);
  d.cells[row * u + j] = c;
  d.cellTanh[row * u + j] = tc;
  d.hidden[row * u + j] = h;
  y[(b * s.steps + originalStep(s, d, step)) * 2 * u + d.outputOffset + j] = h;
}

// Turns step's pre-activations into their gradients; dh holds dz[step + 1] U^T (zero at the last step).
__global__ void cellBackward(Sizes s, Pair p, std::size_t step, const float* dy) {
  const std::size_t u = s.units, per = s.batch * u;
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= 2 * per) return;
  const Direction& d = p.d[index / per];
  const std::size_t b = (index % per) / u, j = index % u;
  const std::size_t row = step * s.batch + b;
  float* z = d.gates + row * 4 * u;
  const float* act = d.activations + row * 4 * u;
  const float i = act[j], f = act[u + j], g = act[2 * u + j], o = act[3 * u + j];
  const float tc = d.cellTanh[row * u + j];
  const float dOut = dy[(b * s.steps + originalStep(s, d, step)) * 2 * u + d.outputOffset + j];
  const float dhj = __fadd_rn(dOut, d.dh[b * u + j]);
  const float dc = __fadd_rn(d.dc[b * u + j], __fmul_rn(__fmul_rn(dhj, o), 1.0f - __fmul_rn(tc, tc)));
  const float zi = z[j], zf = z[u + j], zo = z[3 * u + j];
  z[j] = __fmul_rn(__fmul_rn(dc, g), gateSlope(s.sigmoid, zi, i));
  z[u + j] = step > 0 ? __fmul_rn(__fmul_rn(dc, d.cells[(row - s.batch) * u + j]), gateSlope(s.sigmoid, zf, f)) : 0.0f;
  z[2 * u + j] = __fmul_rn(__fmul_rn(dc, i), 1.0f - __fmul_rn(g, g));
  z[3 * u + j] = __fmul_rn(__fmul_rn(dhj, tc), gateSlope(s.sigmoid, zo, o));
  d.dc[b * u + j] = __fmul_rn(dc, f);
}


// dx[b, t] = the forward direction's input gradient at step t + the backward one's at steps - 1 - t.
__global__ void combineInputGradients(Sizes s, Pair p, float* dx) {
  const std::size_t count = s.batch * s.steps * s.inputSize;
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= count) return;
  const std::size_t j = index % s.inputSize, t = (index / s.inputSize) % s.steps, b = index / (s.inputSize * s.steps);
  dx[index] = __fadd_rn(p.d[0].inputs[(t * s.batch + b) * s.inputSize + j],
                        p.d[1].inputs[((s.steps - 1 - t) * s.batch + b) * s.inputSize + j]);
}

Sizes sizesOf(const LstmShape& s) {
  return {s.batch, s.steps, s.inputSize, s.units, s.gates == GateActivation::Sigmoid};
}

}  // namespace

std::size_t lstmWorkspaceFloats(const LstmShape& s) {
  validateLstmShape(s);
  std::size_t floats = s.workspaceFloats() + 4 * s.batch * s.units;
  floats += floats % 2;
  return floats + 2 * columnSumScratch(s.steps * s.batch, 4 * s.units);
}

void bilstmForward(Context& context, const LstmShape& s, const LstmWeights& forward, const LstmWeights& backward,
                   const float* x, float* y, float* workspace) {
  validateLstmShape(s);
  const Pair p = directionsOf(s, workspace, forward, backward);
  const LstmWeights* weights[2] = {&forward, &backward};
  const Sizes sizes = sizesOf(s);
  const std::size_t rows = s.steps * s.batch, u = s.units, g4 = 4 * u;
  cudaStream_t stream = context.state().stream;
  gatherInputs<<<blocksFor(2 * rows * s.inputSize), 256, 0, stream>>>(sizes, p, x);
  checkLaunch("gatherInputs");
  for (int k = 0; k < 2; ++k) {
    gemm(context, GemmShape{rows, g4, s.inputSize, false, false}, p.d[k].inputs, weights[k]->kernel, p.d[k].gates, false);
  }
  for (std::size_t step = 0; step < s.steps; ++step) {
    if (step > 0) {
      for (int k = 0; k < 2; ++k) {
        gemm(context, GemmShape{s.batch, g4, u, false, false}, p.d[k].hidden + (step - 1) * s.batch * u,
             weights[k]->recurrent, p.d[k].gates + step * s.batch * g4, true);
      }
    }
    cellForward<<<blocksFor(2 * s.batch * u), 256, 0, stream>>>(sizes, p, step, y);
    checkLaunch("cellForward");
  }
}

void bilstmBackward(Context& context, const LstmShape& s, const LstmWeights& forward, const LstmWeights& backward,
                    float* workspace, const float* dy, float* dx, const LstmGradients& dForward,
                    const LstmGradients& dBackward) {
  validateLstmShape(s);
  const Pair p = directionsOf(s, workspace, forward, backward);
  const LstmWeights* weights[2] = {&forward, &backward};
  const LstmGradients* grads[2] = {&dForward, &dBackward};
  const Sizes sizes = sizesOf(s);
  const std::size_t rows = s.steps * s.batch, u = s.units, g4 = 4 * u;
  cudaStream_t stream = context.state().stream;
  // dh and dc of both directions lie together: zero them in one call.
  checkCuda(cudaMemsetAsync(p.d[0].dh, 0, 4 * s.batch * u * sizeof(float), stream), "cudaMemsetAsync");
  for (std::size_t step = s.steps; step-- > 0;) {
    cellBackward<<<blocksFor(2 * s.batch * u), 256, 0, stream>>>(sizes, p, step, dy);
    checkLaunch("cellBackward");
    if (step > 0) {
      for (int k = 0; k < 2; ++k) {
        gemm(context, GemmShape{s.batch, u, g4, false, true}, p.d[k].gates + step * s.batch * g4, weights[k]->recurrent,
             p.d[k].dh, false);
      }
    }
  }
  double* scratch = biasScratch(s, workspace);
  for (int k = 0; k < 2; ++k) {
    const Direction& d = p.d[k];
    gemm(context, GemmShape{s.inputSize, g4, rows, true, false}, d.inputs, d.gates, grads[k]->kernel, false);
    // With one step there is no h[step - 1]: k = 0 rows, and the product zeroes the gradient.
    gemm(context, GemmShape{u, g4, rows - s.batch, true, false}, d.hidden, d.gates + s.batch * g4, grads[k]->recurrent,
         false);
    if (grads[k]->bias != nullptr) {
      const double* sums = columnSums(context, rows, g4, RowValues{d.gates, g4}, scratch);
      storeFirstSums<<<blocksFor(g4), 256, 0, stream>>>(g4, sums, grads[k]->bias);
      checkLaunch("storeSums");
    }
    if (dx != nullptr) {
      gemm(context, GemmShape{rows, s.inputSize, g4, false, true}, d.gates, weights[k]->kernel, d.inputs, false);
    }
  }
  if (dx == nullptr) return;
  combineInputGradients<<<blocksFor(rows * s.inputSize), 256, 0, stream>>>(sizes, p, dx);
  checkLaunch("combineInputGradients");
}

}  // namespace gpu
}  // namespace ser
