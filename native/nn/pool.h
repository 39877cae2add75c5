// 2-D max pooling in NHWC layout and its gradient.
#pragma once
#include <cstddef>

namespace ser {

struct Pool2DGeometry {
  std::size_t batch = 0, inHeight = 0, inWidth = 0, channels = 0;
  std::size_t outHeight = 0, outWidth = 0;
  std::size_t filterHeight = 0, filterWidth = 0;
  std::size_t strideHeight = 1, strideWidth = 1, dilationHeight = 1, dilationWidth = 1;
  std::size_t padTop = 0, padLeft = 0;

  std::size_t inputSize() const { return batch * inHeight * inWidth * channels; }
  std::size_t outputSize() const { return batch * outHeight * outWidth * channels; }
};

// Throws InputError when a size, stride or dilation is zero.
void validatePool2DGeometry(const Pool2DGeometry& g);

// y = the largest x in each window (padding never wins; NaN is passed over, as in tfjs's cpu backend).
void maxPool2d(const Pool2DGeometry& g, const float* x, float* y);
// dx = dy routed to the first largest x of each window (row-major within the window); dx is overwritten.
void maxPool2dBackprop(const Pool2DGeometry& g, const float* dy, const float* x, float* dx);

}  // namespace ser
