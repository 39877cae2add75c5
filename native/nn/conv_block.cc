#include "nn/conv_block.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/aligned.h"
#include "common/errors.h"
#include "common/simd.h"
#include "nn/conv_direct.h"
#include "nn/dropout.h"
#include "nn/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SER_X86_KERNELS 1
#endif
#include "nn/threadpool.h"

namespace ser {
namespace {

// The workspace: the convolution's output, then each pooled value's winner x-hat, then its winner byte.
float* winnerXhats(const ConvBlockShape& s, float* workspace) { return workspace + s.conv.outputSize(); }

std::uint8_t* winners(const ConvBlockShape& s, float* workspace) {
  return reinterpret_cast<std::uint8_t*>(workspace + s.conv.outputSize() + s.outputSize());
}

struct ChannelScale {
  std::vector<float> mean, invStd;
};

ChannelScale channelScale(const ConvBlockShape& s, const float* batchMean, const float* batchVariance) {
  const std::size_t channels = s.channels();
  ChannelScale scale{std::vector<float>(batchMean, batchMean + channels), std::vector<float>(channels)};
  for (std::size_t c = 0; c < channels; ++c) scale.invStd[c] = 1.0f / std::sqrt(batchVariance[c] + s.epsilon);
  return scale;
}

// Per-image partial sums in double, added in image order: the same bits at any thread count. Each
// image's partials start on a cache line of their own: neighbouring images run on different threads and
// write their partials at every pixel, and where two shared a line (an image's 64 doubles in a 16-byte
// aligned vector) the line went back and forth between the cores: the first block's moments pass took
// 3.1 ms a step on one thread and 2.6-3.8 on two (1.8-2.2 with a line each).
template <typename PerImage>
std::vector<double> sumOverImages(const ConvBlockShape& s, std::size_t width, PerImage perImage) {
  constexpr std::size_t kLineDoubles = 64 / sizeof(double);
  const std::size_t batch = s.conv.batch;
  const std::size_t stride = (width + kLineDoubles - 1) / kLineDoubles * kLineDoubles;
  std::vector<double> storage(batch * stride + kLineDoubles, 0.0);
  const std::size_t misalignment = reinterpret_cast<std::uintptr_t>(storage.data()) % 64 / sizeof(double);
  double* const partial = storage.data() + (misalignment == 0 ? 0 : kLineDoubles - misalignment);
  parallelFor(batch, [&](std::size_t b) { perImage(b, partial + b * stride); });
  std::vector<double> total(width, 0.0);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t j = 0; j < width; ++j) total[j] += partial[b * stride + j];
  }
  return total;
}

// One image's sizes; the loops below run over channels innermost, so they vectorise.
struct ImageDims {
  std::size_t width, channels, pixels, pooledHeight, pooledWidth, poolHeight, poolWidth;
};

ImageDims dimsOf(const ConvBlockShape& s) {
  return {s.conv.outWidth, s.channels(), s.conv.outHeight * s.conv.outWidth, s.pooledHeight(), s.pooledWidth(),
          s.poolHeight, s.poolWidth};
}

// Rows [rowBegin, rowEnd) of one image's convolution output, whole pooled rows (or up to the last row),
// held from row rowBegin's first value: the whole output, or a band of the first block's recomputed.
struct ConvRows {
  const float* conv;
  std::size_t rowBegin, rowEnd;
  const float* at(const ImageDims& d, std::size_t y, std::size_t x) const {
    return conv + ((y - rowBegin) * d.width + x) * d.channels;
  }
  std::size_t firstPooledRow(const ImageDims& d) const { return rowBegin / d.poolHeight; }
  std::size_t endPooledRow(const ImageDims& d) const { return std::min(d.pooledHeight, rowEnd / d.poolHeight); }
  std::size_t firstCell(const ImageDims& d) const { return firstPooledRow(d) * d.pooledWidth; }
  std::size_t endCell(const ImageDims& d) const { return endPooledRow(d) * d.pooledWidth; }
};

// The first value of window position w of pooled cell (py, px).
inline const float* windowAt(const ImageDims& d, const ConvRows& rows, std::size_t py, std::size_t px, std::size_t w) {
  return rows.at(d, py * d.poolHeight + w / d.poolWidth, px * d.poolWidth + w % d.poolWidth);
}

// Adds each channel's sum and sum of squares over `pixels` pixels.
SER_HOT void channelMoments(std::size_t pixels, std::size_t channels, const float* __restrict image,
                            double* __restrict sum, double* __restrict squares) {
  for (std::size_t p = 0; p < pixels; ++p) {
    const float* row = image + p * channels;
    for (std::size_t c = 0; c < channels; ++c) {
      const double v = row[c];
      sum[c] += v;
      squares[c] += v * v;
    }
  }
}

// Each pooled value's winner: the window position (low 7 bits) and whether its gradient flows back
// (top bit): the ReLU passed it and, with a dropout folded in, the dropout kept it. The backward pass
// reads the mask from these bits instead of drawing it twice more.
constexpr std::uint8_t kPassed = 0x80;

// A folded dropout: the key, and the mask index of the image's first pooled value (null: none).
struct FoldedDropout {
  DropoutKey key;
  std::uint32_t first = 0;
};

// y = max over the window of relu((conv - mean) invStd gamma + beta), the first largest winning, times
// the dropout's mask value; the winner's x-hat and position are kept for the backward pass.
void normalizeReluPoolPortable(const ImageDims& d, const ConvRows& rows, const float* mean, const float* invStd,
                               const float* gamma, const float* beta, const FoldedDropout* dropout, float* y,
                               float* winnerXhat, std::uint8_t* winner) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  for (std::size_t cell = rows.firstCell(d); cell < rows.endCell(d); ++cell) {
    const std::size_t py = cell / d.pooledWidth, px = cell % d.pooledWidth;
    for (std::size_t c = 0; c < d.channels; ++c) {
      float best = 0.0f, bestXhat = 0.0f;
      std::uint8_t at = 0;
      for (std::size_t w = 0; w < window; ++w) {
        const float xhat = (windowAt(d, rows, py, px, w)[c] - mean[c]) * invStd[c];
        const float normed = xhat * gamma[c] + beta[c];
        const float v = normed > 0.0f ? normed : 0.0f;
        if (w == 0 || v > best) {
          best = v;
          bestXhat = xhat;
          at = static_cast<std::uint8_t>(w);
        }
      }
      const std::size_t out = cell * d.channels + c;
      if (dropout != nullptr) best *= dropoutValue(dropout->key, dropout->first + static_cast<std::uint32_t>(out));
      y[out] = best;
      winnerXhat[out] = bestXhat;
      winner[out] = static_cast<std::uint8_t>(at | (best > 0.0f ? kPassed : 0));
    }
  }
}

// What reaches the batch norm's output: dy (times the dropout's scale) at each window's winner whose
// gradient flows. Its sum per channel is dBeta, its sum times x-hat dGamma.
void winnerSumsPortable(std::size_t cells, std::size_t channels, const float* winnerXhat, const std::uint8_t* winner,
                        const float* dy, float scale, double* sumG, double* sumGX) {
  for (std::size_t cell = 0; cell < cells; ++cell) {
    const std::size_t base = cell * channels;
    for (std::size_t c = 0; c < channels; ++c) {
      const float g = (winner[base + c] & kPassed) ? dy[base + c] * scale : 0.0f;
      sumG[c] += g;
      sumGX[c] += static_cast<double>(g * winnerXhat[base + c]);
    }
  }
}

// dConv = k (g - mean(g) - x-hat mean(g x-hat)) with k = gamma invStd, for output rows [rowBegin,
// rowEnd) (whole pooled rows, or up to the last row): window by window, the batch terms, plus k g at the
// winner, then the pixels no window covers (a trailing odd row or column).
// out receives the band's rows (it may be the input rows themselves).
struct GradientTerms {
  const float *mean, *invStd, *k, *meanG, *meanGX;
  float scale;  // the folded dropout's 1 / (1 - rate), or 1
};

struct GradientBand {
  ConvRows in;
  float* out;  // row in.rowBegin's first value
  float* at(const ImageDims& d, std::size_t y, std::size_t x) const {
    return out + ((y - in.rowBegin) * d.width + x) * d.channels;
  }
  const float* convAt(const ImageDims& d, std::size_t y, std::size_t x) const { return in.at(d, y, x); }
  std::size_t firstPooledRow(const ImageDims& d) const { return in.firstPooledRow(d); }
  std::size_t endPooledRow(const ImageDims& d) const { return in.endPooledRow(d); }
};

inline float batchTerm(const GradientTerms& t, std::size_t c, float conv) {
  const float xhat = (conv - t.mean[c]) * t.invStd[c];
  return -t.k[c] * (t.meanG[c] + xhat * t.meanGX[c]);
}

void uncoveredGradient(const ImageDims& d, const GradientBand& band, const GradientTerms& t) {
  const std::size_t coveredRows = d.pooledHeight * d.poolHeight, coveredColumns = d.pooledWidth * d.poolWidth;
  for (std::size_t y = band.in.rowBegin; y < band.in.rowEnd; ++y) {
    for (std::size_t x = y < coveredRows ? coveredColumns : 0; x < d.width; ++x) {
      const float* conv = band.convAt(d, y, x);
      float* out = band.at(d, y, x);
      for (std::size_t c = 0; c < d.channels; ++c) out[c] = batchTerm(t, c, conv[c]);
    }
  }
}

void convGradientPortable(const ImageDims& d, const GradientBand& band, const std::uint8_t* winner, const float* dy,
                          const GradientTerms& t) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  for (std::size_t py = band.firstPooledRow(d); py < band.endPooledRow(d); ++py) {
    for (std::size_t px = 0; px < d.pooledWidth; ++px) {
      const std::size_t cell = py * d.pooledWidth + px;
      for (std::size_t w = 0; w < window; ++w) {
        const std::size_t y = py * d.poolHeight + w / d.poolWidth, x = px * d.poolWidth + w % d.poolWidth;
        const float* conv = band.convAt(d, y, x);
        float* out = band.at(d, y, x);
        const auto won = static_cast<std::uint8_t>(w | kPassed);
        for (std::size_t c = 0; c < d.channels; ++c) {
          const std::size_t at = cell * d.channels + c;
          const float base = batchTerm(t, c, conv[c]);
          out[c] = winner[at] == won ? base + t.k[c] * (dy[at] * t.scale) : base;
        }
      }
    }
  }
  uncoveredGradient(d, band, t);
}

#ifdef SER_X86_KERNELS
// The same three loops 8 channels at a time, with the same operations in the same order (no fused
// multiply-adds: this file is built with -ffp-contract=off), so they give the portable loops' bits. The compilers leave these loop nests scalar
// (winner bytes beside floats, selects): so written, the seed step took 30% longer.
#define SER_AVX2 __attribute__((target("avx2,fma")))

SER_AVX2 inline __m256i mix32x8(__m256i h) {
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(static_cast<int>(0x85EBCA6Bu)));
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 13));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(static_cast<int>(0xC2B2AE35u)));
  return _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
}

// dropoutValue of the 8 indices first .. first + 7.
SER_AVX2 inline __m256 dropoutValues(const DropoutKey& key, std::uint32_t first) {
  const __m256i index = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256i h = _mm256_mullo_epi32(index, _mm256_set1_epi32(static_cast<int>(0x9E3779B1u)));
  h = mix32x8(_mm256_xor_si256(h, _mm256_set1_epi32(static_cast<int>(key.first))));
  h = mix32x8(_mm256_xor_si256(h, _mm256_set1_epi32(static_cast<int>(key.second))));
  // 24-bit draws and a threshold of at most 2^24 compare correctly as signed integers.
  const __m256i draw = _mm256_srli_epi32(h, 8);
  const __m256i dropped = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(key.threshold)), draw);
  return _mm256_andnot_ps(_mm256_castsi256_ps(dropped), _mm256_set1_ps(key.scale));
}

// 8 winner bytes as 32-bit lanes.
SER_AVX2 inline __m256i loadWinners(const std::uint8_t* winner) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(winner)));
}

SER_AVX2 void normalizeReluPoolAvx2(const ImageDims& d, const ConvRows& rows, const float* mean, const float* invStd,
                                    const float* gamma, const float* beta, const FoldedDropout* dropout, float* y,
                                    float* winnerXhat, std::uint8_t* winner) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  const __m256 zero = _mm256_setzero_ps();
  for (std::size_t cell = rows.firstCell(d); cell < rows.endCell(d); ++cell) {
    const std::size_t py = cell / d.pooledWidth, px = cell % d.pooledWidth;
    const float* first = windowAt(d, rows, py, px, 0);
    for (std::size_t c = 0; c < d.channels; c += 8) {
      const __m256 m = _mm256_loadu_ps(mean + c), is = _mm256_loadu_ps(invStd + c);
      const __m256 g = _mm256_loadu_ps(gamma + c), b = _mm256_loadu_ps(beta + c);
      __m256 bestXhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(first + c), m), is);
      __m256 best = _mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(bestXhat, g), b), zero);
      __m256i at = _mm256_setzero_si256();
      for (std::size_t w = 1; w < window; ++w) {
        const float* src = windowAt(d, rows, py, px, w) + c;
        const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(src), m), is);
        const __m256 v = _mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(xhat, g), b), zero);
        const __m256 better = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
        best = _mm256_blendv_ps(best, v, better);
        bestXhat = _mm256_blendv_ps(bestXhat, xhat, better);
        at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at),
                                                  _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(w))), better));
      }
      const std::size_t out = cell * d.channels + c;
      if (dropout != nullptr) {
        best = _mm256_mul_ps(best, dropoutValues(dropout->key, dropout->first + static_cast<std::uint32_t>(out)));
      }
      _mm256_storeu_ps(y + out, best);
      _mm256_storeu_ps(winnerXhat + out, bestXhat);
      const __m256i passed = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(best, zero, _CMP_GT_OQ)),
                                              _mm256_set1_epi32(kPassed));
      // The 8 lanes' low bytes, packed in order.
      const __m256i bytes = _mm256_shuffle_epi8(_mm256_or_si256(at, passed),
                                                _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                                 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
      const std::uint32_t low = static_cast<std::uint32_t>(_mm256_extract_epi32(bytes, 0));
      const std::uint32_t high = static_cast<std::uint32_t>(_mm256_extract_epi32(bytes, 4));
      const std::uint64_t packed = low | (static_cast<std::uint64_t>(high) << 32);
      std::memcpy(winner + out, &packed, sizeof packed);
    }
  }
}

SER_AVX2 void winnerSumsAvx2(std::size_t cells, std::size_t channels, const float* winnerXhat,
                             const std::uint8_t* winner, const float* dy, float scale, double* sumG, double* sumGX) {
  const __m256i passedBit = _mm256_set1_epi32(kPassed);
  const __m256 scaled = _mm256_set1_ps(scale);
  for (std::size_t c = 0; c < channels; c += 8) {
    __m256d g0 = _mm256_loadu_pd(sumG + c), g1 = _mm256_loadu_pd(sumG + c + 4);
    __m256d x0 = _mm256_loadu_pd(sumGX + c), x1 = _mm256_loadu_pd(sumGX + c + 4);
    for (std::size_t cell = 0; cell < cells; ++cell) {
      const std::size_t at = cell * channels + c;
      const __m256i flows = _mm256_cmpeq_epi32(_mm256_and_si256(loadWinners(winner + at), passedBit), passedBit);
      const __m256 g = _mm256_and_ps(_mm256_castsi256_ps(flows), _mm256_mul_ps(_mm256_loadu_ps(dy + at), scaled));
      const __m256 gx = _mm256_mul_ps(g, _mm256_loadu_ps(winnerXhat + at));
      g0 = _mm256_add_pd(g0, _mm256_cvtps_pd(_mm256_castps256_ps128(g)));
      g1 = _mm256_add_pd(g1, _mm256_cvtps_pd(_mm256_extractf128_ps(g, 1)));
      x0 = _mm256_add_pd(x0, _mm256_cvtps_pd(_mm256_castps256_ps128(gx)));
      x1 = _mm256_add_pd(x1, _mm256_cvtps_pd(_mm256_extractf128_ps(gx, 1)));
    }
    _mm256_storeu_pd(sumG + c, g0);
    _mm256_storeu_pd(sumG + c + 4, g1);
    _mm256_storeu_pd(sumGX + c, x0);
    _mm256_storeu_pd(sumGX + c + 4, x1);
  }
}

SER_AVX2 void convGradientAvx2(const ImageDims& d, const GradientBand& band, const std::uint8_t* winner,
                               const float* dy, const GradientTerms& t) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  const __m256 scaled = _mm256_set1_ps(t.scale);
  for (std::size_t py = band.firstPooledRow(d); py < band.endPooledRow(d); ++py) {
    for (std::size_t px = 0; px < d.pooledWidth; ++px) {
      const std::size_t cell = py * d.pooledWidth + px;
      for (std::size_t c = 0; c < d.channels; c += 8) {
        const std::size_t at = cell * d.channels + c;
        const __m256i won = loadWinners(winner + at);
        const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dy + at), scaled);
        const __m256 m = _mm256_loadu_ps(t.mean + c), is = _mm256_loadu_ps(t.invStd + c);
        const __m256 k = _mm256_loadu_ps(t.k + c), meanG = _mm256_loadu_ps(t.meanG + c);
        const __m256 meanGX = _mm256_loadu_ps(t.meanGX + c);
        const __m256 minusK = _mm256_xor_ps(k, _mm256_set1_ps(-0.0f));
        for (std::size_t w = 0; w < window; ++w) {
          const std::size_t y = py * d.poolHeight + w / d.poolWidth, x = px * d.poolWidth + w % d.poolWidth;
          const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(band.convAt(d, y, x) + c), m), is);
          const __m256 base = _mm256_mul_ps(minusK, _mm256_add_ps(meanG, _mm256_mul_ps(xhat, meanGX)));
          const __m256i here = _mm256_cmpeq_epi32(won, _mm256_set1_epi32(static_cast<int>(w | kPassed)));
          const __m256 withWinner = _mm256_add_ps(base, _mm256_mul_ps(k, g));
          _mm256_storeu_ps(band.at(d, y, x) + c, _mm256_blendv_ps(base, withWinner, _mm256_castsi256_ps(here)));
        }
      }
    }
  }
  uncoveredGradient(d, band, t);
}

// The same loops 16 channels at a time where the CPU has AVX-512: the same operations, so the same bits.
// GCC 12's own AVX-512 headers (srli, max, cvtepi32_epi8: their _mm512_undefined operands) set off a
// false -Wmaybe-uninitialized here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define SER_AVX512 __attribute__((target("avx512f")))

SER_AVX512 inline __m512i mix32x16(__m512i h) {
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0x85EBCA6Bu)));
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 13));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0xC2B2AE35u)));
  return _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
}

SER_AVX512 inline __m512 dropoutValues16(const DropoutKey& key, std::uint32_t first) {
  const __m512i index = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first)),
                                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i h = _mm512_mullo_epi32(index, _mm512_set1_epi32(static_cast<int>(0x9E3779B1u)));
  h = mix32x16(_mm512_xor_si512(h, _mm512_set1_epi32(static_cast<int>(key.first))));
  h = mix32x16(_mm512_xor_si512(h, _mm512_set1_epi32(static_cast<int>(key.second))));
  const __mmask16 kept = _mm512_cmp_epu32_mask(_mm512_srli_epi32(h, 8), _mm512_set1_epi32(static_cast<int>(key.threshold)), _MM_CMPINT_NLT);
  return _mm512_maskz_mov_ps(kept, _mm512_set1_ps(key.scale));
}

SER_AVX512 inline __m512i loadWinners16(const std::uint8_t* winner) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(winner)));
}

SER_AVX512 void normalizeReluPoolAvx512(const ImageDims& d, const ConvRows& rows, const float* mean, const float* invStd,
                                        const float* gamma, const float* beta, const FoldedDropout* dropout, float* y,
                                        float* winnerXhat, std::uint8_t* winner) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  const __m512 zero = _mm512_setzero_ps();
  for (std::size_t cell = rows.firstCell(d); cell < rows.endCell(d); ++cell) {
    const std::size_t py = cell / d.pooledWidth, px = cell % d.pooledWidth;
    const float* first = windowAt(d, rows, py, px, 0);
    for (std::size_t c = 0; c < d.channels; c += 16) {
      const __m512 m = _mm512_loadu_ps(mean + c), is = _mm512_loadu_ps(invStd + c);
      const __m512 g = _mm512_loadu_ps(gamma + c), b = _mm512_loadu_ps(beta + c);
      __m512 bestXhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(first + c), m), is);
      __m512 best = _mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(bestXhat, g), b), zero);
      __m512i at = _mm512_setzero_si512();
      for (std::size_t w = 1; w < window; ++w) {
        const float* src = windowAt(d, rows, py, px, w) + c;
        const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(src), m), is);
        const __m512 v = _mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(xhat, g), b), zero);
        const __mmask16 better = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
        best = _mm512_mask_blend_ps(better, best, v);
        bestXhat = _mm512_mask_blend_ps(better, bestXhat, xhat);
        at = _mm512_mask_blend_epi32(better, at, _mm512_set1_epi32(static_cast<int>(w)));
      }
      const std::size_t out = cell * d.channels + c;
      if (dropout != nullptr) {
        best = _mm512_mul_ps(best, dropoutValues16(dropout->key, dropout->first + static_cast<std::uint32_t>(out)));
      }
      _mm512_storeu_ps(y + out, best);
      _mm512_storeu_ps(winnerXhat + out, bestXhat);
      const __mmask16 passed = _mm512_cmp_ps_mask(best, zero, _CMP_GT_OQ);
      at = _mm512_mask_or_epi32(at, passed, at, _mm512_set1_epi32(kPassed));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(winner + out), _mm512_cvtepi32_epi8(at));
    }
  }
}

SER_AVX512 void winnerSumsAvx512(std::size_t cells, std::size_t channels, const float* winnerXhat,
                                 const std::uint8_t* winner, const float* dy, float scale, double* sumG, double* sumGX) {
  const __m512i passedBit = _mm512_set1_epi32(kPassed);
  const __m512 scaled = _mm512_set1_ps(scale);
  for (std::size_t c = 0; c < channels; c += 16) {
    __m512d g0 = _mm512_loadu_pd(sumG + c), g1 = _mm512_loadu_pd(sumG + c + 8);
    __m512d x0 = _mm512_loadu_pd(sumGX + c), x1 = _mm512_loadu_pd(sumGX + c + 8);
    for (std::size_t cell = 0; cell < cells; ++cell) {
      const std::size_t at = cell * channels + c;
      const __mmask16 flows = _mm512_test_epi32_mask(loadWinners16(winner + at), passedBit);
      const __m512 g = _mm512_maskz_mov_ps(flows, _mm512_mul_ps(_mm512_loadu_ps(dy + at), scaled));
      const __m512 gx = _mm512_mul_ps(g, _mm512_loadu_ps(winnerXhat + at));
      g0 = _mm512_add_pd(g0, _mm512_cvtps_pd(_mm512_castps512_ps256(g)));
      g1 = _mm512_add_pd(g1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(g), 1))));
      x0 = _mm512_add_pd(x0, _mm512_cvtps_pd(_mm512_castps512_ps256(gx)));
      x1 = _mm512_add_pd(x1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(gx), 1))));
    }
    _mm512_storeu_pd(sumG + c, g0);
    _mm512_storeu_pd(sumG + c + 8, g1);
    _mm512_storeu_pd(sumGX + c, x0);
    _mm512_storeu_pd(sumGX + c + 8, x1);
  }
}

SER_AVX512 void convGradientAvx512(const ImageDims& d, const GradientBand& band, const std::uint8_t* winner,
                                   const float* dy, const GradientTerms& t) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  const __m512 scaled = _mm512_set1_ps(t.scale);
  for (std::size_t py = band.firstPooledRow(d); py < band.endPooledRow(d); ++py) {
    for (std::size_t px = 0; px < d.pooledWidth; ++px) {
      const std::size_t cell = py * d.pooledWidth + px;
      for (std::size_t c = 0; c < d.channels; c += 16) {
        const std::size_t at = cell * d.channels + c;
        const __m512i won = loadWinners16(winner + at);
        const __m512 g = _mm512_mul_ps(_mm512_loadu_ps(dy + at), scaled);
        const __m512 m = _mm512_loadu_ps(t.mean + c), is = _mm512_loadu_ps(t.invStd + c);
        const __m512 k = _mm512_loadu_ps(t.k + c), meanG = _mm512_loadu_ps(t.meanG + c);
        const __m512 meanGX = _mm512_loadu_ps(t.meanGX + c);
        const __m512 minusK = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(k), _mm512_set1_epi32(INT32_MIN)));
        for (std::size_t w = 0; w < window; ++w) {
          const std::size_t y = py * d.poolHeight + w / d.poolWidth, x = px * d.poolWidth + w % d.poolWidth;
          const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(band.convAt(d, y, x) + c), m), is);
          const __m512 base = _mm512_mul_ps(minusK, _mm512_add_ps(meanG, _mm512_mul_ps(xhat, meanGX)));
          const __mmask16 here = _mm512_cmpeq_epi32_mask(won, _mm512_set1_epi32(static_cast<int>(w | kPassed)));
          _mm512_storeu_ps(band.at(d, y, x) + c, _mm512_mask_add_ps(base, here, base, _mm512_mul_ps(k, g)));
        }
      }
    }
  }
  uncoveredGradient(d, band, t);
}
#pragma GCC diagnostic pop
#endif

// 8 lanes where the CPU has AVX2 and FMA and SER_GEMM_ISA does not cap the engine to portable code.
bool avx2Channels(std::size_t channels) {
#ifdef SER_X86_KERNELS
  static const bool avx2 = std::strcmp(gemmIsa(), "portable") != 0;
  return avx2 && channels % 8 == 0;
#else
  (void)channels;
  return false;
#endif
}

// 16 lanes where the CPU has AVX-512 and SER_GEMM_ISA does not cap the engine below it.
bool avx512Channels(std::size_t channels) {
#ifdef SER_X86_KERNELS
  static const bool avx512 = std::strcmp(gemmIsa(), "avx512") == 0;
  return avx512 && channels % 16 == 0;
#else
  (void)channels;
  return false;
#endif
}

void normalizeReluPool(const ImageDims& d, const ConvRows& rows, const float* mean, const float* invStd,
                       const float* gamma, const float* beta, const FoldedDropout* dropout, float* y,
                       float* winnerXhat, std::uint8_t* winner) {
#ifdef SER_X86_KERNELS
  if (avx512Channels(d.channels)) {
    normalizeReluPoolAvx512(d, rows, mean, invStd, gamma, beta, dropout, y, winnerXhat, winner);
    return;
  }
  if (avx2Channels(d.channels)) {
    normalizeReluPoolAvx2(d, rows, mean, invStd, gamma, beta, dropout, y, winnerXhat, winner);
    return;
  }
#endif
  normalizeReluPoolPortable(d, rows, mean, invStd, gamma, beta, dropout, y, winnerXhat, winner);
}

void winnerSums(std::size_t cells, std::size_t channels, const float* winnerXhat, const std::uint8_t* winner,
                const float* dy, float scale, double* sumG, double* sumGX) {
#ifdef SER_X86_KERNELS
  if (avx512Channels(channels)) {
    winnerSumsAvx512(cells, channels, winnerXhat, winner, dy, scale, sumG, sumGX);
    return;
  }
  if (avx2Channels(channels)) {
    winnerSumsAvx2(cells, channels, winnerXhat, winner, dy, scale, sumG, sumGX);
    return;
  }
#endif
  winnerSumsPortable(cells, channels, winnerXhat, winner, dy, scale, sumG, sumGX);
}

void convGradient(const ImageDims& d, const GradientBand& band, const std::uint8_t* winner, const float* dy,
                  const GradientTerms& t) {
#ifdef SER_X86_KERNELS
  if (avx512Channels(d.channels)) {
    convGradientAvx512(d, band, winner, dy, t);
    return;
  }
  if (avx2Channels(d.channels)) {
    convGradientAvx2(d, band, winner, dy, t);
    return;
  }
#endif
  convGradientPortable(d, band, winner, dy, t);
}

// The first block (one input channel): its convolution output is made again a band of whole pooled rows
// at a time from the image (one multiply-add per filter tap and value) wherever it is needed, instead of being written
// to the workspace and read back: at 301 x 40 x 32 per clip it is the model's largest activation
// (49 MB a batch of 32), and every pass over it ran at memory speed.
bool recomputesConv(const ConvBlockShape& s) { return directConvApplies(s.conv); }

std::size_t bandRows(const ConvBlockShape& s) { return s.poolHeight * std::max<std::size_t>(1, 8 / s.poolHeight); }

// Calls visit(rows) for one image's output a band at a time (on the calling thread, bands in order).
template <typename Visit>
void forEachConvBand(const ConvBlockShape& s, const float* image, const float* filter, Visit visit) {
  thread_local PaddedImage padded;
  thread_local AlignedVector<float> band;
  const std::size_t rowsPerBand = bandRows(s);
  padImage(s.conv, image, padded);
  band.resize(rowsPerBand * s.conv.outWidth * s.channels());
  for (std::size_t rowBegin = 0; rowBegin < s.conv.outHeight; rowBegin += rowsPerBand) {
    const std::size_t rowEnd = std::min(s.conv.outHeight, rowBegin + rowsPerBand);
    conv2dDirectRows(s.conv, padded, filter, rowBegin, rowEnd, band.data());
    visit(ConvRows{band.data(), rowBegin, rowEnd});
  }
}

}  // namespace

void validateConvBlockShape(const ConvBlockShape& s) {
  validateConv2DGeometry(s.conv);
  if (s.poolHeight == 0 || s.poolWidth == 0 || s.poolHeight * s.poolWidth > 127 || s.pooledHeight() == 0 ||
      s.pooledWidth() == 0) {
    throw InputError("pool " + std::to_string(s.poolHeight) + " x " + std::to_string(s.poolWidth) +
                     " does not fit a " + std::to_string(s.conv.outHeight) + " x " + std::to_string(s.conv.outWidth) +
                     " convolution output");
  }
  if (!(s.epsilon > 0.0f) || !std::isfinite(s.epsilon)) throw InputError("batch norm epsilon must be positive");
  dropoutKey(s.dropoutSeed, s.dropoutRate);  // throws on a rate outside [0, 1)
  if (s.outputSize() > kMaxDropoutElements) throw InputError("a convolution block's output holds at most 2^32 elements");
}

void convBlockForward(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                      const float* beta, float* y, float* batchMean, float* batchVariance, float* workspace) {
  validateConvBlockShape(s);
  float* conv = workspace;
  const ImageDims d = dimsOf(s);
  const bool recompute = recomputesConv(s);
  const std::size_t imageIn = s.conv.inHeight * s.conv.inWidth * s.conv.inChannels, imageSize = d.pixels * d.channels;
  // Each image's sums are taken while its convolution output is still in cache. The variance comes from
  // the sums of squares in double (E[x^2] - mean^2): with float32 inputs and double sums the
  // cancellation costs nothing at float precision, and it saves a second pass over the output.
  const std::vector<double> moments = sumOverImages(s, 2 * d.channels, [&](std::size_t b, double* acc) {
    if (recompute) {
      forEachConvBand(s, x + b * imageIn, filter, [&](const ConvRows& rows) {
        channelMoments((rows.rowEnd - rows.rowBegin) * d.width, d.channels, rows.conv, acc, acc + d.channels);
      });
      return;
    }
    conv2dImages(s.conv, b, b + 1, x, filter, conv);
    channelMoments(d.pixels, d.channels, conv + b * imageSize, acc, acc + d.channels);
  });
  const double count = static_cast<double>(s.conv.batch * d.pixels);
  for (std::size_t c = 0; c < d.channels; ++c) {
    const double mean = moments[c] / count;
    batchMean[c] = static_cast<float>(mean);
    batchVariance[c] = static_cast<float>(std::max(0.0, moments[d.channels + c] / count - mean * mean));
  }
  const ChannelScale scale = channelScale(s, batchMean, batchVariance);
  std::uint8_t* winner = winners(s, workspace);
  const std::size_t pooled = d.pooledHeight * d.pooledWidth * d.channels;
  const bool dropout = s.dropoutRate > 0.0f;
  const DropoutKey key = dropoutKey(s.dropoutSeed, s.dropoutRate);
  parallelFor(s.conv.batch, [&](std::size_t b) {
    const FoldedDropout folded{key, static_cast<std::uint32_t>(b * pooled)};
    const auto pool = [&](const ConvRows& rows) {
      normalizeReluPool(d, rows, scale.mean.data(), scale.invStd.data(), gamma, beta, dropout ? &folded : nullptr,
                        y + b * pooled, winnerXhats(s, workspace) + b * pooled, winner + b * pooled);
    };
    if (recompute) forEachConvBand(s, x + b * imageIn, filter, pool);
    else pool(ConvRows{conv + b * imageSize, 0, s.conv.outHeight});
  });
}

void convBlockInfer(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                    const float* beta, const float* mean, const float* variance, float* y, float* workspace) {
  validateConvBlockShape(s);
  float* conv = workspace;
  const ImageDims d = dimsOf(s);
  const ChannelScale scale = channelScale(s, mean, variance);
  const std::size_t pooled = d.pooledHeight * d.pooledWidth * d.channels, imageSize = d.pixels * d.channels;
  const std::size_t imageIn = s.conv.inHeight * s.conv.inWidth * s.conv.inChannels;
  parallelFor(s.conv.batch, [&](std::size_t b) {
    const auto pool = [&](const ConvRows& rows) {
      normalizeReluPool(d, rows, scale.mean.data(), scale.invStd.data(), gamma, beta, nullptr, y + b * pooled,
                        winnerXhats(s, workspace) + b * pooled, winners(s, workspace) + b * pooled);
    };
    if (recomputesConv(s)) {
      forEachConvBand(s, x + b * imageIn, filter, pool);
      return;
    }
    conv2dImages(s.conv, b, b + 1, x, filter, conv);
    pool(ConvRows{conv + b * imageSize, 0, s.conv.outHeight});
  });
}

void convBlockBackward(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                       const float* batchMean, const float* batchVariance, float* workspace,
                       const float* dy, float* dx, float* dFilter, float* dGamma, float* dBeta) {
  validateConvBlockShape(s);
  float* conv = workspace;
  const std::uint8_t* winner = winners(s, workspace);
  const ImageDims d = dimsOf(s);
  const std::size_t channels = d.channels;
  const std::size_t pooled = d.pooledHeight * d.pooledWidth * channels;
  const ChannelScale normal = channelScale(s, batchMean, batchVariance);
  // The gradient through a folded dropout: dy times its scale where the forward pass's mask kept the
  // value (the winners whose gradient flows), zero elsewhere (also where a dropped value's dy is not
  // finite, which tfjs's dy * 0 would make NaN).
  const float scale = s.dropoutRate > 0.0f ? dropoutKey(s.dropoutSeed, s.dropoutRate).scale : 1.0f;
  const std::vector<double> sums = sumOverImages(s, 2 * channels, [&](std::size_t b, double* acc) {
    winnerSums(d.pooledHeight * d.pooledWidth, channels, winnerXhats(s, workspace) + b * pooled, winner + b * pooled,
               dy + b * pooled, scale, acc, acc + channels);
  });
  const double count = static_cast<double>(s.conv.batch * d.pixels);
  std::vector<float> meanG(channels), meanGX(channels), k(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    dBeta[c] = static_cast<float>(sums[c]);
    dGamma[c] = static_cast<float>(sums[channels + c]);
    meanG[c] = static_cast<float>(sums[c] / count);
    meanGX[c] = static_cast<float>(sums[channels + c] / count);
    k[c] = gamma[c] * normal.invStd[c];
  }
  const GradientTerms terms{normal.mean.data(), normal.invStd.data(), k.data(), meanG.data(), meanGX.data(), scale};
  const std::size_t height = s.conv.outHeight, imageSize = d.pixels * channels;
  const std::size_t imageIn = s.conv.inHeight * s.conv.inWidth * s.conv.inChannels;
  if (recomputesConv(s) && dx == nullptr) {
    // No input gradient (the model's first block): the gradient of the convolution's output is made a
    // band at a time from the recomputed band and fed straight to the filter gradient; neither the
    // output nor its gradient is ever held whole.
    conv2dBackpropFilterBands(s.conv, x, bandRows(s), [&](std::size_t b, std::size_t rowBegin, std::size_t rowEnd, float* out) {
      // Bands come in order on one thread: the image is padded again at its first band.
      thread_local PaddedImage padded;
      thread_local AlignedVector<float> rows;
      if (rowBegin == 0) padImage(s.conv, x + b * imageIn, padded);
      rows.resize((rowEnd - rowBegin) * d.width * channels);
      conv2dDirectRows(s.conv, padded, filter, rowBegin, rowEnd, rows.data());
      convGradient(d, GradientBand{ConvRows{rows.data(), rowBegin, rowEnd}, out}, winner + b * pooled, dy + b * pooled,
                   terms);
    }, dFilter);
    return;
  }
  parallelFor(s.conv.batch, [&](std::size_t b) {
    float* image = conv + b * imageSize;
    // A recomputed block asked for its input gradient needs its whole output back first.
    if (recomputesConv(s)) conv2dImages(s.conv, b, b + 1, x, filter, conv);
    convGradient(d, GradientBand{ConvRows{image, 0, height}, image}, winner + b * pooled, dy + b * pooled, terms);
  });
  if (dx != nullptr) conv2dBackprop(s.conv, x, conv, filter, dx, dFilter);
  else conv2dBackpropFilter(s.conv, x, conv, dFilter);
}

}  // namespace ser
