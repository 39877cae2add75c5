// Transcendental functions for float arrays, written so the compiler vectorises a loop over them:
// libm's tanhf and log10f are scalar calls (about 20 ns and 8 ns here), and both engines spend a
// share of their time in them (the LSTM's tanh, the decibel scale of every spectrogram). Each is a
// range reduction, a published Cephes polynomial and selects made of bit masks (a ternary between two
// paths stays a branch in GCC's output and stops the vectoriser). A file using them is compiled with
// -fno-trapping-math, so both sides of a select may be computed in every lane.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ser {
namespace fastmath {

inline std::uint32_t bitsOf(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

inline float fromBits(std::uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

inline float select(bool condition, float whenTrue, float whenFalse) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(condition);
  return fromBits((bitsOf(whenTrue) & mask) | (bitsOf(whenFalse) & ~mask));
}

// exp(t) for t in [0, 88] (below FLT_MAX's log): t = n ln2 + r with |r| <= ln2 / 2, Cephes expf's
// polynomial for exp(r), and 2^n made from its exponent bits.
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
  return p * fromBits(static_cast<std::uint32_t>(n + 127) << 23);  // n <= 127 for t <= 88
}

// tanh(x) within 1 ulp of the correctly rounded value; tanh(-0) = -0, NaN stays NaN, +-inf gives +-1.
inline float tanh(float x) {
  // tanh is odd: the magnitude from |x|, the sign of x put back at the end.
  const float a = std::fabs(x);
  // |x| < 0.625: Cephes tanhf's odd polynomial, free of the cancellation in 1 - e.
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
  return std::copysign(select(a < 0.625f, small, select(x != x, x, large)), x);
}

// 1 / (1 + exp(-z)) within 2 ulp for |z| <= 88, from exp(|z|) (e): e / (e + 1) for z >= 0, 1 / (1 + e)
// below. Past 88 the value at +-88 (within 7e-39 of the exact one); NaN stays NaN.
inline float sigmoid(float z) {
  const float a = std::fabs(z);
  const float e = expNonNegative(a < 88.0f ? a : 88.0f);
  const float value = select(z >= 0.0f, e / (e + 1.0f), 1.0f / (1.0f + e));
  return select(z != z, z, value);
}

// log10(x) for normal x > 0 (and +inf), within 2 ulp: x = m 2^e with m in [sqrt(1/2), sqrt(2)), Cephes
// logf's polynomial for log(m), then e ln2 added in two parts and the sum scaled by log10(e).
inline float log10Normal(float x) {
  constexpr float kSqrtHalf = 0.707106781186547524f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kLog10e = 0.434294481903251828f;
  const std::uint32_t bits = bitsOf(x);
  const float exponent = static_cast<float>(static_cast<std::int32_t>(bits >> 23) - 127);
  const float mantissa = fromBits((bits & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  // m in [sqrt(1/2), sqrt(2)): halve a mantissa above sqrt(2) and count it in the exponent.
  const bool high = mantissa > 2.0f * kSqrtHalf;
  const float m = select(high, 0.5f * mantissa, mantissa) - 1.0f;
  const float e = select(high, exponent + 1.0f, exponent);
  const float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float y = p * m * z + e * kLn2Lo - 0.5f * z;
  const float ln = (m + y) + e * kLn2Hi;
  return select(x > 3.40282347e38f, x, ln * kLog10e);
}

}  // namespace fastmath
}  // namespace ser
