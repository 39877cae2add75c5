#include "dsp/fft.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "common/errors.h"
#include "common/simd.h"

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

// Lanes values of one element as one value: a GCC vector when Lanes > 1, the scalar itself otherwise.
// Arithmetic is written once on Pack; the ISA clones turn it into AVX2 or SSE code.
template <typename T, std::size_t L>
struct PackOf {
  typedef T type __attribute__((vector_size(sizeof(T) * L)));
};
template <typename T>
struct PackOf<T, 1> {
  using type = T;
};

template <typename P, typename T>
inline P load(const T* p) {
  P v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename P, typename T>
inline void store(T* p, const P& v) {
  std::memcpy(p, &v, sizeof v);
}

// __builtin_shuffle is GCC's; clang (the sanitizer builds of native/fuzz) takes the memory path.
#if defined(__clang__)
constexpr bool kGccShuffle = false;
#define SER_SHUFFLE(a, b, mask) (a)
#else
constexpr bool kGccShuffle = true;
#define SER_SHUFFLE(a, b, mask) __builtin_shuffle(a, b, mask)
#endif

// One stage of the 16 x 16 float transpose (AVX-512: one two-source permute per row).
template <typename P, int B>
inline void transposeStage16(P* rows) {
  using I = int32_t __attribute__((vector_size(64)));
  constexpr auto index = [](int c, bool upper) { return (c & B) ? (upper ? 16 + c : 16 + c - B) : (upper ? c + B : c); };
  constexpr I lo = {index(0, false), index(1, false), index(2, false), index(3, false), index(4, false), index(5, false),
                    index(6, false), index(7, false), index(8, false), index(9, false), index(10, false), index(11, false),
                    index(12, false), index(13, false), index(14, false), index(15, false)};
  constexpr I hi = {index(0, true), index(1, true), index(2, true), index(3, true), index(4, true), index(5, true),
                    index(6, true), index(7, true), index(8, true), index(9, true), index(10, true), index(11, true),
                    index(12, true), index(13, true), index(14, true), index(15, true)};
  for (int r = 0; r < 16; ++r) {
    if (r & B) continue;
    const P a = rows[r], d = rows[r + B];
    rows[r] = SER_SHUFFLE(a, d, lo);
    rows[r + B] = SER_SHUFFLE(a, d, hi);
  }
}

// Transposes an L x L block held as L packs: afterwards rows[c] holds what was column c. The 8 x 8
// float and 4 x 4 double cases are the classic unpack / shuffle / 128-bit-permute network (one
// AVX2 register per row); other shapes go through memory.
template <typename T, std::size_t L>
inline void transposeBlock(typename PackOf<T, L>::type* rows) {
  using P = typename PackOf<T, L>::type;
  if constexpr (L == 1) {
    return;
  } else if constexpr (kGccShuffle && L == 8 && sizeof(T) == 4) {
    using I = int32_t __attribute__((vector_size(32)));
    const I lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
    const I even = {0, 1, 8, 9, 4, 5, 12, 13}, odd = {2, 3, 10, 11, 6, 7, 14, 15};
    const I low128 = {0, 1, 2, 3, 8, 9, 10, 11}, high128 = {4, 5, 6, 7, 12, 13, 14, 15};
    P t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = SER_SHUFFLE(rows[i], rows[i + 1], lo);
      t[i + 1] = SER_SHUFFLE(rows[i], rows[i + 1], hi);
    }
    for (int i = 0; i < 8; i += 4) {
      u[i] = SER_SHUFFLE(t[i], t[i + 2], even);
      u[i + 1] = SER_SHUFFLE(t[i], t[i + 2], odd);
      u[i + 2] = SER_SHUFFLE(t[i + 1], t[i + 3], even);
      u[i + 3] = SER_SHUFFLE(t[i + 1], t[i + 3], odd);
    }
    for (int c = 0; c < 4; ++c) {
      rows[c] = SER_SHUFFLE(u[c], u[c + 4], low128);
      rows[c + 4] = SER_SHUFFLE(u[c], u[c + 4], high128);
    }
  } else if constexpr (kGccShuffle && L == 4 && sizeof(T) == 8) {
    using I = int64_t __attribute__((vector_size(32)));
    const I lo = {0, 4, 2, 6}, hi = {1, 5, 3, 7}, low128 = {0, 1, 4, 5}, high128 = {2, 3, 6, 7};
    const P t0 = SER_SHUFFLE(rows[0], rows[1], lo), t1 = SER_SHUFFLE(rows[0], rows[1], hi);
    const P t2 = SER_SHUFFLE(rows[2], rows[3], lo), t3 = SER_SHUFFLE(rows[2], rows[3], hi);
    rows[0] = SER_SHUFFLE(t0, t2, low128);
    rows[1] = SER_SHUFFLE(t1, t3, low128);
    rows[2] = SER_SHUFFLE(t0, t2, high128);
    rows[3] = SER_SHUFFLE(t1, t3, high128);
  } else if constexpr (kGccShuffle && L == 16 && sizeof(T) == 4) {
    // Four stages; stage B swaps the off-diagonal B x B blocks of each 2B x 2B block (rows r and r + B).
    transposeStage16<P, 8>(rows);
    transposeStage16<P, 4>(rows);
    transposeStage16<P, 2>(rows);
    transposeStage16<P, 1>(rows);
  } else {
    T cells[L][L];
    for (std::size_t r = 0; r < L; ++r) std::memcpy(cells[r], &rows[r], sizeof(P));
    for (std::size_t c = 0; c < L; ++c) {
      for (std::size_t r = 0; r < L; ++r) rows[c][r] = cells[r][c];
    }
  }
}

// Frames (one pointer each, n samples) into the packed lane-interleaved layout of the half-size
// complex FFT: re[j][l] = frame_l[2j], im[j][l] = frame_l[2j + 1].
// With `order`, complex element j goes to position order[j] instead (the in-place transform's input
// order).
template <typename T, std::size_t L>
SER_HOT_WIDE void packFrames(std::size_t n, const T* const* frames, T* __restrict re, T* __restrict im,
                             const uint32_t* order) {
  using P = typename PackOf<T, L>::type;
  const auto at = [order](std::size_t j) { return order ? static_cast<std::size_t>(order[j]) : j; };
  std::size_t i = 0;
  if constexpr (L > 1) {
    P rows[L];
    for (; i + L <= n; i += L) {
      for (std::size_t l = 0; l < L; ++l) rows[l] = load<P>(frames[l] + i);
      transposeBlock<T, L>(rows);  // rows[c]: sample i + c of every frame
      for (std::size_t c = 0; c < L; ++c) store(((i + c) % 2 == 0 ? re : im) + at((i + c) / 2) * L, rows[c]);
    }
  }
  for (; i < n; ++i) {
    T* dst = (i % 2 == 0 ? re : im) + at(i / 2) * L;
    for (std::size_t l = 0; l < L; ++l) dst[l] = frames[l][i];
  }
}

// Lane-interleaved bins back to one row per frame: out[l][k] = src[k][l], for `bins` bins.
template <typename T, std::size_t L, typename Out>
SER_HOT void unpackLanes(std::size_t bins, const T* __restrict src, Out* const* out) {
  using P = typename PackOf<T, L>::type;
  std::size_t k = 0;
  if constexpr (L > 1) {
    P rows[L];
    for (; k + L <= bins; k += L) {
      for (std::size_t c = 0; c < L; ++c) rows[c] = load<P>(src + (k + c) * L);
      transposeBlock<T, L>(rows);  // rows[l]: bins k..k+L-1 of frame l
      for (std::size_t l = 0; l < L; ++l) {
        if constexpr (sizeof(Out) == sizeof(T)) {
          store(out[l] + k, rows[l]);
        } else {
          for (std::size_t c = 0; c < L; ++c) out[l][k + c] = static_cast<Out>(rows[l][c]);
        }
      }
    }
  }
  for (; k < bins; ++k) {
    for (std::size_t l = 0; l < L; ++l) out[l][k] = static_cast<Out>(src[k * L + l]);
  }
}

// Stage kernels. Input A holds `count*radix` sub-transforms of length `span` (A[s*span + k]);
// output B holds `count` transforms of length span*radix (B[s*span*radix + q*span + k]).
// Sub-transform s of the output combines inputs s + r*count, r < radix (decimation in time).
// Every element is a Pack of L lanes; Stockham reads one buffer and writes the other (restrict).

template <typename T, std::size_t L>
SER_HOT_WIDE void radix2(std::size_t span, std::size_t count, const T* twRe, const T* twIm, const T* __restrict aRe,
                    const T* __restrict aIm, T* __restrict bRe, T* __restrict bIm) {
  using P = typename PackOf<T, L>::type;
  const std::size_t in = count * span * L;
  const std::size_t out = span * L;
  for (std::size_t s = 0; s < count; ++s) {
    const T* xr = aRe + s * span * L;
    const T* xi = aIm + s * span * L;
    T* yr = bRe + s * span * 2 * L;
    T* yi = bIm + s * span * 2 * L;
    for (std::size_t k = 0; k < span; ++k) {
      const T wr = twRe[k], wi = twIm[k];
      const std::size_t e = k * L;
      const P x0r = load<P>(xr + e), x0i = load<P>(xi + e);
      const P x1r = load<P>(xr + e + in), x1i = load<P>(xi + e + in);
      const P tr = x1r * wr - x1i * wi;
      const P ti = x1r * wi + x1i * wr;
      store(yr + e, x0r + tr);
      store(yi + e, x0i + ti);
      store(yr + e + out, x0r - tr);
      store(yi + e + out, x0i - ti);
    }
  }
}

// One radix-4 butterfly of the forward transform: inputs `in` apart from x, outputs `out` apart from y
// (x and y may be the same place: every input is loaded before the first store). Twiddled: inputs 1..3
// are first multiplied by w^k, w^2k, w^3k; the first stage's twiddles are all 1 and it skips the
// multiplies (which could change only the sign of a zero, and no power or magnitude sees that). The
// Stockham and the in-place stages both compute through here, so their bits are the same.
template <typename T, std::size_t L, bool Twiddled>
__attribute__((always_inline)) inline void butterfly4(const T* xr, const T* xi, std::size_t in, T* yr, T* yi,
                                                      std::size_t out, const T* twRe, const T* twIm, std::size_t span,
                                                      std::size_t k) {
  using P = typename PackOf<T, L>::type;
  const P x0r = load<P>(xr), x0i = load<P>(xi);
  const P x1r = load<P>(xr + in), x1i = load<P>(xi + in);
  const P x2r = load<P>(xr + 2 * in), x2i = load<P>(xi + 2 * in);
  const P x3r = load<P>(xr + 3 * in), x3i = load<P>(xi + 3 * in);
  P a1r = x1r, a1i = x1i, a2r = x2r, a2i = x2i, a3r = x3r, a3i = x3i;
  if constexpr (Twiddled) {
    const T w1r = twRe[k], w1i = twIm[k];
    const T w2r = twRe[span + k], w2i = twIm[span + k];
    const T w3r = twRe[2 * span + k], w3i = twIm[2 * span + k];
    a1r = x1r * w1r - x1i * w1i, a1i = x1r * w1i + x1i * w1r;
    a2r = x2r * w2r - x2i * w2i, a2i = x2r * w2i + x2i * w2r;
    a3r = x3r * w3r - x3i * w3i, a3i = x3r * w3i + x3i * w3r;
  }
  const P t0r = x0r + a2r, t0i = x0i + a2i;
  const P t1r = x0r - a2r, t1i = x0i - a2i;
  const P t2r = a1r + a3r, t2i = a1i + a3i;
  const P t3r = a1r - a3r, t3i = a1i - a3i;
  store(yr, t0r + t2r);
  store(yi, t0i + t2i);
  store(yr + 2 * out, t0r - t2r);
  store(yi + 2 * out, t0i - t2i);
  // y1 = t1 - i*t3, y3 = t1 + i*t3 (forward transform, W4 = -i)
  store(yr + out, t1r + t3i);
  store(yi + out, t1i - t3r);
  store(yr + 3 * out, t1r - t3i);
  store(yi + 3 * out, t1i + t3r);
}

template <typename T, std::size_t L>
SER_HOT_WIDE void radix4(std::size_t span, std::size_t count, const T* twRe, const T* twIm, const T* __restrict aRe,
                    const T* __restrict aIm, T* __restrict bRe, T* __restrict bIm) {
  const std::size_t in = count * span * L;  // distance between the four inputs of a butterfly
  const std::size_t out = span * L;         // distance between its four outputs
  for (std::size_t s = 0; s < count; ++s) {
    const T* xr = aRe + s * span * L;
    const T* xi = aIm + s * span * L;
    T* yr = bRe + s * span * 4 * L;
    T* yi = bIm + s * span * 4 * L;
    if (span == 1) {
      butterfly4<T, L, false>(xr, xi, in, yr, yi, out, twRe, twIm, span, 0);
      continue;
    }
    for (std::size_t k = 0; k < span; ++k) {
      butterfly4<T, L, true>(xr + k * L, xi + k * L, in, yr + k * L, yi + k * L, out, twRe, twIm, span, k);
    }
  }
}

// The same butterflies as radix4, in place: the four elements of a butterfly lie `span` apart inside a
// block of 4 * span, where the Stockham stage reads them a quarter of the transform apart and writes
// them elsewhere. Fed its input in base-4 digit-reversed order, a run of these stages holds, stage after
// stage, the values the Stockham stages hold (at other places) and ends in natural order with the
// same bits, in half the memory: a transform of 16 lanes (32 KB) then stays in L1 between stages.
template <typename T, std::size_t L>
SER_HOT_WIDE void radix4InPlace(std::size_t span, std::size_t blocks, const T* twRe, const T* twIm, T* re, T* im) {
  const std::size_t q = span * L;  // distance between the four elements of a butterfly
  for (std::size_t b = 0; b < blocks; ++b) {
    T* xr = re + b * 4 * q;
    T* xi = im + b * 4 * q;
    if (span == 1) {
      butterfly4<T, L, false>(xr, xi, q, xr, xi, q, twRe, twIm, span, 0);
      continue;
    }
    for (std::size_t k = 0; k < span; ++k) {
      butterfly4<T, L, true>(xr + k * L, xi + k * L, q, xr + k * L, xi + k * L, q, twRe, twIm, span, k);
    }
  }
}

template <typename T, std::size_t L>
SER_HOT_WIDE void radix3(std::size_t span, std::size_t count, const T* twRe, const T* twIm, const T* __restrict aRe,
                    const T* __restrict aIm, T* __restrict bRe, T* __restrict bIm) {
  using P = typename PackOf<T, L>::type;
  const T c = static_cast<T>(0.86602540378443864676);  // sin(2 pi / 3)
  const T half = static_cast<T>(0.5);
  const std::size_t in = count * span * L;
  const std::size_t out = span * L;
  for (std::size_t s = 0; s < count; ++s) {
    const T* xr = aRe + s * span * L;
    const T* xi = aIm + s * span * L;
    T* yr = bRe + s * span * 3 * L;
    T* yi = bIm + s * span * 3 * L;
    for (std::size_t k = 0; k < span; ++k) {
      const T w1r = twRe[k], w1i = twIm[k];
      const T w2r = twRe[span + k], w2i = twIm[span + k];
      const std::size_t e = k * L;
      const P x0r = load<P>(xr + e), x0i = load<P>(xi + e);
      const P x1r = load<P>(xr + e + in), x1i = load<P>(xi + e + in);
      const P x2r = load<P>(xr + e + 2 * in), x2i = load<P>(xi + e + 2 * in);
      const P a1r = x1r * w1r - x1i * w1i, a1i = x1r * w1i + x1i * w1r;
      const P a2r = x2r * w2r - x2i * w2i, a2i = x2r * w2i + x2i * w2r;
      const P sr = a1r + a2r, si = a1i + a2i;
      const P dr = a1r - a2r, di = a1i - a2i;
      const P mr = x0r - half * sr, mi = x0i - half * si;
      store(yr + e, x0r + sr);
      store(yi + e, x0i + si);
      store(yr + e + out, mr + c * di);
      store(yi + e + out, mi - c * dr);
      store(yr + e + 2 * out, mr - c * di);
      store(yi + e + 2 * out, mi + c * dr);
    }
  }
}

// Any radix p in O(p^2) per element: only used for prime factors above 3.
template <typename T, std::size_t L>
void radixGeneric(std::size_t radix, std::size_t span, std::size_t count, const T* twRe, const T* twIm,
                  const T* rootRe, const T* rootIm, const T* aRe, const T* aIm, T* bRe, T* bIm, T* inRe, T* inIm) {
  for (std::size_t s = 0; s < count; ++s) {
    for (std::size_t k = 0; k < span; ++k) {
      for (std::size_t r = 0; r < radix; ++r) {
        const T wr = r == 0 ? T(1) : twRe[(r - 1) * span + k];
        const T wi = r == 0 ? T(0) : twIm[(r - 1) * span + k];
        for (std::size_t l = 0; l < L; ++l) {
          const T xr = aRe[((s + r * count) * span + k) * L + l];
          const T xi = aIm[((s + r * count) * span + k) * L + l];
          inRe[r * L + l] = xr * wr - xi * wi;
          inIm[r * L + l] = xr * wi + xi * wr;
        }
      }
      for (std::size_t q = 0; q < radix; ++q) {
        T* yr = bRe + ((s * radix + q) * span + k) * L;
        T* yi = bIm + ((s * radix + q) * span + k) * L;
        for (std::size_t l = 0; l < L; ++l) { yr[l] = 0; yi[l] = 0; }
        std::size_t j = 0;  // (r * q) mod radix, advanced without multiplication
        for (std::size_t r = 0; r < radix; ++r) {
          for (std::size_t l = 0; l < L; ++l) {
            yr[l] += inRe[r * L + l] * rootRe[j] - inIm[r * L + l] * rootIm[j];
            yi[l] += inRe[r * L + l] * rootIm[j] + inIm[r * L + l] * rootRe[j];
          }
          j += q;
          if (j >= radix) j -= radix;
        }
      }
    }
  }
}

// Bin k (0 < k < m) of the real transform from the packed half-size spectrum Z = FFT(even + i odd):
// E = (Z_k + conj Z_{m-k}) / 2, O = -i (Z_k - conj Z_{m-k}) / 2, X_k = E + w^k O.
template <typename T, std::size_t L>
__attribute__((always_inline)) inline void halfSpectrumBin(std::size_t m, std::size_t k, const T* zr, const T* zi, T wr,
                                                           T wi, typename PackOf<T, L>::type& xr,
                                                           typename PackOf<T, L>::type& xi) {
  using P = typename PackOf<T, L>::type;
  const T half = static_cast<T>(0.5);
  const P ar = load<P>(zr + k * L), ai = load<P>(zi + k * L);
  const P br = load<P>(zr + (m - k) * L), bi = load<P>(zi + (m - k) * L);
  const P er = half * (ar + br);
  const P ei = half * (ai - bi);
  const P odr = half * (ai + bi);
  const P odi = half * (br - ar);
  xr = er + wr * odr - wi * odi;
  xi = ei + wr * odi + wi * odr;
}

template <typename T, std::size_t L>
SER_HOT_WIDE void unpackHalfSpectrum(std::size_t m, const T* __restrict zr, const T* __restrict zi, const T* rotRe,
                                const T* rotIm, T* __restrict xr, T* __restrict xi) {
  // Z = FFT(even + i odd); E = (Z_k + conj Z_{m-k}) / 2, O = -i (Z_k - conj Z_{m-k}) / 2, X_k = E + w^k O.
  using P = typename PackOf<T, L>::type;
  const P z0r = load<P>(zr), z0i = load<P>(zi);
  const P zero = z0r - z0r;
  store(xr, z0r + z0i);
  store(xi, zero);
  store(xr + m * L, z0r - z0i);
  store(xi + m * L, zero);
  for (std::size_t k = 1; k < m; ++k) {
    P binRe, binIm;
    halfSpectrumBin<T, L>(m, k, zr, zi, rotRe[k], rotIm[k], binRe, binIm);
    store(xr + k * L, binRe);
    store(xi + k * L, binIm);
  }
}

// The real spectrum's bins and the transpose out of the lanes in one pass: frame l's bins written interleaved
// (re, im) to out[l]. A group of L/2 bins is L packs (re, im, re, im, ...); transposed, pack l is the
// 2 x L/2 floats of frame l at that place. The bins are the same expressions as
// unpackHalfSpectrum's.
template <typename T, std::size_t L>
SER_HOT_WIDE void unpackInterleaved(std::size_t m, const T* __restrict zr, const T* __restrict zi, const T* rotRe,
                                    const T* rotIm, T* const* out) {
  using P = typename PackOf<T, L>::type;
  const P z0r = load<P>(zr), z0i = load<P>(zi);
  const P zero = z0r - z0r;
  // Always inlined: an out-of-line lambda would take the default ISA, not this clone's.
  const auto bin = [&](std::size_t k, P& re, P& im) __attribute__((always_inline)) {
    if (k == 0) {
      re = z0r + z0i;
      im = zero;
    } else if (k == m) {
      re = z0r - z0i;
      im = zero;
    } else {
      halfSpectrumBin<T, L>(m, k, zr, zi, rotRe[k], rotIm[k], re, im);
    }
  };
  std::size_t k = 0;
  if constexpr (L > 1) {
    constexpr std::size_t kGroup = L / 2;
    P rows[L];
    for (; k + kGroup <= m + 1; k += kGroup) {
      for (std::size_t c = 0; c < kGroup; ++c) bin(k + c, rows[2 * c], rows[2 * c + 1]);
      transposeBlock<T, L>(rows);
      for (std::size_t l = 0; l < L; ++l) store(out[l] + 2 * k, rows[l]);
    }
  }
  for (; k <= m; ++k) {
    P re, im;
    bin(k, re, im);
    if constexpr (L == 1) {
      out[0][2 * k] = re;
      out[0][2 * k + 1] = im;
    } else {
      for (std::size_t l = 0; l < L; ++l) {
        out[l][2 * k] = re[l];
        out[l][2 * k + 1] = im[l];
      }
    }
  }
}

// unpackHalfSpectrum and squaredMagnitude in one pass: |X_k|^2 written to `power`, with the same
// expressions (X_k first, rounded, then re*re + im*im), so the same bits as the two passes.
template <typename T, std::size_t L>
SER_HOT_WIDE void unpackPower(std::size_t m, const T* __restrict zr, const T* __restrict zi, const T* rotRe,
                              const T* rotIm, T* __restrict power) {
  using P = typename PackOf<T, L>::type;
  const P z0r = load<P>(zr), z0i = load<P>(zi);
  const P zero = z0r - z0r;
  const P d0r = z0r + z0i, dmr = z0r - z0i;
  store(power, d0r * d0r + zero * zero);
  store(power + m * L, dmr * dmr + zero * zero);
  for (std::size_t k = 1; k < m; ++k) {
    P binRe, binIm;
    halfSpectrumBin<T, L>(m, k, zr, zi, rotRe[k], rotIm[k], binRe, binIm);
    store(power + k * L, binRe * binRe + binIm * binIm);
  }
}

// re[e] = re[e]^2 + im[e]^2.
template <typename T>
SER_HOT_WIDE void squaredMagnitude(T* __restrict re, const T* __restrict im, std::size_t count) {
  for (std::size_t e = 0; e < count; ++e) re[e] = re[e] * re[e] + im[e] * im[e];
}

}  // namespace

template <typename T, std::size_t Lanes>
ComplexFft<T, Lanes>::ComplexFft(std::size_t n) : n_(n) {
  if (n == 0) throw InputError("FFT size must be positive");
  const std::vector<std::size_t> radices = factorize(n);
  const std::size_t largestPrime = radices.empty() ? 1 : radices.back();  // n == 1 has no factors
  if (largestPrime > kMaxFftPrimeFactor) {
    // Prime factors take an O(p^2) pass each: at p = 524287 that is hours per frame.
    throw InputError("FFT size " + std::to_string(n) + " has the prime factor " + std::to_string(largestPrime) +
                     " (above " + std::to_string(kMaxFftPrimeFactor) + "); use a size made of small primes, e.g. a power of two");
  }
  std::size_t span = 1;
  std::size_t widestGeneric = 0;
  for (std::size_t radix : factorize(n)) {
    Stage stage{radix, span, n / (span * radix), twiddleRe_.size(), rootRe_.size()};
    const std::size_t length = span * radix;
    for (std::size_t r = 1; r < radix; ++r) {
      for (std::size_t k = 0; k < span; ++k) {
        const double angle = -kTwoPi * static_cast<double>(r * k) / static_cast<double>(length);
        twiddleRe_.push_back(static_cast<T>(std::cos(angle)));
        twiddleIm_.push_back(static_cast<T>(std::sin(angle)));
      }
    }
    if (radix > 4) {
      widestGeneric = std::max(widestGeneric, radix);
      for (std::size_t j = 0; j < radix; ++j) {
        const double angle = -kTwoPi * static_cast<double>(j) / static_cast<double>(radix);
        rootRe_.push_back(static_cast<T>(std::cos(angle)));
        rootIm_.push_back(static_cast<T>(std::sin(angle)));
      }
    }
    stages_.push_back(stage);
    span = length;
  }
  inPlace_ = n >= 4 && std::all_of(stages_.begin(), stages_.end(), [](const Stage& st) { return st.radix == 4; });
  scratchRe_.resize(n * Lanes);
  scratchIm_.resize(n * Lanes);
  genericRe_.resize(widestGeneric * Lanes);
  genericIm_.resize(widestGeneric * Lanes);
}

template <typename T, std::size_t Lanes>
void ComplexFft<T, Lanes>::forward(T* re, T* im) {
  T* srcRe = re;
  T* srcIm = im;
  T* dstRe = scratchRe_.data();
  T* dstIm = scratchIm_.data();
  for (const Stage& st : stages_) {
    const T* twRe = twiddleRe_.data() + st.twiddleOffset;
    const T* twIm = twiddleIm_.data() + st.twiddleOffset;
    switch (st.radix) {
      case 2: radix2<T, Lanes>(st.span, st.count, twRe, twIm, srcRe, srcIm, dstRe, dstIm); break;
      case 3: radix3<T, Lanes>(st.span, st.count, twRe, twIm, srcRe, srcIm, dstRe, dstIm); break;
      case 4: radix4<T, Lanes>(st.span, st.count, twRe, twIm, srcRe, srcIm, dstRe, dstIm); break;
      default:
        radixGeneric<T, Lanes>(st.radix, st.span, st.count, twRe, twIm, rootRe_.data() + st.rootOffset,
                               rootIm_.data() + st.rootOffset, srcRe, srcIm, dstRe, dstIm, genericRe_.data(),
                               genericIm_.data());
    }
    std::swap(srcRe, dstRe);
    std::swap(srcIm, dstIm);
  }
  if (srcRe != re) {
    std::copy(srcRe, srcRe + n_ * Lanes, re);
    std::copy(srcIm, srcIm + n_ * Lanes, im);
  }
}

template <typename T, std::size_t Lanes>
void ComplexFft<T, Lanes>::forwardFromDigitReversed(T* re, T* im) {
  if (!inPlace_) throw InputError("forwardFromDigitReversed: the FFT size is not a power of 4");
  for (const Stage& st : stages_) {
    radix4InPlace<T, Lanes>(st.span, st.count, twiddleRe_.data() + st.twiddleOffset, twiddleIm_.data() + st.twiddleOffset,
                            re, im);
  }
}

template <typename T, std::size_t Lanes>
RealFft<T, Lanes>::RealFft(std::size_t n) : n_(n), half_((n < 2 || n % 2 != 0) ? 1 : n / 2) {
  if (n < 2 || n % 2 != 0) throw InputError("real FFT size must be even and at least 2, got " + std::to_string(n));
  const std::size_t m = n / 2;
  packedRe_.resize(m * Lanes);
  packedIm_.resize(m * Lanes);
  rotRe_.resize(m);
  rotIm_.resize(m);
  spectrumRe_.resize((m + 1) * Lanes);
  spectrumIm_.resize((m + 1) * Lanes);
  for (std::size_t k = 0; k < m; ++k) {
    const double angle = -kTwoPi * static_cast<double>(k) / static_cast<double>(n);
    rotRe_[k] = static_cast<T>(std::cos(angle));
    rotIm_[k] = static_cast<T>(std::sin(angle));
  }
  if (half_.inPlaceCapable()) {
    // Base-4 digit reversal of the m = 4^d positions (its own inverse).
    std::size_t digits = 0;
    while ((std::size_t{1} << (2 * digits)) < m) ++digits;
    inputOrder_.resize(m);
    for (std::size_t j = 0; j < m; ++j) {
      std::size_t reversed = 0;
      for (std::size_t d = 0, v = j; d < digits; ++d, v >>= 2) reversed = (reversed << 2) | (v & 3);
      inputOrder_[j] = static_cast<uint32_t>(reversed);
    }
  }
}

template <typename T, std::size_t Lanes>
void RealFft<T, Lanes>::transformPacked(const T* const* frames) {
  // Even samples as real part, odd as imaginary: one complex FFT of half the size per frame.
  if (!inputOrder_.empty()) {
    packFrames<T, Lanes>(n_, frames, packedRe_.data(), packedIm_.data(), inputOrder_.data());
    half_.forwardFromDigitReversed(packedRe_.data(), packedIm_.data());
    return;
  }
  packFrames<T, Lanes>(n_, frames, packedRe_.data(), packedIm_.data(), nullptr);
  half_.forward(packedRe_.data(), packedIm_.data());
}

template <typename T, std::size_t Lanes>
void RealFft<T, Lanes>::unpack() {
  unpackHalfSpectrum<T, Lanes>(n_ / 2, packedRe_.data(), packedIm_.data(), rotRe_.data(), rotIm_.data(),
                               spectrumRe_.data(), spectrumIm_.data());
}

template <typename T, std::size_t Lanes>
void RealFft<T, Lanes>::forwardInterleaved(const T* const* frames, T* const* out) {
  transformPacked(frames);
  unpackInterleaved<T, Lanes>(n_ / 2, packedRe_.data(), packedIm_.data(), rotRe_.data(), rotIm_.data(), out);
}

template <typename T, std::size_t Lanes>
void RealFft<T, Lanes>::power(const T* const* frames, float* const* outPower) {
  transformPacked(frames);
  unpack();
  const std::size_t bins = n_ / 2 + 1;
  squaredMagnitude<T>(spectrumRe_.data(), spectrumIm_.data(), bins * Lanes);
  unpackLanes<T, Lanes, float>(bins, spectrumRe_.data(), outPower);
}

template <typename T, std::size_t Lanes>
const T* RealFft<T, Lanes>::powerInterleaved(const T* const* frames) {
  transformPacked(frames);
  unpackPower<T, Lanes>(n_ / 2, packedRe_.data(), packedIm_.data(), rotRe_.data(), rotIm_.data(), spectrumRe_.data());
  return spectrumRe_.data();
}

template <typename T, std::size_t Lanes>
RealFft<T, Lanes>& cachedRealFft(std::size_t n) {
  // Most recent first, bounded by count and by bytes (a plan near 2^20 points holds about 100 MiB of
  // twiddles and scratch). The plan returned is never the one evicted; callers use one plan at a time.
  constexpr std::size_t kMaxPlans = 8;
  constexpr std::size_t kMaxBytes = std::size_t{128} << 20;
  const auto planBytes = [](std::size_t size) { return size * (Lanes + 1) * sizeof(T) * 4; };
  thread_local std::list<std::unique_ptr<RealFft<T, Lanes>>> plans;
  for (auto it = plans.begin(); it != plans.end(); ++it) {
    if ((*it)->size() == n) {
      plans.splice(plans.begin(), plans, it);
      return *plans.front();
    }
  }
  plans.push_front(std::make_unique<RealFft<T, Lanes>>(n));
  std::size_t bytes = 0;
  std::size_t kept = 0;
  for (auto it = plans.begin(); it != plans.end(); ++it, ++kept) {
    bytes += planBytes((*it)->size());
    if (kept > 0 && (kept >= kMaxPlans || bytes > kMaxBytes)) {
      plans.erase(it, plans.end());
      break;
    }
  }
  return *plans.front();
}

namespace {

template <std::size_t Lanes>
void realFftFramesWith(Span<const float> frames, std::size_t n, Span<float> out) {
  const std::size_t rows = frames.size() / n;
  const std::size_t rowFloats = n + 2;
  RealFft<float, Lanes>& fft = cachedRealFft<float, Lanes>(n);
  // Spare lanes of a last partial block read zeros and write to a scratch row.
  std::vector<float> zeros(n, 0.0f), discarded(rowFloats);
  const float* lanesIn[Lanes];
  float* lanesOut[Lanes];
  for (std::size_t first = 0; first < rows; first += Lanes) {
    for (std::size_t l = 0; l < Lanes; ++l) {
      const bool real = first + l < rows;
      lanesIn[l] = real ? frames.data() + (first + l) * n : zeros.data();
      lanesOut[l] = real ? out.data() + (first + l) * rowFloats : discarded.data();
    }
    fft.forwardInterleaved(lanesIn, lanesOut);
  }
}

}  // namespace

void realFftFrames(Span<const float> frames, std::size_t n, Span<float> out) {
  if (n < 2 || n % 2 != 0) throw InputError("real FFT size must be even and at least 2, got " + std::to_string(n));
  if (frames.size() % n != 0) {
    throw InputError("frames length " + std::to_string(frames.size()) + " is not a multiple of the FFT size " + std::to_string(n));
  }
  if (out.size() != frames.size() / n * (n + 2)) throw InputError("realFftFrames: output must hold frames * (n/2 + 1) * 2 floats");
  if (wideVectors() && n <= kWideLanesMaxFft) realFftFramesWith<kWideFloatLanes>(frames, n, out);
  else realFftFramesWith<kFloatLanes>(frames, n, out);
}

template class ComplexFft<float, kWideFloatLanes>;
template class RealFft<float, kWideFloatLanes>;
template RealFft<float, kWideFloatLanes>& cachedRealFft<float, kWideFloatLanes>(std::size_t);
template class ComplexFft<float, 1>;
template class ComplexFft<double, 1>;
template class ComplexFft<float, kFloatLanes>;
template class ComplexFft<double, kDoubleLanes>;
template class RealFft<float, 1>;
template class RealFft<double, 1>;
template class RealFft<float, kFloatLanes>;
template class RealFft<double, kDoubleLanes>;
template RealFft<float, 1>& cachedRealFft<float, 1>(std::size_t);
template RealFft<double, 1>& cachedRealFft<double, 1>(std::size_t);
template RealFft<float, kFloatLanes>& cachedRealFft<float, kFloatLanes>(std::size_t);
template RealFft<double, kDoubleLanes>& cachedRealFft<double, kDoubleLanes>(std::size_t);

}  // namespace ser
