// 2-D convolution in NHWC layout (TensorFlow's default) and its two gradients, as im2col + GEMM. The
// column matrix is built a slab of output pixels at a time so memory stays bounded for any batch.
#pragma once
#include <cstddef>
#include <functional>

namespace ser {

struct Conv2DGeometry {
  std::size_t batch = 0, inHeight = 0, inWidth = 0, inChannels = 0;
  std::size_t outHeight = 0, outWidth = 0, outChannels = 0;
  std::size_t filterHeight = 0, filterWidth = 0;
  std::size_t strideHeight = 1, strideWidth = 1, dilationHeight = 1, dilationWidth = 1;
  std::size_t padTop = 0, padLeft = 0;

  std::size_t inputSize() const { return batch * inHeight * inWidth * inChannels; }
  std::size_t outputSize() const { return batch * outHeight * outWidth * outChannels; }
  // Filters are [filterHeight, filterWidth, inChannels, outChannels].
  std::size_t filterSize() const { return filterHeight * filterWidth * inChannels * outChannels; }
};

// Throws InputError when a size is zero, a stride or dilation is zero, or the sizes overflow.
void validateConv2DGeometry(const Conv2DGeometry& g);

// y[b, oy, ox, o] = sum over fy, fx, c of x[b, oy*sh - padTop + fy*dh, ox*sw - padLeft + fx*dw, c] * w[fy, fx, c, o].
void conv2d(const Conv2DGeometry& g, const float* x, const float* filter, float* y);
// conv2d of images [firstImage, endImage) only, on the calling thread (for callers that already split
// the batch over the pool).
void conv2dImages(const Conv2DGeometry& g, std::size_t firstImage, std::size_t endImage, const float* x,
                  const float* filter, float* y);
// dx from dy (the gradient of y) and the filter; dx is overwritten.
void conv2dBackpropInput(const Conv2DGeometry& g, const float* dy, const float* filter, float* dx);
// dFilter from x and dy; dFilter is overwritten.
void conv2dBackpropFilter(const Conv2DGeometry& g, const float* x, const float* dy, float* dFilter);
// Both gradients in one pass over the pool, the same bits as the two calls: dx's images are tasks of the
// loop that sums dFilter's partials, so a thread whose share of dFilter is done goes on with dx instead
// of waiting at the end of a loop of two-image tasks.
void conv2dBackprop(const Conv2DGeometry& g, const float* x, const float* dy, const float* filter, float* dx,
                    float* dFilter);

// Writes rows [rowBegin, rowEnd) of image `image`'s dy into out ([rowEnd - rowBegin, outWidth, outChannels]).
using DyBandProducer = std::function<void(std::size_t image, std::size_t rowBegin, std::size_t rowEnd, float* out)>;
// conv2dBackpropFilter with dy made bandRows output rows at a time (the last band may be shorter), so
// the whole dy never exists; the same bits as conv2dBackpropFilter of the whole dy. Only where
// directConvApplies(g).
void conv2dBackpropFilterBands(const Conv2DGeometry& g, const float* x, std::size_t bandRows,
                               const DyBandProducer& produce, float* dFilter);

}  // namespace ser
