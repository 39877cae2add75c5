#include "dsp/mfcc.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/errors.h"
#include "common/fast_math.h"
#include "common/simd.h"

namespace ser {

namespace {

// The decibels of every value, by the vectorised log10 (libm's log10f is a scalar call).
SER_HOT_WIDE void toDecibels(float* values, std::size_t n, float amin, float refDb) {
  for (std::size_t i = 0; i < n; ++i) {
    // amin > 0 is normal, and NaN is taken to amin as std::max(amin, NaN) did.
    const float v = values[i] > amin ? values[i] : amin;
    values[i] = 10.0f * fastmath::log10Normal(v) - refDb;
  }
}

// The largest of n values, none of them NaN (max is exact, so lanes may take them in any order).
SER_HOT_WIDE float largest(const float* values, std::size_t n) {
  typedef float Vec __attribute__((vector_size(64)));
  Vec best = Vec{} - INFINITY;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    Vec v;
    std::memcpy(&v, values + i, sizeof v);
    best = best > v ? best : v;
  }
  float result = -INFINITY;
  for (int l = 0; l < 16; ++l) result = std::max(result, best[l]);
  for (; i < n; ++i) result = std::max(result, values[i]);
  return result;
}

}  // namespace

float powerToDbUnfloored(Span<float> values, const DbConfig& config) {
  const float amin = static_cast<float>(config.amin);
  const float refDb = static_cast<float>(10.0 * std::log10(std::max(config.amin, config.ref)));
  toDecibels(values.data(), values.size(), amin, refDb);
  return largest(values.data(), values.size());
}

float dbFloor(float maxDb, const DbConfig& config) {
  if (!std::isfinite(maxDb)) throw InputError("the spectrum overflowed float32 (samples far outside [-1, 1]?)");
  return config.topDb ? maxDb - static_cast<float>(*config.topDb) : -INFINITY;
}

void applyDbFloor(Span<float> values, float floorDb) {
  for (float& v : values) v = std::max(v, floorDb);
}

void powerToDb(Span<float> values, const DbConfig& config) {
  if (values.empty()) return;
  const float maxDb = powerToDbUnfloored(values, config);
  const float floorDb = dbFloor(maxDb, config);
  if (config.topDb) applyDbFloor(values, floorDb);
}

// Whole 16-float vectors per row, so the AVX-512 pass loads rows without a tail.
std::size_t dctRowStride(std::size_t nOut) { return (nOut + 15) / 16 * 16; }

std::vector<float> dctOrthoMatrix(std::size_t nOut, std::size_t nIn) {
  const std::size_t stride = dctRowStride(nOut);
  std::vector<float> matrix(nIn * stride, 0.0f);
  const double pi = 3.14159265358979323846;
  for (std::size_t k = 0; k < nOut; ++k) {
    const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / static_cast<double>(nIn));
    for (std::size_t n = 0; n < nIn; ++n) {
      matrix[n * stride + k] = static_cast<float>(
          scale * std::cos(pi * static_cast<double>(k) * (2.0 * static_cast<double>(n) + 1.0) / (2.0 * static_cast<double>(nIn))));
    }
  }
  return matrix;
}

namespace {

typedef float Vec8 __attribute__((vector_size(32)));
typedef float Vec16 __attribute__((vector_size(64)));

// Coefficients [first, first + 8 * Vectors) of frames x0 and x1: each coefficient sums its inputs in
// order, eight-wide, with no horizontal sums (a dot product per coefficient spent most of its time
// reducing); two frames share each matrix load and give the multiply-adds independent chains.
template <std::size_t Vectors>
__attribute__((always_inline)) inline void dctPass(const float* matrix, std::size_t stride, std::size_t nIn, std::size_t first, const float* x0,
                    const float* x1, Vec8* acc0, Vec8* acc1) {
  Vec8 a0[Vectors] = {}, a1[Vectors] = {};
  for (std::size_t n = 0; n < nIn; ++n) {
    const Vec8 b0 = Vec8{} + x0[n], b1 = Vec8{} + x1[n];
    const float* row = matrix + n * stride + first;
    for (std::size_t v = 0; v < Vectors; ++v) {
      Vec8 m;
      std::memcpy(&m, row + 8 * v, sizeof m);
      a0[v] += m * b0;
      a1[v] += m * b1;
    }
  }
  for (std::size_t v = 0; v < Vectors; ++v) {
    acc0[v] = a0[v];
    acc1[v] = a1[v];
  }
}

// The AVX-512 build: four frames share each row load (three 16-wide vectors: 48 coefficients), twelve
// accumulators. Each coefficient still sums its inputs in order with one multiply-add each, so its
// bits equal the 8-wide pass's.
template <std::size_t Vectors>
__attribute__((always_inline)) inline void dctPassWide(const float* matrix, std::size_t stride, std::size_t nIn,
                                                       std::size_t first, const float* const* x, Vec16* acc) {
  constexpr std::size_t kFrames = 4;
  Vec16 a[kFrames][Vectors] = {};
  for (std::size_t n = 0; n < nIn; ++n) {
    const float* row = matrix + n * stride + first;
    Vec16 m[Vectors];
    for (std::size_t v = 0; v < Vectors; ++v) std::memcpy(&m[v], row + 16 * v, sizeof m[v]);
    for (std::size_t f = 0; f < kFrames; ++f) {
      const Vec16 b = Vec16{} + x[f][n];
      for (std::size_t v = 0; v < Vectors; ++v) a[f][v] += m[v] * b;
    }
  }
  for (std::size_t f = 0; f < kFrames; ++f) {
    for (std::size_t v = 0; v < Vectors; ++v) acc[f * Vectors + v] = a[f][v];
  }
}

SER_HOT_WIDE void applyDctWide(const float* matrix, std::size_t stride, std::size_t nOut, std::size_t nIn,
                               std::size_t frames, const float* in, float* out) {
  constexpr std::size_t kFrames = 4;
  constexpr std::size_t kVectors = 3;
  for (std::size_t t = 0; t < frames; t += kFrames) {
    const float* x[kFrames];
    // A last partial group repeats its last frame; the repeats are computed, not written.
    for (std::size_t f = 0; f < kFrames; ++f) x[f] = in + std::min(t + f, frames - 1) * nIn;
    for (std::size_t first = 0; first < nOut; first += 16 * kVectors) {
      Vec16 acc[kFrames * kVectors];
      switch (std::min(kVectors, (stride - first) / 16)) {
        case 1: dctPassWide<1>(matrix, stride, nIn, first, x, acc); break;
        case 2: dctPassWide<2>(matrix, stride, nIn, first, x, acc); break;
        default: dctPassWide<3>(matrix, stride, nIn, first, x, acc);
      }
      const std::size_t vectors = std::min(kVectors, (stride - first) / 16);
      const std::size_t width = std::min(16 * vectors, nOut - first);
      for (std::size_t f = 0; f < kFrames && t + f < frames; ++f) {
        float block[16 * kVectors];
        std::memcpy(block, &acc[f * vectors], vectors * sizeof(Vec16));
        std::copy(block, block + width, out + (t + f) * nOut + first);
      }
    }
  }
}

// The AVX2 and baseline build: two frames at a time, eight-wide.
SER_HOT void applyDctNarrow(const float* matrix, std::size_t stride, std::size_t nOut, std::size_t nIn,
                            std::size_t frames, const float* in, float* out) {
  // Up to 40 coefficients (the default) in one pass of five vectors: ten accumulators and the two
  // broadcasts fit AVX2's sixteen registers.
  constexpr std::size_t kVectors = 5;
  for (std::size_t t = 0; t < frames; t += 2) {
    const bool pair = t + 1 < frames;
    const float* x0 = in + t * nIn;
    const float* x1 = pair ? x0 + nIn : x0;  // a lone last frame is computed twice, written once
    for (std::size_t first = 0; first < nOut; first += 8 * kVectors) {
      Vec8 acc0[kVectors], acc1[kVectors];
      switch (std::min(kVectors, (stride - first) / 8)) {
        case 1: dctPass<1>(matrix, stride, nIn, first, x0, x1, acc0, acc1); break;
        case 2: dctPass<2>(matrix, stride, nIn, first, x0, x1, acc0, acc1); break;
        case 3: dctPass<3>(matrix, stride, nIn, first, x0, x1, acc0, acc1); break;
        case 4: dctPass<4>(matrix, stride, nIn, first, x0, x1, acc0, acc1); break;
        default: dctPass<5>(matrix, stride, nIn, first, x0, x1, acc0, acc1);
      }
      const std::size_t width = std::min(8 * kVectors, nOut - first);
      float block[8 * kVectors];
      std::memcpy(block, acc0, width * sizeof(float));
      std::copy(block, block + width, out + t * nOut + first);
      if (pair) {
        std::memcpy(block, acc1, width * sizeof(float));
        std::copy(block, block + width, out + (t + 1) * nOut + first);
      }
    }
  }
}

}  // namespace

void applyDct(const std::vector<float>& matrix, std::size_t nOut, std::size_t nIn, Span<const float> in, Span<float> out) {
  if (nIn == 0 || in.size() % nIn != 0) throw InputError("applyDct: input is not a whole number of frames");
  const std::size_t frames = in.size() / nIn;
  const std::size_t stride = dctRowStride(nOut);
  if (out.size() != frames * nOut || matrix.size() != nIn * stride) throw InputError("applyDct: size mismatch");
  if (wideVectors()) applyDctWide(matrix.data(), stride, nOut, nIn, frames, in.data(), out.data());
  else applyDctNarrow(matrix.data(), stride, nOut, nIn, frames, in.data(), out.data());
}

}  // namespace ser
