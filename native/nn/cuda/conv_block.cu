// A convolution block each way on the device: im2col + cuBLAS for the convolution and its gradients,
// one kernel for batch norm + ReLU + max pooling + dropout, and column sums in double for the batch
// statistics and the normalisation's gradient, in the CPU engine's arithmetic (nn/conv_block.cc).
// Products use the _rn intrinsics (no contraction into fused multiply-adds). The CPU engine's AVX2 paths
// do contract some of them, and cuBLAS sums the convolution in another order, so a window whose two
// best values are within an ulp can pick another winner: the op checks compare the backward pass from
// the CPU's own forward state for that reason.
#include <algorithm>
#include <cstdint>

#include "nn/cuda/internal.h"
#include "nn/dropout.h"

namespace ser {
namespace gpu {
namespace {

constexpr unsigned char kPassed = 0x80;

struct Geometry {
  // Conv2DGeometry as 64-bit fields the kernels read.
  std::size_t inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth;
  std::size_t strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft;
  __host__ __device__ std::size_t columns() const { return filterHeight * filterWidth * inChannels; }
  __host__ __device__ std::size_t pixels() const { return outHeight * outWidth; }
};

Geometry geometryOf(const Conv2DGeometry& g) {
  return {g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth, g.outChannels, g.filterHeight, g.filterWidth,
          g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft};
}

// col[(image, oy, ox), (fy, fx, c)] = x[image, oy sh - padTop + fy dh, ox sw - padLeft + fx dw, c] or 0.
__global__ void im2col(Geometry g, std::size_t firstImage, std::size_t count, const float* x, float* col) {
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= count) return;
  const std::size_t k = g.columns();
  const std::size_t row = index / k, kk = index % k;
  const std::size_t image = firstImage + row / g.pixels(), pixel = row % g.pixels();
  const std::size_t oy = pixel / g.outWidth, ox = pixel % g.outWidth;
  const std::size_t c = kk % g.inChannels, tap = kk / g.inChannels;
  const std::size_t fy = tap / g.filterWidth, fx = tap % g.filterWidth;
  const long long iy = static_cast<long long>(oy * g.strideHeight + fy * g.dilationHeight) - static_cast<long long>(g.padTop);
  const long long ix = static_cast<long long>(ox * g.strideWidth + fx * g.dilationWidth) - static_cast<long long>(g.padLeft);
  float v = 0.0f;
  if (iy >= 0 && ix >= 0 && iy < static_cast<long long>(g.inHeight) && ix < static_cast<long long>(g.inWidth)) {
    v = x[((image * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + c];
  }
  col[index] = v;
}

// The input gradient of images [firstImage, firstImage + images) gathered from the columns' gradient:
// every output position that read x[image, iy, ix, c] adds its column entry (no atomics: one thread
// per input element, a fixed order).
__global__ void col2im(Geometry g, std::size_t firstImage, std::size_t count, const float* col, float* dx) {
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= count) return;
  const std::size_t c = index % g.inChannels;
  const std::size_t ix = (index / g.inChannels) % g.inWidth;
  const std::size_t iy = (index / (g.inChannels * g.inWidth)) % g.inHeight;
  const std::size_t local = index / (g.inChannels * g.inWidth * g.inHeight);
  const std::size_t k = g.columns();
  float sum = 0.0f;
  for (std::size_t fy = 0; fy < g.filterHeight; ++fy) {
    const long long ty = static_cast<long long>(iy + g.padTop) - static_cast<long long>(fy * g.dilationHeight);
    if (ty < 0 || ty % static_cast<long long>(g.strideHeight) != 0) continue;
    const std::size_t oy = static_cast<std::size_t>(ty) / g.strideHeight;
    if (oy >= g.outHeight) continue;
    for (std::size_t fx = 0; fx < g.filterWidth; ++fx) {
      const long long tx = static_cast<long long>(ix + g.padLeft) - static_cast<long long>(fx * g.dilationWidth);
      if (tx < 0 || tx % static_cast<long long>(g.strideWidth) != 0) continue;
      const std::size_t ox = static_cast<std::size_t>(tx) / g.strideWidth;
      if (ox >= g.outWidth) continue;
      sum += col[((local * g.outHeight + oy) * g.outWidth + ox) * k + (fy * g.filterWidth + fx) * g.inChannels + c];
    }
  }
  dx[firstImage * g.inHeight * g.inWidth * g.inChannels + index] = sum;
}

struct Layout {
  float* conv;
  float* winnerXhat;
  unsigned char* winner;
  float* columns;
  std::size_t columnFloats;
  float* channelStats;  // invStd, k, meanG, meanGX [channels each]
  double* sumScratch;
};

std::size_t imagesPerSlab(const ConvBlockShape& s) {
  const std::size_t perImage = s.conv.outHeight * s.conv.outWidth * s.conv.filterHeight * s.conv.filterWidth * s.conv.inChannels;
  return std::max<std::size_t>(1, std::min(s.conv.batch, kColumnFloats / std::max<std::size_t>(1, perImage)));
}

std::size_t columnFloatsOf(const ConvBlockShape& s) {
  return imagesPerSlab(s) * s.conv.outHeight * s.conv.outWidth * s.conv.filterHeight * s.conv.filterWidth * s.conv.inChannels;
}

std::size_t sumRowsOf(const ConvBlockShape& s) { return std::max(s.conv.outputSize(), s.outputSize()) / s.channels(); }

Layout layoutOf(const ConvBlockShape& s, float* workspace) {
  // The double scratch is aligned relative to the workspace: the workspace itself must be 8-byte aligned.
  if (reinterpret_cast<std::uintptr_t>(workspace) % 8 != 0) throw InputError("a GPU workspace must be 8-byte aligned");
  Layout l{};
  l.conv = workspace;
  l.winnerXhat = l.conv + s.conv.outputSize();
  l.winner = reinterpret_cast<unsigned char*>(l.winnerXhat + s.outputSize());
  std::size_t offset = s.conv.outputSize() + s.outputSize() + (s.outputSize() + 3) / 4;
  l.columns = workspace + offset;
  l.columnFloats = columnFloatsOf(s);
  offset += l.columnFloats;
  l.channelStats = workspace + offset;
  offset += 4 * s.channels();
  offset += offset % 2;  // doubles start 8-byte aligned (cudaMalloc's base is 256-byte aligned)
  l.sumScratch = reinterpret_cast<double*>(workspace + offset);
  return l;
}

// The convolution of every image into conv, a slab of images at a time.
void convolve(Context& context, const ConvBlockShape& s, const Layout& l, const float* x, const float* filter) {
  const Geometry g = geometryOf(s.conv);
  const std::size_t slab = imagesPerSlab(s);
  cudaStream_t stream = context.state().stream;
  for (std::size_t first = 0; first < s.conv.batch; first += slab) {
    const std::size_t images = std::min(slab, s.conv.batch - first);
    const std::size_t rows = images * g.pixels();
    im2col<<<blocksFor(rows * g.columns()), 256, 0, stream>>>(g, first, rows * g.columns(), x, l.columns);
    checkLaunch("im2col");
    gemm(context, GemmShape{rows, g.outChannels, g.columns(), false, false}, l.columns, filter,
         l.conv + first * g.pixels() * g.outChannels, false);
  }
}

struct Moments {
  const float* data;
  std::size_t channels;
  __device__ double2 operator()(std::size_t row, std::size_t column) const {
    const double v = data[row * channels + column];
    return make_double2(v, v * v);
  }
};

__global__ void finishMoments(std::size_t channels, double count, float epsilon, const double* sums, float* mean,
                              float* variance, float* invStd) {
  const std::size_t c = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (c >= channels) return;
  const double m = sums[2 * c] / count;
  const double var = sums[2 * c + 1] / count - m * m;
  mean[c] = static_cast<float>(m);
  variance[c] = static_cast<float>(var > 0.0 ? var : 0.0);
  invStd[c] = 1.0f / sqrtf(__fadd_rn(variance[c], epsilon));
}

__global__ void invStdOf(std::size_t channels, float epsilon, const float* variance, float* invStd) {
  const std::size_t c = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (c < channels) invStd[c] = 1.0f / sqrtf(__fadd_rn(variance[c], epsilon));
}

struct PoolDims {
  std::size_t width, channels, pixels, pooledHeight, pooledWidth, poolHeight, poolWidth;
  __device__ std::size_t windowPixel(std::size_t py, std::size_t px, std::size_t w) const {
    return (py * poolHeight + w / poolWidth) * width + px * poolWidth + w % poolWidth;
  }
};

PoolDims poolDimsOf(const ConvBlockShape& s) {
  return {s.conv.outWidth, s.channels(), s.conv.outHeight * s.conv.outWidth, s.pooledHeight(), s.pooledWidth(),
          s.poolHeight, s.poolWidth};
}

// One thread per pooled value: max over the window of relu((conv - mean) invStd gamma + beta), the first
// largest winning, times the dropout mask; the winner's x-hat and position are kept.
__global__ void normalizeReluPool(PoolDims d, std::size_t count, const float* conv, const float* mean,
                                  const float* invStd, const float* gamma, const float* beta, DropoutKey key,
                                  bool dropout, float* y, float* winnerXhat, unsigned char* winner) {
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= count) return;
  const std::size_t c = index % d.channels;
  const std::size_t cell = (index / d.channels) % (d.pooledHeight * d.pooledWidth);
  const std::size_t image = index / (d.channels * d.pooledHeight * d.pooledWidth);
  const std::size_t py = cell / d.pooledWidth, px = cell % d.pooledWidth;
  const float* base = conv + image * d.pixels * d.channels + c;
  const std::size_t window = d.poolHeight * d.poolWidth;
  float best = 0.0f, bestXhat = 0.0f;
  unsigned at = 0;
  for (std::size_t w = 0; w < window; ++w) {
    const float xhat = __fmul_rn(__fsub_rn(base[d.windowPixel(py, px, w) * d.channels], mean[c]), invStd[c]);
    const float normed = __fadd_rn(__fmul_rn(xhat, gamma[c]), beta[c]);
    const float v = normed > 0.0f ? normed : 0.0f;
    if (w == 0 || v > best) {
      best = v;
      bestXhat = xhat;
      at = static_cast<unsigned>(w);
    }
  }
  y[index] = dropout ? __fmul_rn(best, dropoutValue(key, static_cast<std::uint32_t>(index))) : best;
  winnerXhat[index] = bestXhat;
  winner[index] = static_cast<unsigned char>(at | (best > 0.0f ? kPassed : 0u));
}

// What reaches a pooled value's winner: dy (times the mask) where the ReLU passed it.
__device__ inline float winnerGradient(const unsigned char* winner, const float* dy, DropoutKey key, bool dropout,
                                       std::size_t index) {
  if (!(winner[index] & kPassed)) return 0.0f;
  return dropout ? __fmul_rn(dy[index], dropoutValue(key, static_cast<std::uint32_t>(index))) : dy[index];
}

struct WinnerSums {
  const unsigned char* winner;
  const float* winnerXhat;
  const float* dy;
  DropoutKey key;
  bool dropout;
  std::size_t channels;
  __device__ double2 operator()(std::size_t row, std::size_t column) const {
    const std::size_t index = row * channels + column;
    const float g = winnerGradient(winner, dy, key, dropout, index);
    return make_double2(g, static_cast<double>(__fmul_rn(g, winnerXhat[index])));
  }
};

__global__ void finishWinnerSums(std::size_t channels, double count, const double* sums, const float* gamma,
                                 float* dGamma, float* dBeta, float* stats) {
  const std::size_t c = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (c >= channels) return;
  const float* invStd = stats;
  float* k = stats + channels;
  float* meanG = stats + 2 * channels;
  float* meanGX = stats + 3 * channels;
  dBeta[c] = static_cast<float>(sums[2 * c]);
  dGamma[c] = static_cast<float>(sums[2 * c + 1]);
  meanG[c] = static_cast<float>(sums[2 * c] / count);
  meanGX[c] = static_cast<float>(sums[2 * c + 1] / count);
  k[c] = __fmul_rn(gamma[c], invStd[c]);
}

// dConv = k (g - mean(g) - x-hat mean(g x-hat)), in place over the convolution's output.
__global__ void convGradient(PoolDims d, std::size_t count, float* conv, const float* mean, const float* stats,
                             const unsigned char* winner, const float* dy, DropoutKey key, bool dropout) {
  const std::size_t index = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (index >= count) return;
  const std::size_t channels = d.channels;
  const float* invStd = stats;
  const float* k = stats + channels;
  const float* meanG = stats + 2 * channels;
  const float* meanGX = stats + 3 * channels;
  const std::size_t c = index % channels;
  const std::size_t pixel = (index / channels) % d.pixels;
  const std::size_t image = index / (channels * d.pixels);
  const float xhat = __fmul_rn(__fsub_rn(conv[index], mean[c]), invStd[c]);
  float value = __fmul_rn(-k[c], __fadd_rn(meanG[c], __fmul_rn(xhat, meanGX[c])));
  const std::size_t oy = pixel / d.width, ox = pixel % d.width;
  const std::size_t py = oy / d.poolHeight, px = ox / d.poolWidth;
  if (py < d.pooledHeight && px < d.pooledWidth) {
    const std::size_t pooled = ((image * d.pooledHeight + py) * d.pooledWidth + px) * channels + c;
    const unsigned w = static_cast<unsigned>((oy % d.poolHeight) * d.poolWidth + ox % d.poolWidth);
    if ((winner[pooled] & ~kPassed) == w) {
      value = __fadd_rn(value, __fmul_rn(k[c], winnerGradient(winner, dy, key, dropout, pooled)));
    }
  }
  conv[index] = value;
}

}  // namespace

std::size_t convBlockWorkspaceFloats(const ConvBlockShape& s) {
  validateConvBlockShape(s);
  std::size_t floats = s.conv.outputSize() + s.outputSize() + (s.outputSize() + 3) / 4 + columnFloatsOf(s) + 4 * s.channels();
  floats += floats % 2;
  return floats + 2 * columnSumScratch(sumRowsOf(s), s.channels());
}

void convBlockForward(Context& context, const ConvBlockShape& s, const float* x, const float* filter,
                      const float* gamma, const float* beta, float* y, float* batchMean, float* batchVariance,
                      float* workspace) {
  validateConvBlockShape(s);
  const Layout l = layoutOf(s, workspace);
  cudaStream_t stream = context.state().stream;
  convolve(context, s, l, x, filter);
  const std::size_t channels = s.channels();
  const std::size_t rows = s.conv.outputSize() / channels;
  const double* sums = columnSums(context, rows, channels, Moments{l.conv, channels}, l.sumScratch);
  finishMoments<<<blocksFor(channels), 256, 0, stream>>>(channels, static_cast<double>(rows), s.epsilon, sums, batchMean,
                                                          batchVariance, l.channelStats);
  checkLaunch("finishMoments");
  const bool dropout = s.dropoutRate > 0.0f;
  const DropoutKey key = dropoutKey(s.dropoutSeed, s.dropoutRate);
  normalizeReluPool<<<blocksFor(s.outputSize()), 256, 0, stream>>>(poolDimsOf(s), s.outputSize(), l.conv, batchMean,
                                                                   l.channelStats, gamma, beta, key, dropout, y,
                                                                   l.winnerXhat, l.winner);
  checkLaunch("normalizeReluPool");
}

void convBlockBackward(Context& context, const ConvBlockShape& s, const float* x, const float* filter,
                       const float* gamma, const float* batchMean, const float* batchVariance, float* workspace,
                       const float* dy, float* dx, float* dFilter, float* dGamma, float* dBeta) {
  validateConvBlockShape(s);
  const Layout l = layoutOf(s, workspace);
  cudaStream_t stream = context.state().stream;
  const std::size_t channels = s.channels();
  const bool dropout = s.dropoutRate > 0.0f;
  const DropoutKey key = dropoutKey(s.dropoutSeed, s.dropoutRate);
  invStdOf<<<blocksFor(channels), 256, 0, stream>>>(channels, s.epsilon, batchVariance, l.channelStats);
  checkLaunch("invStdOf");
  const double* sums = columnSums(context, s.outputSize() / channels, channels,
                                  WinnerSums{l.winner, l.winnerXhat, dy, key, dropout, channels}, l.sumScratch);
  finishWinnerSums<<<blocksFor(channels), 256, 0, stream>>>(channels, static_cast<double>(s.conv.outputSize() / channels),
                                                             sums, gamma, dGamma, dBeta, l.channelStats);
  checkLaunch("finishWinnerSums");
  convGradient<<<blocksFor(s.conv.outputSize()), 256, 0, stream>>>(poolDimsOf(s), s.conv.outputSize(), l.conv, batchMean,
                                                                   l.channelStats, l.winner, dy, key, dropout);
  checkLaunch("convGradient");
  // dFilter = columns^T dConv summed over slabs; dx = col2im(dConv filter^T) slab by slab.
  const Geometry g = geometryOf(s.conv);
  const std::size_t slab = imagesPerSlab(s);
  for (std::size_t first = 0; first < s.conv.batch; first += slab) {
    const std::size_t images = std::min(slab, s.conv.batch - first);
    const std::size_t rows = images * g.pixels();
    const float* dConv = l.conv + first * g.pixels() * g.outChannels;
    im2col<<<blocksFor(rows * g.columns()), 256, 0, stream>>>(g, first, rows * g.columns(), x, l.columns);
    checkLaunch("im2col");
    gemm(context, GemmShape{g.columns(), g.outChannels, rows, true, false}, l.columns, dConv, dFilter, first > 0);
  }
  if (dx == nullptr) return;
  for (std::size_t first = 0; first < s.conv.batch; first += slab) {
    const std::size_t images = std::min(slab, s.conv.batch - first);
    const std::size_t rows = images * g.pixels();
    gemm(context, GemmShape{rows, g.columns(), g.outChannels, false, true}, l.conv + first * g.pixels() * g.outChannels,
         filter, l.columns, false);
    const std::size_t inputs = images * g.inHeight * g.inWidth * g.inChannels;
    col2im<<<blocksFor(inputs), 256, 0, stream>>>(g, first, inputs, l.columns, dx);
    checkLaunch("col2im");
  }
}

}  // namespace gpu
}  // namespace ser
