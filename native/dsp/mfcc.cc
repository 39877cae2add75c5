#include "dsp/mfcc.h"

#include <algorithm>
#include <cmath>

#include "common/errors.h"
#include "common/fast_math.h"
#include "dsp/dot.h"
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

std::vector<float> dctOrthoMatrix(std::size_t nOut, std::size_t nIn) {
  std::vector<float> matrix(nOut * nIn);
  const double pi = 3.14159265358979323846;
  for (std::size_t k = 0; k < nOut; ++k) {
    const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / static_cast<double>(nIn));
    for (std::size_t n = 0; n < nIn; ++n) {
      matrix[k * nIn + n] = static_cast<float>(
          scale * std::cos(pi * static_cast<double>(k) * (2.0 * static_cast<double>(n) + 1.0) / (2.0 * static_cast<double>(nIn))));
    }
  }
  return matrix;
}

SER_HOT void applyDct(const std::vector<float>& matrix, std::size_t nOut, std::size_t nIn, Span<const float> in,
              Span<float> out) {
  if (nIn == 0 || in.size() % nIn != 0) throw InputError("applyDct: input is not a whole number of frames");
  const std::size_t frames = in.size() / nIn;
  if (out.size() != frames * nOut || matrix.size() != nOut * nIn) throw InputError("applyDct: size mismatch");
  for (std::size_t t = 0; t < frames; ++t) {
    const float* x = in.data() + t * nIn;
    float* y = out.data() + t * nOut;
    for (std::size_t k = 0; k < nOut; ++k) y[k] = dotProduct(&matrix[k * nIn], x, nIn);
  }
}

}  // namespace ser
