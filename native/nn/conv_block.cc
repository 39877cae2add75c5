#include "nn/conv_block.h"

#include <cmath>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/simd.h"
#include "nn/dropout.h"

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

// Per-image partial sums in double, added in image order: the same bits at any thread count.
template <typename PerImage>
std::vector<double> sumOverImages(const ConvBlockShape& s, std::size_t width, PerImage perImage) {
  const std::size_t batch = s.conv.batch;
  std::vector<double> partial(batch * width, 0.0);
  parallelFor(batch, [&](std::size_t b) { perImage(b, partial.data() + b * width); });
  std::vector<double> total(width, 0.0);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t j = 0; j < width; ++j) total[j] += partial[b * width + j];
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

// The pixel of window position w of pooled cell (py, px).
inline std::size_t windowPixel(const ImageDims& d, std::size_t py, std::size_t px, std::size_t w) {
  return (py * d.poolHeight + w / d.poolWidth) * d.width + px * d.poolWidth + w % d.poolWidth;
}

SER_HOT void channelMoments(const ImageDims& d, const float* __restrict image, double* __restrict sum,
                            double* __restrict squares) {
  for (std::size_t p = 0; p < d.pixels; ++p) {
    const float* row = image + p * d.channels;
    for (std::size_t c = 0; c < d.channels; ++c) {
      const double v = row[c];
      sum[c] += v;
      squares[c] += v * v;
    }
  }
}

// out[i] = in[i] * mask value of element first + i (in may be out).
SER_HOT void applyDropout(const DropoutKey& given, std::size_t first, std::size_t count, const float* in, float* out) {
  // A copy: stores to out could otherwise alias the key's float scale and stop vectorisation.
  const DropoutKey key = given;
  const auto base = static_cast<std::uint32_t>(first);
  for (std::size_t i = 0; i < count; ++i) out[i] = in[i] * dropoutValue(key, base + static_cast<std::uint32_t>(i));
}

// Each pooled value's winner: the window position (low 7 bits) and whether the ReLU passed it (top bit).
constexpr std::uint8_t kPassed = 0x80;

// y = max over the window of relu((conv - mean) invStd gamma + beta), the first largest winning; the
// winner's x-hat and position are kept for the backward pass. The compilers' own vectorisation of this
// loop nest ran at 4 ns per element; written with 8-lane vectors it is memory-bound.
void normalizeReluPoolPortable(const ImageDims& d, const float* image, const float* mean, const float* invStd,
                               const float* gamma, const float* beta, float* y, float* winnerXhat,
                               std::uint8_t* winner) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  for (std::size_t cell = 0; cell < d.pooledHeight * d.pooledWidth; ++cell) {
    const std::size_t py = cell / d.pooledWidth, px = cell % d.pooledWidth;
    for (std::size_t c = 0; c < d.channels; ++c) {
      float best = 0.0f, bestXhat = 0.0f;
      std::uint8_t at = 0;
      for (std::size_t w = 0; w < window; ++w) {
        const float xhat = (image[windowPixel(d, py, px, w) * d.channels + c] - mean[c]) * invStd[c];
        const float normed = xhat * gamma[c] + beta[c];
        const float v = normed > 0.0f ? normed : 0.0f;
        if (w == 0 || v > best) {
          best = v;
          bestXhat = xhat;
          at = static_cast<std::uint8_t>(w);
        }
      }
      y[cell * d.channels + c] = best;
      winnerXhat[cell * d.channels + c] = bestXhat;
      winner[cell * d.channels + c] = static_cast<std::uint8_t>(at | (best > 0.0f ? kPassed : 0));
    }
  }
}

#ifdef SER_X86_KERNELS
__attribute__((target("avx2,fma"))) void normalizeReluPoolAvx2(const ImageDims& d, const float* image,
                                                               const float* mean, const float* invStd,
                                                               const float* gamma, const float* beta, float* y,
                                                               float* winnerXhat, std::uint8_t* winner) {
  const std::size_t window = d.poolHeight * d.poolWidth;
  const __m256 zero = _mm256_setzero_ps();
  alignas(32) std::int32_t lanes[8];
  for (std::size_t cell = 0; cell < d.pooledHeight * d.pooledWidth; ++cell) {
    const std::size_t py = cell / d.pooledWidth, px = cell % d.pooledWidth;
    const float* first = image + windowPixel(d, py, px, 0) * d.channels;
    for (std::size_t c = 0; c < d.channels; c += 8) {
      const __m256 m = _mm256_loadu_ps(mean + c), is = _mm256_loadu_ps(invStd + c);
      const __m256 g = _mm256_loadu_ps(gamma + c), b = _mm256_loadu_ps(beta + c);
      __m256 bestXhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(first + c), m), is);
      __m256 best = _mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(bestXhat, g), b), zero);
      __m256i at = _mm256_setzero_si256();
      for (std::size_t w = 1; w < window; ++w) {
        const float* src = image + windowPixel(d, py, px, w) * d.channels + c;
        const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(src), m), is);
        const __m256 v = _mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(xhat, g), b), zero);
        const __m256 better = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
        best = _mm256_blendv_ps(best, v, better);
        bestXhat = _mm256_blendv_ps(bestXhat, xhat, better);
        at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at),
                                                  _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(w))), better));
      }
      const std::size_t out = cell * d.channels + c;
      _mm256_storeu_ps(y + out, best);
      _mm256_storeu_ps(winnerXhat + out, bestXhat);
      const __m256i passed = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(best, zero, _CMP_GT_OQ)),
                                              _mm256_set1_epi32(kPassed));
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_or_si256(at, passed));
      for (int k = 0; k < 8; ++k) winner[out + k] = static_cast<std::uint8_t>(lanes[k]);
    }
  }
}
#endif

void normalizeReluPool(const ImageDims& d, const float* image, const float* mean, const float* invStd,
                       const float* gamma, const float* beta, float* y, float* winnerXhat, std::uint8_t* winner) {
#ifdef SER_X86_KERNELS
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && d.channels % 8 == 0) {
    normalizeReluPoolAvx2(d, image, mean, invStd, gamma, beta, y, winnerXhat, winner);
    return;
  }
#endif
  normalizeReluPoolPortable(d, image, mean, invStd, gamma, beta, y, winnerXhat, winner);
}

// What reaches the batch norm's output: dy at each window's winner where the ReLU passed it. Its sum
// per channel is dBeta, its sum times x-hat dGamma.
SER_HOT void winnerSums(std::size_t cells, std::size_t channels, const float* __restrict winnerXhat,
                        const std::uint8_t* __restrict winner, const float* __restrict dy, double* __restrict sumG,
                        double* __restrict sumGX) {
  for (std::size_t cell = 0; cell < cells; ++cell) {
    const std::size_t base = cell * channels;
    for (std::size_t c = 0; c < channels; ++c) {
      const float g = (winner[base + c] & kPassed) ? dy[base + c] : 0.0f;
      sumG[c] += g;
      sumGX[c] += static_cast<double>(g * winnerXhat[base + c]);
    }
  }
}

// dConv = k (g - mean(g) - x-hat mean(g x-hat)) with k = gamma invStd, written over the convolution's
// output: the batch terms everywhere, then k g at the winners.
SER_HOT void convGradient(const ImageDims& d, float* __restrict image, const float* __restrict mean,
                          const float* __restrict invStd, const std::uint8_t* __restrict winner,
                          const float* __restrict dy, const float* __restrict k, const float* __restrict meanG,
                          const float* __restrict meanGX) {
  for (std::size_t p = 0; p < d.pixels; ++p) {
    float* __restrict row = image + p * d.channels;
    for (std::size_t c = 0; c < d.channels; ++c) {
      const float xhat = (row[c] - mean[c]) * invStd[c];
      row[c] = -k[c] * (meanG[c] + xhat * meanGX[c]);
    }
  }
  for (std::size_t cell = 0; cell < d.pooledHeight * d.pooledWidth; ++cell) {
    const std::size_t py = cell / d.pooledWidth, px = cell % d.pooledWidth;
    for (std::size_t c = 0; c < d.channels; ++c) {
      const std::uint8_t w = winner[cell * d.channels + c];
      const float g = (w & kPassed) ? dy[cell * d.channels + c] : 0.0f;
      image[windowPixel(d, py, px, w & ~kPassed) * d.channels + c] += k[c] * g;
    }
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
  // Each image's sums are taken while its convolution output is still in cache. The variance comes from
  // the sums of squares in double (E[x^2] - mean^2): with float32 inputs and double sums the
  // cancellation costs nothing at float precision, and it saves a second pass over the output.
  const std::vector<double> moments = sumOverImages(s, 2 * d.channels, [&](std::size_t b, double* acc) {
    conv2dImages(s.conv, b, b + 1, x, filter, conv);
    channelMoments(d, conv + b * d.pixels * d.channels, acc, acc + d.channels);
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
    normalizeReluPool(d, conv + b * d.pixels * d.channels, scale.mean.data(), scale.invStd.data(), gamma, beta,
                      y + b * pooled, winnerXhats(s, workspace) + b * pooled, winner + b * pooled);
    if (dropout) applyDropout(key, b * pooled, pooled, y + b * pooled, y + b * pooled);
  });
}

void convBlockInfer(const ConvBlockShape& s, const float* x, const float* filter, const float* gamma,
                    const float* beta, const float* mean, const float* variance, float* y, float* workspace) {
  validateConvBlockShape(s);
  float* conv = workspace;
  const ImageDims d = dimsOf(s);
  const ChannelScale scale = channelScale(s, mean, variance);
  const std::size_t pooled = d.pooledHeight * d.pooledWidth * d.channels;
  parallelFor(s.conv.batch, [&](std::size_t b) {
    conv2dImages(s.conv, b, b + 1, x, filter, conv);
    normalizeReluPool(d, conv + b * d.pixels * d.channels, scale.mean.data(), scale.invStd.data(), gamma, beta,
                      y + b * pooled, winnerXhats(s, workspace) + b * pooled, winners(s, workspace) + b * pooled);
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
  const ChannelScale scale = channelScale(s, batchMean, batchVariance);
  // The gradient through a folded dropout: dy times the same mask, drawn again per image.
  const bool dropout = s.dropoutRate > 0.0f;
  const DropoutKey key = dropoutKey(s.dropoutSeed, s.dropoutRate);
  auto imageGradient = [&](std::size_t b) -> const float* {
    if (!dropout) return dy + b * pooled;
    thread_local std::vector<float> masked;
    masked.resize(pooled);
    applyDropout(key, b * pooled, pooled, dy + b * pooled, masked.data());
    return masked.data();
  };
  const std::vector<double> sums = sumOverImages(s, 2 * channels, [&](std::size_t b, double* acc) {
    winnerSums(d.pooledHeight * d.pooledWidth, channels, winnerXhats(s, workspace) + b * pooled, winner + b * pooled,
               imageGradient(b), acc, acc + channels);
  });
  const double count = static_cast<double>(s.conv.batch * d.pixels);
  std::vector<float> meanG(channels), meanGX(channels), k(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    dBeta[c] = static_cast<float>(sums[c]);
    dGamma[c] = static_cast<float>(sums[channels + c]);
    meanG[c] = static_cast<float>(sums[c] / count);
    meanGX[c] = static_cast<float>(sums[channels + c] / count);
    k[c] = gamma[c] * scale.invStd[c];
  }
  parallelFor(s.conv.batch, [&](std::size_t b) {
    convGradient(d, conv + b * d.pixels * channels, scale.mean.data(), scale.invStd.data(), winner + b * pooled,
                 imageGradient(b), k.data(), meanG.data(), meanGX.data());
  });
  conv2dBackpropFilter(s.conv, x, conv, dFilter);
  if (dx != nullptr) conv2dBackpropInput(s.conv, conv, filter, dx);
}

}  // namespace ser
