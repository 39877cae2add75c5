#include "dsp/standardise.h"

#include "common/simd.h"

namespace ser {
namespace {

// Every frame: (x - mean) / stddev in double. A float subtraction would round before the division; in
// double the difference of two floats is exact (or rounded far below float precision) and the quotient
// is rounded to float once, as JavaScript's arithmetic on Float32Array values does.
SER_HOT_WIDE void standardiseAll(float* values, std::size_t frames, std::size_t coeffs, const float* mean, const float* stddev) {
  for (std::size_t f = 0; f < frames; ++f) {
    float* frame = values + f * coeffs;
    for (std::size_t c = 0; c < coeffs; ++c) {
      frame[c] = static_cast<float>((static_cast<double>(frame[c]) - static_cast<double>(mean[c])) / static_cast<double>(stddev[c]));
    }
  }
}

// A product of two floats is exact in double, so float multiplication gives the rounded product that
// Math.fround(a * b) gives; a sum of two floats rounded from double to float is the float sum (double
// has more than 2 x 24 + 2 bits). This file is built without contraction: a fused multiply-add would
// skip the products' rounding.
SER_HOT_WIDE void mixAll(const float* values, std::size_t rows, std::size_t width, const int32_t* partner, float own, float other,
                         float* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* mine = values + r * width;
    const float* theirs = values + static_cast<std::size_t>(partner[r]) * width;
    float* mixed = out + r * width;
    for (std::size_t i = 0; i < width; ++i) {
      const float a = mine[i] * own;
      const float b = theirs[i] * other;
      mixed[i] = a + b;
    }
  }
}

}  // namespace

void standardiseFrames(float* values, std::size_t frames, std::size_t coeffs, const float* mean, const float* stddev) {
  standardiseAll(values, frames, coeffs, mean, stddev);
}

void mixRows(const float* values, std::size_t rows, std::size_t width, const int32_t* partner, float own, float other,
             float* out) {
  mixAll(values, rows, width, partner, own, other, out);
}

}  // namespace ser
