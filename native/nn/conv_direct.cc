#include "nn/conv_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "nn/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SER_X86_KERNELS 1
#endif

namespace ser {

void padImage(const Conv2DGeometry& g, const float* x, PaddedImage& padded) {
  const std::size_t height = g.outHeight + g.filterHeight - 1;
  padded.width = g.outWidth + g.filterWidth - 1;
  padded.values.assign(height * padded.width, 0.0f);
  for (std::size_t row = 0; row < height; ++row) {
    const long iy = static_cast<long>(row) - static_cast<long>(g.padTop);
    if (iy < 0 || iy >= static_cast<long>(g.inHeight)) continue;
    for (std::size_t col = 0; col < padded.width; ++col) {
      const long ix = static_cast<long>(col) - static_cast<long>(g.padLeft);
      if (ix >= 0 && ix < static_cast<long>(g.inWidth)) padded.values[row * padded.width + col] = x[iy * g.inWidth + ix];
    }
  }
}

namespace {

PaddedImage& threadPadded() {
  thread_local PaddedImage padded;
  return padded;
}

}  // namespace

#ifdef SER_X86_KERNELS
bool directConvApplies(const Conv2DGeometry& g) {
  // gemmIsa() is "avx2" or "avx512" only on CPUs with AVX2 and FMA, and "portable" under SER_GEMM_ISA=portable.
  static const bool avx2 = std::strcmp(gemmIsa(), "portable") != 0;
  return avx2 && g.inChannels == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 &&
         g.dilationWidth == 1 && g.outChannels % 8 == 0 && g.filterHeight * g.filterWidth <= 64;
}

// Four neighbouring output pixels x 8 channels per register block: four independent FMA chains. FH and
// FW are the filter size when known at compile time (0: read from g).
template <std::size_t FH, std::size_t FW>
__attribute__((target("avx2,fma"))) void directForward(const Conv2DGeometry& g, const float* in0, std::size_t pw,
                                                       const float* filter, float* y) {
  const std::size_t fw = FW ? FW : g.filterWidth, taps = FH ? FH * FW : g.filterHeight * g.filterWidth;
  const std::size_t channels = g.outChannels;
  for (std::size_t oy = 0; oy < g.outHeight; ++oy) {
    std::size_t ox = 0;
    for (; ox + 4 <= g.outWidth; ox += 4) {
      for (std::size_t c = 0; c < channels; c += 8) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
#pragma GCC unroll 16
        for (std::size_t tap = 0; tap < taps; ++tap) {
          const float* in = in0 + (oy + tap / fw) * pw + ox + tap % fw;
          const __m256 w = _mm256_loadu_ps(filter + tap * channels + c);
          a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(in), w, a0);
          a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(in + 1), w, a1);
          a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(in + 2), w, a2);
          a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(in + 3), w, a3);
        }
        float* out = y + (oy * g.outWidth + ox) * channels + c;
        _mm256_storeu_ps(out, a0);
        _mm256_storeu_ps(out + channels, a1);
        _mm256_storeu_ps(out + 2 * channels, a2);
        _mm256_storeu_ps(out + 3 * channels, a3);
      }
    }
    for (; ox < g.outWidth; ++ox) {
      for (std::size_t c = 0; c < channels; c += 8) {
        __m256 a = _mm256_setzero_ps();
        for (std::size_t tap = 0; tap < taps; ++tap) {
          const float* in = in0 + (oy + tap / fw) * pw + ox + tap % fw;
          a = _mm256_fmadd_ps(_mm256_broadcast_ss(in), _mm256_loadu_ps(filter + tap * channels + c), a);
        }
        _mm256_storeu_ps(y + (oy * g.outWidth + ox) * channels + c, a);
      }
    }
  }
}

// The same sums 16 channels x 8 neighbouring pixels at a time where the CPU has AVX-512: eight
// independent FMA chains keep both of Zen 5's FMA pipes busy, and each output is still its taps added
// in order, so the values are the 8-channel loop's.
template <std::size_t FH, std::size_t FW>
__attribute__((target("avx512f"))) void directForwardWide(const Conv2DGeometry& g, const float* in0, std::size_t pw,
                                                          const float* filter, float* y) {
  constexpr std::size_t kPixels = 8;
  const std::size_t fw = FW ? FW : g.filterWidth, taps = FH ? FH * FW : g.filterHeight * g.filterWidth;
  const std::size_t channels = g.outChannels;
  for (std::size_t oy = 0; oy < g.outHeight; ++oy) {
    std::size_t ox = 0;
    for (; ox + kPixels <= g.outWidth; ox += kPixels) {
      for (std::size_t c = 0; c < channels; c += 16) {
        __m512 acc[kPixels];
        for (std::size_t p = 0; p < kPixels; ++p) acc[p] = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (std::size_t tap = 0; tap < taps; ++tap) {
          const float* in = in0 + (oy + tap / fw) * pw + ox + tap % fw;
          const __m512 w = _mm512_loadu_ps(filter + tap * channels + c);
#pragma GCC unroll 8
          for (std::size_t p = 0; p < kPixels; ++p) acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(in[p]), w, acc[p]);
        }
        float* out = y + (oy * g.outWidth + ox) * channels + c;
        for (std::size_t p = 0; p < kPixels; ++p) _mm512_storeu_ps(out + p * channels, acc[p]);
      }
    }
    for (; ox < g.outWidth; ++ox) {
      for (std::size_t c = 0; c < channels; c += 16) {
        __m512 a = _mm512_setzero_ps();
        for (std::size_t tap = 0; tap < taps; ++tap) {
          const float* in = in0 + (oy + tap / fw) * pw + ox + tap % fw;
          a = _mm512_fmadd_ps(_mm512_set1_ps(*in), _mm512_loadu_ps(filter + tap * channels + c), a);
        }
        _mm512_storeu_ps(y + (oy * g.outWidth + ox) * channels + c, a);
      }
    }
  }
}

bool wideChannels(const Conv2DGeometry& g) {
  static const bool avx512 = std::strcmp(gemmIsa(), "avx512") == 0;
  return avx512 && g.outChannels % 16 == 0;
}

void conv2dDirectRows(const Conv2DGeometry& g, const PaddedImage& padded, const float* filter, std::size_t rowBegin,
                      std::size_t rowEnd, float* y) {
  Conv2DGeometry rows = g;
  rows.outHeight = rowEnd - rowBegin;
  const float* in0 = padded.values.data() + rowBegin * padded.width;
  if (wideChannels(g)) {
    if (g.filterHeight == 3 && g.filterWidth == 3) directForwardWide<3, 3>(rows, in0, padded.width, filter, y);
    else if (g.filterHeight == 5 && g.filterWidth == 5) directForwardWide<5, 5>(rows, in0, padded.width, filter, y);
    else directForwardWide<0, 0>(rows, in0, padded.width, filter, y);
    return;
  }
  if (g.filterHeight == 3 && g.filterWidth == 3) directForward<3, 3>(rows, in0, padded.width, filter, y);
  else if (g.filterHeight == 5 && g.filterWidth == 5) directForward<5, 5>(rows, in0, padded.width, filter, y);
  else directForward<0, 0>(rows, in0, padded.width, filter, y);
}

void conv2dDirectImage(const Conv2DGeometry& g, const float* x, const float* filter, float* y) {
  PaddedImage& padded = threadPadded();
  padImage(g, x, padded);
  conv2dDirectRows(g, padded, filter, 0, g.outHeight, y);
}

// One accumulator per tap for 8 channels: independent FMA chains over the pixels, held in registers
// when the filter size is a compile-time constant. The image is walked in bands of a few output rows,
// every channel group per band, so dy comes from memory once.
template <std::size_t FH, std::size_t FW>
__attribute__((target("avx2,fma"))) void filterGradientBands(const Conv2DGeometry& g, const float* in0, std::size_t pw,
                                                             const float* dy, float* dFilter) {
  constexpr std::size_t kBandRows = 4;
  const std::size_t channels = g.outChannels;
  __m256 acc[FH * FW];
  for (std::size_t band = 0; band < g.outHeight; band += kBandRows) {
    const std::size_t bandEnd = std::min(g.outHeight, band + kBandRows);
    for (std::size_t c = 0; c < channels; c += 8) {
      for (std::size_t tap = 0; tap < FH * FW; ++tap) acc[tap] = _mm256_loadu_ps(dFilter + tap * channels + c);
      for (std::size_t oy = band; oy < bandEnd; ++oy) {
        for (std::size_t ox = 0; ox < g.outWidth; ++ox) {
          const __m256 d = _mm256_loadu_ps(dy + (oy * g.outWidth + ox) * channels + c);
          const float* in = in0 + oy * pw + ox;
#pragma GCC unroll 16
          for (std::size_t tap = 0; tap < FH * FW; ++tap) {
            acc[tap] = _mm256_fmadd_ps(_mm256_broadcast_ss(in + (tap / FW) * pw + tap % FW), d, acc[tap]);
          }
        }
      }
      for (std::size_t tap = 0; tap < FH * FW; ++tap) _mm256_storeu_ps(dFilter + tap * channels + c, acc[tap]);
    }
  }
}

__attribute__((target("avx2,fma"))) void filterGradientGeneric(const Conv2DGeometry& g, const float* in0,
                                                               std::size_t pw, const float* dy, float* dFilter) {
  const std::size_t channels = g.outChannels;
  for (std::size_t oy = 0; oy < g.outHeight; ++oy) {
    for (std::size_t ox = 0; ox < g.outWidth; ++ox) {
      const float* in = in0 + oy * pw + ox;
      for (std::size_t c = 0; c < channels; c += 8) {
        const __m256 d = _mm256_loadu_ps(dy + (oy * g.outWidth + ox) * channels + c);
        for (std::size_t fy = 0; fy < g.filterHeight; ++fy) {
          for (std::size_t fx = 0; fx < g.filterWidth; ++fx) {
            float* out = dFilter + (fy * g.filterWidth + fx) * channels + c;
            _mm256_storeu_ps(out, _mm256_fmadd_ps(_mm256_broadcast_ss(in + fy * pw + fx), d, _mm256_loadu_ps(out)));
          }
        }
      }
    }
  }
}

void conv2dBackpropFilterDirectImage(const Conv2DGeometry& g, const float* x, const float* dy, float* dFilter) {
  PaddedImage& padded = threadPadded();
  padImage(g, x, padded);
  if (g.filterHeight == 3 && g.filterWidth == 3) filterGradientBands<3, 3>(g, padded.values.data(), padded.width, dy, dFilter);
  else if (g.filterHeight == 5 && g.filterWidth == 5) filterGradientBands<5, 5>(g, padded.values.data(), padded.width, dy, dFilter);
  else filterGradientGeneric(g, padded.values.data(), padded.width, dy, dFilter);
}

void conv2dBackpropFilterDirectBands(const Conv2DGeometry& g, const float* x, std::size_t bandRows,
                                     const std::function<const float*(std::size_t, std::size_t)>& band,
                                     float* dFilter) {
  PaddedImage& padded = threadPadded();
  padImage(g, x, padded);
  for (std::size_t rowBegin = 0; rowBegin < g.outHeight; rowBegin += bandRows) {
    const std::size_t rowEnd = std::min(g.outHeight, rowBegin + bandRows);
    const float* dy = band(rowBegin, rowEnd);
    Conv2DGeometry rows = g;
    rows.outHeight = rowEnd - rowBegin;
    const float* in0 = padded.values.data() + rowBegin * padded.width;
    if (g.filterHeight == 3 && g.filterWidth == 3) filterGradientBands<3, 3>(rows, in0, padded.width, dy, dFilter);
    else if (g.filterHeight == 5 && g.filterWidth == 5) filterGradientBands<5, 5>(rows, in0, padded.width, dy, dFilter);
    else filterGradientGeneric(rows, in0, padded.width, dy, dFilter);
  }
}
#else
bool directConvApplies(const Conv2DGeometry&) { return false; }
void conv2dDirectRows(const Conv2DGeometry&, const PaddedImage&, const float*, std::size_t, std::size_t, float*) {}
void conv2dBackpropFilterDirectBands(const Conv2DGeometry&, const float*, std::size_t,
                                     const std::function<const float*(std::size_t, std::size_t)>&, float*) {}
void conv2dDirectImage(const Conv2DGeometry&, const float*, const float*, float*) {}
void conv2dBackpropFilterDirectImage(const Conv2DGeometry&, const float*, const float*, float*) {}
#endif

}  // namespace ser
