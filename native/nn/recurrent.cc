#include "nn/recurrent.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/fast_math.h"
#include "common/simd.h"
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

// tfjs's hardSigmoid is clip(0.5 + 0.2 z, 0, 1); its gradient passes where 0 <= 0.5 + 0.2 z <= 1. Written
// as bit-mask selects (a ternary stays a branch in GCC's output), so the cell loops below vectorise: as
// branches they ran scalar, at about 14 ns a cell, and slower on whichever direction's values crossed
// the clip's ends more often (the backward direction, 5% at one thread, 15% beside the other direction).
inline float hardSigmoid(float z) {
  const float y = 0.5f + 0.2f * z;
  return fastmath::select(y < 0.0f, 0.0f, fastmath::select(y > 1.0f, 1.0f, y));
}

inline float hardSigmoidSlope(float z) {
  const float y = 0.5f + 0.2f * z;
  return fastmath::select(y >= 0.0f && y <= 1.0f, 0.2f, 0.0f);
}

// One row's gate activations: i, f, o through the gate function, the candidate g through tanh.
SER_HOT_WIDE void activateGates(GateActivation kind, std::size_t u, const float* z, float* act) {
  if (kind == GateActivation::Sigmoid) {
    for (std::size_t j = 0; j < u; ++j) {
      act[j] = fastmath::sigmoid(z[j]);
      act[u + j] = fastmath::sigmoid(z[u + j]);
      act[3 * u + j] = fastmath::sigmoid(z[3 * u + j]);
    }
  } else {
    for (std::size_t j = 0; j < u; ++j) {
      act[j] = hardSigmoid(z[j]);
      act[u + j] = hardSigmoid(z[u + j]);
      act[3 * u + j] = hardSigmoid(z[3 * u + j]);
    }
  }
  for (std::size_t j = 0; j < u; ++j) act[2 * u + j] = fastmath::tanh(z[2 * u + j]);
}

// c = f cPrev + i g (cPrev null: the zero initial state), its tanh, h = o tanh(c), h also into out.
SER_HOT_WIDE void updateCell(std::size_t u, const float* act, const float* cPrev, float* c, float* cellTanh, float* h,
                             float* out) {
  const float* i = act;
  const float* f = act + u;
  const float* g = act + 2 * u;
  const float* o = act + 3 * u;
  if (cPrev != nullptr) {
    for (std::size_t j = 0; j < u; ++j) c[j] = f[j] * cPrev[j] + i[j] * g[j];
  } else {
    for (std::size_t j = 0; j < u; ++j) c[j] = 0.0f + i[j] * g[j];
  }
  for (std::size_t j = 0; j < u; ++j) {
    cellTanh[j] = fastmath::tanh(c[j]);
    h[j] = o[j] * cellTanh[j];
    out[j] = h[j];
  }
}

// One row's step back: the pre-activations z [4u] become their gradients; dh is the gradient reaching
// h from the next step, dcCarry the cell's (updated to what reaches cPrev).
SER_HOT_WIDE void cellBackward(GateActivation kind, std::size_t u, float* z, const float* act, const float* cellTanh,
                               const float* cPrev, const float* dOut, const float* dh, float* dcCarry) {
  const bool hard = kind == GateActivation::HardSigmoid;
  for (std::size_t j = 0; j < u; ++j) {
    const float i = act[j], f = act[u + j], g = act[2 * u + j], o = act[3 * u + j];
    const float tc = cellTanh[j];
    const float dhj = dOut[j] + dh[j];
    const float dc = dcCarry[j] + dhj * o * (1.0f - tc * tc);
    // sigmoid's slope from its value; hardSigmoid's from the pre-activation, read before it is overwritten.
    const float slopeI = hard ? hardSigmoidSlope(z[j]) : i * (1.0f - i);
    const float slopeF = hard ? hardSigmoidSlope(z[u + j]) : f * (1.0f - f);
    const float slopeO = hard ? hardSigmoidSlope(z[3 * u + j]) : o * (1.0f - o);
    z[j] = dc * g * slopeI;
    z[u + j] = cPrev != nullptr ? dc * cPrev[j] * slopeF : 0.0f;
    z[2 * u + j] = dc * i * (1.0f - g * g);
    z[3 * u + j] = dhj * tc * slopeO;
    dcCarry[j] = dc * f;
  }
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
// U is packed into the GEMM's panels once a sequence, not at each of its steps (a product of 32 rows
// packed a 112 x 448 U every time: 30% of its time, and 60% for the backward pass's U^T).
void runForward(const LstmShape& s, const LstmWeights& w, const Direction& d, float* y) {
  const std::size_t u = s.units, g4 = 4 * u;
  thread_local PackedRight recurrent;
  recurrent.pack(u, g4, false, 0, w.recurrent);
  for (std::size_t step = 0; step < s.steps; ++step) {
    float* z = d.gates + step * s.batch * g4;
    if (step > 0) gemmPackedRight(GemmShape{s.batch, g4, u}, d.hidden + (step - 1) * s.batch * u, recurrent, z, true);
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
      activateGates(s.gates, u, zr, act);
      updateCell(u, act, cPrev, c, tc, h, out);
    }
  }
}

// Backpropagation through time of one direction: turns the stored pre-activations into their
// gradients, step by step from the last processed step back to the first.
void runBackward(const LstmShape& s, const LstmWeights& w, const Direction& d, const float* dy) {
  const std::size_t u = s.units, g4 = 4 * u;
  std::vector<float> dhNext(s.batch * u, 0.0f), dcNext(s.batch * u, 0.0f);
  thread_local PackedRight recurrentTransposed;
  recurrentTransposed.pack(g4, u, true, 0, w.recurrent);
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
      cellBackward(s.gates, u, zr, act, cellTanh, cPrev, dOut, dh, dcCarry);
    }
    // dh[step-1] = dz[step] U^T
    if (step > 0) gemmPackedRight(GemmShape{s.batch, u, g4}, z, recurrentTransposed, dhNext.data(), false);
  }
}

// The column sums of dz: the bias gradient, each column added in row order whatever the threads.
void biasGradient(const LstmShape& s, const Direction& d, float* bias) {
  const std::size_t g4 = 4 * s.units, rows = s.steps * s.batch;
  constexpr std::size_t kColumns = 64;
  parallelFor((g4 + kColumns - 1) / kColumns, [&](std::size_t block) {
    const std::size_t first = block * kColumns, end = std::min(g4, first + kColumns);
    double sums[kColumns] = {};
    for (std::size_t r = 0; r < rows; ++r) {
      const float* dz = d.gates + r * g4;
      for (std::size_t j = first; j < end; ++j) sums[j - first] += dz[j];
    }
    for (std::size_t j = first; j < end; ++j) bias[j] = static_cast<float>(sums[j - first]);
  });
}

// One direction's weight gradients (and, wanted, its input gradient in place of its inputs) on the
// calling thread's share of the pool.
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
  if (grads.bias != nullptr) biasGradient(s, d, grads.bias);
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
  // Whole-sequence input projections, both directions' in one pool loop (with two threads, one a thread:
  // split row-wise, each thread had packed the whole kernel of both).
  GemmJob projections[2];
  for (int k = 0; k < 2; ++k) {
    projections[k] = GemmJob{GemmShape{rows, 4 * s.units, s.inputSize}, dirs[k].inputs, weights[k]->kernel, dirs[k].gates, false};
  }
  gemmMany(projections, 2);
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
  if (threadCount() <= 2) {
    // A direction a thread: its products one after another, each packing its operands once. Split
    // product by product over two threads, each thread packed the whole shared operand of every one of
    // the six and the pool waited six times: 8.8-9.1 against 7.8-8.1 ms a step (seed preset, paired).
    parallelFor(2, [&](std::size_t k) { weightGradients(s, *weights[k], dirs[k], *grads[k], dx != nullptr); });
  } else {
    // More threads than directions: every product is split over all of them, both directions' at once.
    const std::size_t u = s.units, g4 = 4 * u, rows = s.steps * s.batch;
    std::vector<GemmJob> products;
    for (int k = 0; k < 2; ++k) {
      products.push_back(GemmJob{GemmShape{s.inputSize, g4, rows, true, false}, dirs[k].inputs, dirs[k].gates, grads[k]->kernel, false});
      if (s.steps > 1) {
        products.push_back(GemmJob{GemmShape{u, g4, rows - s.batch, true, false}, dirs[k].hidden,
                                   dirs[k].gates + s.batch * g4, grads[k]->recurrent, false});
      } else {
        std::fill(grads[k]->recurrent, grads[k]->recurrent + u * g4, 0.0f);
      }
    }
    gemmMany(products.data(), products.size());
    for (int k = 0; k < 2; ++k) {
      if (grads[k]->bias != nullptr) biasGradient(s, dirs[k], grads[k]->bias);
    }
    if (dx != nullptr) {
      // The inputs are no longer needed: their gradient dz W^T takes their place.
      GemmJob inputGradients[2];
      for (int k = 0; k < 2; ++k) {
        inputGradients[k] = GemmJob{GemmShape{rows, s.inputSize, g4, false, true}, dirs[k].gates, weights[k]->kernel, dirs[k].inputs, false};
      }
      gemmMany(inputGradients, 2);
    }
  }
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
