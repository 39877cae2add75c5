#include "nn/activation.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/simd.h"

namespace ser {
namespace {

// exp(t) for t in [0, 88] (below FLT_MAX's log): t = n ln2 + r with |r| <= ln2 / 2, a degree-7
// polynomial for exp(r) (Cephes expf's coefficients), and 2^n made from its exponent bits, so every
// step is a plain arithmetic or integer op the vectoriser maps to lanes.
inline float expNonNegative(float t) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  const std::int32_t n = static_cast<std::int32_t>(t * kLog2e + 0.5f);  // t >= 0: truncation rounds
  const float nf = static_cast<float>(n);
  const float r = (t - nf * kLn2Hi) - nf * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t bits = (n + 127) << 23;  // n <= 127 for t <= 88
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline std::uint32_t bitsOf(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

inline float select(bool condition, float whenTrue, float whenFalse) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(condition);
  const std::uint32_t bits = (bitsOf(whenTrue) & mask) | (bitsOf(whenFalse) & ~mask);
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

inline float tanhOne(float x) {
  // tanh is odd: the magnitude from |x|, the sign of x put back at the end (tanh(-0) is -0).
  const float a = std::fabs(x);
  // |x| < 0.625: an odd polynomial (Cephes tanhf's coefficients), free of the cancellation in 1 - e.
  const float z = a * a;
  float q = -5.70498872745e-3f;
  q = q * z + 2.06390887954e-2f;
  q = q * z - 5.37397155531e-2f;
  q = q * z + 1.33314422036e-1f;
  q = q * z - 3.33332819422e-1f;
  const float small = q * z * a + a;
  // Otherwise 1 - 2 / (exp(2|x|) + 1); beyond 44 it is 1 in float.
  const float twice = 2.0f * a < 88.0f ? 2.0f * a : 88.0f;
  const float large = 1.0f - 2.0f / (expNonNegative(twice) + 1.0f);
  // A select by bit masks rather than a ternary, which GCC leaves as a branch between the two paths.
  return std::copysign(select(a < 0.625f, small, select(x != x, x, large)), x);
}

}  // namespace

SER_HOT void tanhArray(const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = tanhOne(x[i]);
}

}  // namespace ser
