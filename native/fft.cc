#include "fft.h"

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "errors.h"

namespace ser {
namespace {

constexpr double kTwoPi = 6.28318530717958647692;

std::vector<std::size_t> factorize(std::size_t n) {
  std::vector<std::size_t> radices;
  while (n % 4 == 0) { radices.push_back(4); n /= 4; }
  while (n % 2 == 0) { radices.push_back(2); n /= 2; }
  for (std::size_t p = 3; p * p <= n; p += 2) {
    while (n % p == 0) { radices.push_back(p); n /= p; }
  }
  if (n > 1) radices.push_back(n);
  return radices;
}

// Stage kernels. Input A holds `count*radix` sub-transforms of length `span` (A[s*span + k]);
// output B holds `count` transforms of length span*radix (B[s*span*radix + q*span + k]).
// Sub-transform s of the output combines inputs s + r*count, r < radix (decimation in time).

template <typename T>
void radix2(std::size_t span, std::size_t count, const T* twRe, const T* twIm, const T* aRe, const T* aIm,
            T* bRe, T* bIm) {
  for (std::size_t s = 0; s < count; ++s) {
    const T* x0r = aRe + s * span;
    const T* x0i = aIm + s * span;
    const T* x1r = aRe + (s + count) * span;
    const T* x1i = aIm + (s + count) * span;
    T* y0r = bRe + s * span * 2;
    T* y0i = bIm + s * span * 2;
    T* y1r = y0r + span;
    T* y1i = y0i + span;
    for (std::size_t k = 0; k < span; ++k) {
      const T tr = x1r[k] * twRe[k] - x1i[k] * twIm[k];
      const T ti = x1r[k] * twIm[k] + x1i[k] * twRe[k];
      y0r[k] = x0r[k] + tr;
      y0i[k] = x0i[k] + ti;
      y1r[k] = x0r[k] - tr;
      y1i[k] = x0i[k] - ti;
    }
  }
}

template <typename T>
void radix4(std::size_t span, std::size_t count, const T* twRe, const T* twIm, const T* aRe, const T* aIm,
            T* bRe, T* bIm) {
  const T* w1r = twRe;
  const T* w1i = twIm;
  const T* w2r = twRe + span;
  const T* w2i = twIm + span;
  const T* w3r = twRe + 2 * span;
  const T* w3i = twIm + 2 * span;
  for (std::size_t s = 0; s < count; ++s) {
    const T* x0r = aRe + s * span;
    const T* x0i = aIm + s * span;
    const T* x1r = aRe + (s + count) * span;
    const T* x1i = aIm + (s + count) * span;
    const T* x2r = aRe + (s + 2 * count) * span;
    const T* x2i = aIm + (s + 2 * count) * span;
    const T* x3r = aRe + (s + 3 * count) * span;
    const T* x3i = aIm + (s + 3 * count) * span;
    T* yr = bRe + s * span * 4;
    T* yi = bIm + s * span * 4;
    for (std::size_t k = 0; k < span; ++k) {
      const T a1r = x1r[k] * w1r[k] - x1i[k] * w1i[k];
      const T a1i = x1r[k] * w1i[k] + x1i[k] * w1r[k];
      const T a2r = x2r[k] * w2r[k] - x2i[k] * w2i[k];
      const T a2i = x2r[k] * w2i[k] + x2i[k] * w2r[k];
      const T a3r = x3r[k] * w3r[k] - x3i[k] * w3i[k];
      const T a3i = x3r[k] * w3i[k] + x3i[k] * w3r[k];
      const T t0r = x0r[k] + a2r, t0i = x0i[k] + a2i;
      const T t1r = x0r[k] - a2r, t1i = x0i[k] - a2i;
      const T t2r = a1r + a3r, t2i = a1i + a3i;
      const T t3r = a1r - a3r, t3i = a1i - a3i;
      yr[k] = t0r + t2r;
      yi[k] = t0i + t2i;
      yr[k + 2 * span] = t0r - t2r;
      yi[k + 2 * span] = t0i - t2i;
      // y1 = t1 - i*t3, y3 = t1 + i*t3 (forward transform, W4 = -i)
      yr[k + span] = t1r + t3i;
      yi[k + span] = t1i - t3r;
      yr[k + 3 * span] = t1r - t3i;
      yi[k + 3 * span] = t1i + t3r;
    }
  }
}

template <typename T>
void radix3(std::size_t span, std::size_t count, const T* twRe, const T* twIm, const T* aRe, const T* aIm,
            T* bRe, T* bIm) {
  const T c = static_cast<T>(0.86602540378443864676);  // sin(2 pi / 3)
  const T* w1r = twRe;
  const T* w1i = twIm;
  const T* w2r = twRe + span;
  const T* w2i = twIm + span;
  for (std::size_t s = 0; s < count; ++s) {
    const T* x0r = aRe + s * span;
    const T* x0i = aIm + s * span;
    const T* x1r = aRe + (s + count) * span;
    const T* x1i = aIm + (s + count) * span;
    const T* x2r = aRe + (s + 2 * count) * span;
    const T* x2i = aIm + (s + 2 * count) * span;
    T* yr = bRe + s * span * 3;
    T* yi = bIm + s * span * 3;
    for (std::size_t k = 0; k < span; ++k) {
      const T a1r = x1r[k] * w1r[k] - x1i[k] * w1i[k];
      const T a1i = x1r[k] * w1i[k] + x1i[k] * w1r[k];
      const T a2r = x2r[k] * w2r[k] - x2i[k] * w2i[k];
      const T a2i = x2r[k] * w2i[k] + x2i[k] * w2r[k];
      const T sr = a1r + a2r, si = a1i + a2i;
      const T dr = a1r - a2r, di = a1i - a2i;
      const T mr = x0r[k] - T(0.5) * sr, mi = x0i[k] - T(0.5) * si;
      yr[k] = x0r[k] + sr;
      yi[k] = x0i[k] + si;
      yr[k + span] = mr + c * di;
      yi[k + span] = mi - c * dr;
      yr[k + 2 * span] = mr - c * di;
      yi[k + 2 * span] = mi + c * dr;
    }
  }
}

template <typename T>
void radixGeneric(std::size_t radix, std::size_t span, std::size_t count, const T* twRe, const T* twIm,
                  const T* rootRe, const T* rootIm, const T* aRe, const T* aIm, T* bRe, T* bIm) {
  std::vector<T> inRe(radix), inIm(radix);
  for (std::size_t s = 0; s < count; ++s) {
    for (std::size_t k = 0; k < span; ++k) {
      for (std::size_t r = 0; r < radix; ++r) {
        const T xr = aRe[(s + r * count) * span + k];
        const T xi = aIm[(s + r * count) * span + k];
        if (r == 0) {
          inRe[0] = xr;
          inIm[0] = xi;
        } else {
          const T wr = twRe[(r - 1) * span + k], wi = twIm[(r - 1) * span + k];
          inRe[r] = xr * wr - xi * wi;
          inIm[r] = xr * wi + xi * wr;
        }
      }
      for (std::size_t q = 0; q < radix; ++q) {
        T accRe = 0, accIm = 0;
        std::size_t j = 0;  // (r * q) mod radix, advanced without multiplication
        for (std::size_t r = 0; r < radix; ++r) {
          accRe += inRe[r] * rootRe[j] - inIm[r] * rootIm[j];
          accIm += inRe[r] * rootIm[j] + inIm[r] * rootRe[j];
          j += q;
          if (j >= radix) j -= radix;
        }
        bRe[s * span * radix + q * span + k] = accRe;
        bIm[s * span * radix + q * span + k] = accIm;
      }
    }
  }
}

}  // namespace

template <typename T>
ComplexFft<T>::ComplexFft(std::size_t n) : n_(n) {
  if (n == 0) throw InputError("FFT size must be positive");
  std::size_t span = 1;
  for (std::size_t radix : factorize(n)) {
    Stage stage{radix, span, n / (span * radix), twiddleRe_.size()};
    const std::size_t length = span * radix;
    for (std::size_t r = 1; r < radix; ++r) {
      for (std::size_t k = 0; k < span; ++k) {
        const double angle = -kTwoPi * static_cast<double>(r * k) / static_cast<double>(length);
        twiddleRe_.push_back(static_cast<T>(std::cos(angle)));
        twiddleIm_.push_back(static_cast<T>(std::sin(angle)));
      }
    }
    stages_.push_back(stage);
    span = length;
  }
  // Roots of unity for generic radices share one table indexed by stage order.
  for (const Stage& stage : stages_) {
    if (stage.radix <= 4) continue;
    for (std::size_t j = 0; j < stage.radix; ++j) {
      const double angle = -kTwoPi * static_cast<double>(j) / static_cast<double>(stage.radix);
      rootRe_.push_back(static_cast<T>(std::cos(angle)));
      rootIm_.push_back(static_cast<T>(std::sin(angle)));
    }
  }
  scratchRe_.resize(n);
  scratchIm_.resize(n);
}

template <typename T>
void ComplexFft<T>::forward(T* re, T* im) {
  T* srcRe = re;
  T* srcIm = im;
  T* dstRe = scratchRe_.data();
  T* dstIm = scratchIm_.data();
  std::size_t rootOffset = 0;
  for (const Stage& st : stages_) {
    const T* twRe = twiddleRe_.data() + st.twiddleOffset;
    const T* twIm = twiddleIm_.data() + st.twiddleOffset;
    switch (st.radix) {
      case 2: radix2(st.span, st.count, twRe, twIm, srcRe, srcIm, dstRe, dstIm); break;
      case 3: radix3(st.span, st.count, twRe, twIm, srcRe, srcIm, dstRe, dstIm); break;
      case 4: radix4(st.span, st.count, twRe, twIm, srcRe, srcIm, dstRe, dstIm); break;
      default:
        radixGeneric(st.radix, st.span, st.count, twRe, twIm, rootRe_.data() + rootOffset,
                     rootIm_.data() + rootOffset, srcRe, srcIm, dstRe, dstIm);
        rootOffset += st.radix;
    }
    std::swap(srcRe, dstRe);
    std::swap(srcIm, dstIm);
  }
  if (srcRe != re) {
    std::copy(srcRe, srcRe + n_, re);
    std::copy(srcIm, srcIm + n_, im);
  }
}

template <typename T>
RealFft<T>::RealFft(std::size_t n) : n_(n), half_((n < 2 || n % 2 != 0) ? 1 : n / 2) {
  if (n < 2 || n % 2 != 0) throw InputError("real FFT size must be even and at least 2, got " + std::to_string(n));
  const std::size_t m = n / 2;
  packedRe_.resize(m);
  packedIm_.resize(m);
  rotRe_.resize(m);
  rotIm_.resize(m);
  for (std::size_t k = 0; k < m; ++k) {
    const double angle = -kTwoPi * static_cast<double>(k) / static_cast<double>(n);
    rotRe_[k] = static_cast<T>(std::cos(angle));
    rotIm_[k] = static_cast<T>(std::sin(angle));
  }
}

template <typename T>
void RealFft<T>::transformPacked(const T* input) {
  // Even samples as real part, odd as imaginary: one complex FFT of half the size.
  const std::size_t m = n_ / 2;
  for (std::size_t j = 0; j < m; ++j) {
    packedRe_[j] = input[2 * j];
    packedIm_[j] = input[2 * j + 1];
  }
  half_.forward(packedRe_.data(), packedIm_.data());
}

template <typename T>
void RealFft<T>::forward(const T* input, T* outRe, T* outIm) {
  transformPacked(input);
  const std::size_t m = n_ / 2;
  const T* zr = packedRe_.data();
  const T* zi = packedIm_.data();
  outRe[0] = zr[0] + zi[0];
  outIm[0] = 0;
  outRe[m] = zr[0] - zi[0];
  outIm[m] = 0;
  for (std::size_t k = 1; k < m; ++k) {
    // E = (Z_k + conj Z_{m-k}) / 2, O = -i (Z_k - conj Z_{m-k}) / 2, X_k = E + w^k O
    const T er = T(0.5) * (zr[k] + zr[m - k]);
    const T ei = T(0.5) * (zi[k] - zi[m - k]);
    const T or_ = T(0.5) * (zi[k] + zi[m - k]);
    const T oi = T(-0.5) * (zr[k] - zr[m - k]);
    outRe[k] = er + rotRe_[k] * or_ - rotIm_[k] * oi;
    outIm[k] = ei + rotRe_[k] * oi + rotIm_[k] * or_;
  }
}

template <typename T>
void RealFft<T>::power(const T* input, float* outPower) {
  transformPacked(input);
  const std::size_t m = n_ / 2;
  const T* zr = packedRe_.data();
  const T* zi = packedIm_.data();
  const T dc = zr[0] + zi[0];
  const T nyquist = zr[0] - zi[0];
  outPower[0] = static_cast<float>(dc * dc);
  outPower[m] = static_cast<float>(nyquist * nyquist);
  for (std::size_t k = 1; k < m; ++k) {
    const T er = T(0.5) * (zr[k] + zr[m - k]);
    const T ei = T(0.5) * (zi[k] - zi[m - k]);
    const T or_ = T(0.5) * (zi[k] + zi[m - k]);
    const T oi = T(-0.5) * (zr[k] - zr[m - k]);
    const T xr = er + rotRe_[k] * or_ - rotIm_[k] * oi;
    const T xi = ei + rotRe_[k] * oi + rotIm_[k] * or_;
    outPower[k] = static_cast<float>(xr * xr + xi * xi);
  }
}

template <typename T>
static RealFft<T>& cachedRealFft(std::size_t n) {
  thread_local std::map<std::size_t, std::unique_ptr<RealFft<T>>> plans;
  auto& slot = plans[n];
  if (!slot) slot = std::make_unique<RealFft<T>>(n);
  return *slot;
}

RealFft<float>& realFftFloat(std::size_t n) { return cachedRealFft<float>(n); }
RealFft<double>& realFftDouble(std::size_t n) { return cachedRealFft<double>(n); }

template class ComplexFft<float>;
template class ComplexFft<double>;
template class RealFft<float>;
template class RealFft<double>;

}  // namespace ser
