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
SER_HOT void toDecibels(float* values, std::size_t n, float amin, float refDb) {
  for (std::size_t i = 0; i < n; ++i) {
    // amin > 0 is normal, and NaN is taken to amin as std::max(amin, NaN) did.
    const float v = values[i] > amin ? values[i] : amin;
    values[i] = 10.0f * fastmath::log10Normal(v) - refDb;
  }
}

}  // namespace

float powerToDbUnfloored(Span<float> values, const DbConfig& config) {
  const float amin = static_cast<float>(config.amin);
  const float refDb = static_cast<float>(10.0 * std::log10(std::max(config.amin, config.ref)));
  toDecibels(values.data(), values.size(), amin, refDb);
  float maxDb = -INFINITY;
  for (float v : values) maxDb = std::max(maxDb, v);
  return maxDb;
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

std::size_t dctRowStride(std::size_t nOut) { return (nOut + 7) / 8 * 8; }

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

SER_HOT void applyDct(const std::vector<float>& matrix, std::size_t nOut, std::size_t nIn, Span<const float> in,
              Span<float> out) {
  if (nIn == 0 || in.size() % nIn != 0) throw InputError("applyDct: input is not a whole number of frames");
  const std::size_t frames = in.size() / nIn;
  const std::size_t stride = dctRowStride(nOut);
  if (out.size() != frames * nOut || matrix.size() != nIn * stride) throw InputError("applyDct: size mismatch");
  // A frame's outputs accumulate one input at a time in 8-wide registers, up to 64 outputs per pass:
  // no horizontal sums (a dot product per coefficient spent most of its time reducing), and each
  // coefficient sums its inputs in order, the same bits on every run.
  typedef float Vec8 __attribute__((vector_size(32)));
  constexpr std::size_t kVectors = 8;
  for (std::size_t t = 0; t < frames; ++t) {
    const float* x = in.data() + t * nIn;
    float* y = out.data() + t * nOut;
    for (std::size_t first = 0; first < nOut; first += 8 * kVectors) {
      const std::size_t vectors = std::min(kVectors, (stride - first) / 8);
      Vec8 acc[kVectors] = {};
      for (std::size_t n = 0; n < nIn; ++n) {
        const Vec8 xn = Vec8{} + x[n];
        const float* row = matrix.data() + n * stride + first;
        for (std::size_t v = 0; v < vectors; ++v) {
          Vec8 m;
          std::memcpy(&m, row + 8 * v, sizeof m);
          acc[v] += m * xn;
        }
      }
      float block[8 * kVectors];
      std::memcpy(block, acc, sizeof block);
      std::copy(block, block + std::min(8 * kVectors, nOut - first), y + first);
    }
  }
}

}  // namespace ser
