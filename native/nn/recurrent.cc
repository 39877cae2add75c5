#include "nn/recurrent.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/errors.h"
#include "nn/activation.h"
#include "nn/gemm.h"
#include "nn/threadpool.h"

namespace ser {
namespace {

// One direction's slice of the workspace, all time-major in processing order (step s of the backward
// direction is original step steps - 1 - s).
struct Direction {
  float* inputs;  // [steps, batch, inputSize]; after backward, the input gradient
  float* gates;   // [steps, batch, 4 units] pre-activations (bias included); after backward, their gradient
  float* hidden;  // [steps, batch, units]
  float* cells;   // [steps, batch, units]
  float* activations;  // [steps, batch, 4 units]: i, f, g, o after their activations
  float* cellTanh;     // [steps, batch, units]: tanh of the cells
  bool reversed;
  std::size_t outputOffset;  // units column where this direction's h goes in y
};

Direction direction(const LstmShape& s, float* workspace, int which) {
  const std::size_t rows = s.steps * s.batch;
  const std::size_t per = rows * (s.inputSize + 11 * s.units);
  float* base = workspace + static_cast<std::size_t>(which) * per;
  Direction d;
  d.inputs = base;
  d.gates = d.inputs + rows * s.inputSize;
  d.hidden = d.gates + rows * 4 * s.units;
  d.cells = d.hidden + rows * s.units;
  d.activations = d.cells + rows * s.units;
  d.cellTanh = d.activations + rows * 4 * s.units;
  d.reversed = which == 1;
  d.outputOffset = which == 1 ? s.units : 0;
  return d;
}

std::size_t originalStep(const LstmShape& s, const Direction& d, std::size_t step) {
  return d.reversed ? s.steps - 1 - step : step;
}

// tfjs's hardSigmoid is clip(0.5 + 0.2 z, 0, 1); its gradient passes where 0 <= 0.5 + 0.2 z <= 1.
inline float gate(GateActivation kind, float z) {
  if (kind == GateActivation::Sigmoid) return 1.0f / (1.0f + std::exp(-z));
  const float y = 0.5f + 0.2f * z;
  return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
}

inline float gateSlope(GateActivation kind, float z, float activated) {
  if (kind == GateActivation::Sigmoid) return activated * (1.0f - activated);
  const float y = 0.5f + 0.2f * z;
  return (y >= 0.0f && y <= 1.0f) ? 0.2f : 0.0f;
}

void gatherInputs(const LstmShape& s, const Direction& d, const float* x) {
  for (std::size_t step = 0; step < s.steps; ++step) {
    const std::size_t t = originalStep(s, d, step);
    for (std::size_t b = 0; b < s.batch; ++b) {
      const float* src = x + (b * s.steps + t) * s.inputSize;
      std::copy(src, src + s.inputSize, d.inputs + (step * s.batch + b) * s.inputSize);
    }
  }
}

// The recurrence of one direction: gates[step] += h[step-1] U, then the cell update.
void runForward(const LstmShape& s, const LstmWeights& w, const Direction& d, float* y) {
  const std::size_t u = s.units, g4 = 4 * u;
  for (std::size_t step = 0; step < s.steps; ++step) {
    float* z = d.gates + step * s.batch * g4;
    if (step > 0) {
      GemmShape rec{s.batch, g4, u, false, false};
      gemm(rec, d.hidden + (step - 1) * s.batch * u, w.recurrent, z, true);
    }
    const std::size_t t = originalStep(s, d, step);
    for (std::size_t b = 0; b < s.batch; ++b) {
      float* zr = z + b * g4;
      const float* cPrev = step > 0 ? d.cells + ((step - 1) * s.batch + b) * u : nullptr;
      float* c = d.cells + (step * s.batch + b) * u;
      float* h = d.hidden + (step * s.batch + b) * u;
      float* act = d.activations + (step * s.batch + b) * g4;
      float* tc = d.cellTanh + (step * s.batch + b) * u;
      float* out = y + (b * s.steps + t) * 2 * u + d.outputOffset;
      if (w.bias != nullptr) {
        for (std::size_t k = 0; k < g4; ++k) zr[k] += w.bias[k];
      }
      for (std::size_t j = 0; j < u; ++j) {
        act[j] = gate(s.gates, zr[j]);
        act[u + j] = gate(s.gates, zr[u + j]);
        act[3 * u + j] = gate(s.gates, zr[3 * u + j]);
      }
      // The candidate and the cell's tanh a row at a time: a vectorised tanh instead of libm's scalar one.
      tanhArray(zr + 2 * u, act + 2 * u, u);
      const float* i = act;
      const float* f = act + u;
      const float* g = act + 2 * u;
      const float* o = act + 3 * u;
      for (std::size_t j = 0; j < u; ++j) c[j] = (cPrev ? f[j] * cPrev[j] : 0.0f) + i[j] * g[j];
      tanhArray(c, tc, u);
      for (std::size_t j = 0; j < u; ++j) {
        h[j] = o[j] * tc[j];
        out[j] = h[j];
      }
    }
  }
}

// Backpropagation through time of one direction: turns the stored pre-activations into their
// gradients, step by step from the last processed step back to the first.
void runBackward(const LstmShape& s, const LstmWeights& w, const Direction& d, const float* dy) {
  const std::size_t u = s.units, g4 = 4 * u;
  std::vector<float> dhNext(s.batch * u, 0.0f), dcNext(s.batch * u, 0.0f);
  for (std::size_t step = s.steps; step-- > 0;) {
    float* z = d.gates + step * s.batch * g4;
    const std::size_t t = originalStep(s, d, step);
    for (std::size_t b = 0; b < s.batch; ++b) {
      float* zr = z + b * g4;
      const float* cPrev = step > 0 ? d.cells + ((step - 1) * s.batch + b) * u : nullptr;
      const float* act = d.activations + (step * s.batch + b) * g4;
      const float* cellTanh = d.cellTanh + (step * s.batch + b) * u;
      const float* dOut = dy + (b * s.steps + t) * 2 * u + d.outputOffset;
      float* dh = dhNext.data() + b * u;
      float* dcCarry = dcNext.data() + b * u;
      for (std::size_t j = 0; j < u; ++j) {
        const float zi = zr[j], zf = zr[u + j], zo = zr[3 * u + j];
        const float i = act[j], f = act[u + j], g = act[2 * u + j], o = act[3 * u + j];
        const float tc = cellTanh[j];
        const float dhj = dOut[j] + dh[j];
        const float dc = dcCarry[j] + dhj * o * (1.0f - tc * tc);
        zr[j] = dc * g * gateSlope(s.gates, zi, i);
        zr[u + j] = cPrev ? dc * cPrev[j] * gateSlope(s.gates, zf, f) : 0.0f;
        zr[2 * u + j] = dc * i * (1.0f - g * g);
        zr[3 * u + j] = dhj * tc * gateSlope(s.gates, zo, o);
        dcCarry[j] = dc * f;
      }
    }
    if (step > 0) {
      // dh[step-1] = dz[step] U^T
      GemmShape back{s.batch, u, g4, false, true};
      gemm(back, z, w.recurrent, dhNext.data(), false);
    }
  }
}

void weightGradients(const LstmShape& s, const LstmWeights& w, const Direction& d, const LstmGradients& grads,
                     bool wantInputs) {
  const std::size_t u = s.units, g4 = 4 * u, rows = s.steps * s.batch;
  // dKernel = inputs^T dz; dRecurrent = h[0..steps-2]^T dz[1..steps-1]; dBias = column sums of dz.
  gemm(GemmShape{s.inputSize, g4, rows, true, false}, d.inputs, d.gates, grads.kernel, false);
  if (s.steps > 1) {
    gemm(GemmShape{u, g4, rows - s.batch, true, false}, d.hidden, d.gates + s.batch * g4, grads.recurrent, false);
  } else {
    std::fill(grads.recurrent, grads.recurrent + u * g4, 0.0f);
  }
  if (grads.bias != nullptr) {
    // Column sums in column blocks over the pool: each column added in row order whatever the threads.
    constexpr std::size_t kColumns = 64;
    parallelFor((g4 + kColumns - 1) / kColumns, [&](std::size_t block) {
      const std::size_t first = block * kColumns, end = std::min(g4, first + kColumns);
      double sums[kColumns] = {};
      for (std::size_t r = 0; r < rows; ++r) {
        const float* dz = d.gates + r * g4;
        for (std::size_t j = first; j < end; ++j) sums[j - first] += dz[j];
      }
      for (std::size_t j = first; j < end; ++j) grads.bias[j] = static_cast<float>(sums[j - first]);
    });
  }
  // The inputs are no longer needed: their gradient dz W^T takes their place.
  if (wantInputs) gemm(GemmShape{rows, s.inputSize, g4, false, true}, d.gates, w.kernel, d.inputs, false);
}

}  // namespace

void validateLstmShape(const LstmShape& s) {
  if (s.batch == 0 || s.steps == 0 || s.inputSize == 0 || s.units == 0) {
    throw InputError("LSTM sizes must be positive (batch " + std::to_string(s.batch) + ", steps " +
                     std::to_string(s.steps) + ", input " + std::to_string(s.inputSize) + ", units " +
                     std::to_string(s.units) + ")");
  }
  const double floats = 2.0 * s.steps * s.batch * (s.inputSize + 11.0 * s.units);
  if (floats > static_cast<double>(std::numeric_limits<std::ptrdiff_t>::max() / 8)) {
    throw InputError("LSTM sizes are too large");
  }
}

void bilstmForward(const LstmShape& s, const LstmWeights& forward, const LstmWeights& backward, const float* x,
                   float* y, float* workspace) {
  validateLstmShape(s);
  const Direction dirs[2] = {direction(s, workspace, 0), direction(s, workspace, 1)};
  const LstmWeights* weights[2] = {&forward, &backward};
  const std::size_t rows = s.steps * s.batch;
  parallelFor(2, [&](std::size_t k) { gatherInputs(s, dirs[k], x); });
  // Whole-sequence input projections, each spread over the pool.
  for (int k = 0; k < 2; ++k) {
    gemm(GemmShape{rows, 4 * s.units, s.inputSize, false, false}, dirs[k].inputs, weights[k]->kernel, dirs[k].gates,
         false);
  }
  parallelFor(2, [&](std::size_t k) { runForward(s, *weights[k], dirs[k], y); });
}

void bilstmBackward(const LstmShape& s, const LstmWeights& forward, const LstmWeights& backward,
                    float* workspace, const float* dy, float* dx, const LstmGradients& dForward,
                    const LstmGradients& dBackward) {
  validateLstmShape(s);
  const Direction dirs[2] = {direction(s, workspace, 0), direction(s, workspace, 1)};
  const LstmWeights* weights[2] = {&forward, &backward};
  const LstmGradients* grads[2] = {&dForward, &dBackward};
  parallelFor(2, [&](std::size_t k) { runBackward(s, *weights[k], dirs[k], dy); });
  for (int k = 0; k < 2; ++k) weightGradients(s, *weights[k], dirs[k], *grads[k], dx != nullptr);
  if (dx == nullptr) return;
  // dx[b, t] = forward's gradient at step t + backward's at step steps - 1 - t.
  const std::size_t in = s.inputSize;
  parallelFor(s.batch, [&](std::size_t b) {
    for (std::size_t t = 0; t < s.steps; ++t) {
      const float* f = dirs[0].inputs + (t * s.batch + b) * in;
      const float* r = dirs[1].inputs + ((s.steps - 1 - t) * s.batch + b) * in;
      float* out = dx + (b * s.steps + t) * in;
      for (std::size_t j = 0; j < in; ++j) out[j] = f[j] + r[j];
    }
  });
}

}  // namespace ser
