#include "nn/pool.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "common/errors.h"

namespace ser {
namespace {

// Calls visit(outputOffset, inputOffsetOfBestTap or -1) for every output element: the window scan
// shared by the forward pass and the gradient, so both pick the same element.
template <typename Visit>
void forEachWindowMax(const Pool2DGeometry& g, const float* x, Visit visit) {
  const long inH = static_cast<long>(g.inHeight), inW = static_cast<long>(g.inWidth);
  const std::size_t c = g.channels;
  std::vector<float> best(c);
  std::vector<long> where(c);
  for (std::size_t b = 0; b < g.batch; ++b) {
    const float* image = x + b * g.inHeight * g.inWidth * c;
    for (std::size_t oy = 0; oy < g.outHeight; ++oy) {
      for (std::size_t ox = 0; ox < g.outWidth; ++ox) {
        std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
        std::fill(where.begin(), where.end(), -1L);
        for (std::size_t fy = 0; fy < g.filterHeight; ++fy) {
          const long iy = static_cast<long>(oy * g.strideHeight + fy * g.dilationHeight) - static_cast<long>(g.padTop);
          if (iy < 0 || iy >= inH) continue;
          for (std::size_t fx = 0; fx < g.filterWidth; ++fx) {
            const long ix = static_cast<long>(ox * g.strideWidth + fx * g.dilationWidth) - static_cast<long>(g.padLeft);
            if (ix < 0 || ix >= inW) continue;
            const long pixel = (iy * inW + ix) * static_cast<long>(c);
            const float* values = image + pixel;
            for (std::size_t ch = 0; ch < c; ++ch) {
              if (values[ch] > best[ch]) {
                best[ch] = values[ch];
                where[ch] = static_cast<long>(b * g.inHeight * g.inWidth * c) + pixel + static_cast<long>(ch);
              }
            }
          }
        }
        const std::size_t outOffset = ((b * g.outHeight + oy) * g.outWidth + ox) * c;
        for (std::size_t ch = 0; ch < c; ++ch) visit(outOffset + ch, where[ch], best[ch]);
      }
    }
  }
}

}  // namespace

void validatePool2DGeometry(const Pool2DGeometry& g) {
  const std::size_t sizes[] = {g.batch, g.inHeight, g.inWidth, g.channels, g.outHeight, g.outWidth, g.filterHeight,
                               g.filterWidth, g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth};
  for (std::size_t s : sizes) {
    if (s == 0) throw InputError("maxPool: every size, stride and dilation must be at least 1");
  }
  const double limit = static_cast<double>(std::numeric_limits<long>::max()) / 4;
  if (static_cast<double>(g.batch) * g.inHeight * g.inWidth * g.channels > limit ||
      static_cast<double>(g.batch) * g.outHeight * g.outWidth * g.channels > limit ||
      static_cast<double>(g.outHeight) * g.strideHeight + static_cast<double>(g.filterHeight) * g.dilationHeight > limit ||
      static_cast<double>(g.outWidth) * g.strideWidth + static_cast<double>(g.filterWidth) * g.dilationWidth > limit) {
    throw InputError("maxPool: tensor sizes overflow");
  }
}

void maxPool2d(const Pool2DGeometry& g, const float* x, float* y) {
  forEachWindowMax(g, x, [&](std::size_t out, long, float value) { y[out] = value; });
}

void maxPool2dBackprop(const Pool2DGeometry& g, const float* dy, const float* x, float* dx) {
  std::fill(dx, dx + g.inputSize(), 0.0f);
  forEachWindowMax(g, x, [&](std::size_t out, long in, float) {
    if (in >= 0) dx[in] += dy[out];
  });
}

}  // namespace ser
