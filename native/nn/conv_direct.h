// Direct convolution for a single input channel (the first block of a spectrogram model), where an
// im2col GEMM has only filterHeight x filterWidth columns and spends its time packing: each output
// pixel's taps are read from a zero-padded copy of the image and multiplied into 8 output channels at
// a time held in registers.
#pragma once
#include <cstddef>
#include <functional>
#include <vector>

#include "common/aligned.h"
#include "nn/conv.h"

namespace ser {

// One input channel, stride 1, dilation 1, outChannels a multiple of 8, and a CPU with AVX2 and FMA.
bool directConvApplies(const Conv2DGeometry& g);

// One image with the convolution's padding made explicit, so the tap loops need no bounds checks.
struct PaddedImage {
  AlignedVector<float> values;
  std::size_t width = 0;
};
void padImage(const Conv2DGeometry& g, const float* x, PaddedImage& padded);

// Output rows [rowBegin, rowEnd) of one image's convolution from its padded copy: y [rowEnd - rowBegin,
// outWidth, outChannels], the same values as conv2dDirectImage gives those rows. For callers that
// recompute a band of the first block's output instead of keeping the whole of it.
void conv2dDirectRows(const Conv2DGeometry& g, const PaddedImage& padded, const float* filter, std::size_t rowBegin,
                      std::size_t rowEnd, float* y);

// One image: y [outHeight, outWidth, outChannels] from x [inHeight, inWidth, 1].
void conv2dDirectImage(const Conv2DGeometry& g, const float* x, const float* filter, float* y);

// One image's filter gradient, added into dFilter [filterHeight, filterWidth, 1, outChannels].
void conv2dBackpropFilterDirectImage(const Conv2DGeometry& g, const float* x, const float* dy, float* dFilter);

// The same with dy asked for bandRows output rows at a time: band(rowBegin, rowEnd) returns those rows
// of dy. The sums run in the same order as over the whole dy, so the bits are the same.
void conv2dBackpropFilterDirectBands(const Conv2DGeometry& g, const float* x, std::size_t bandRows,
                                     const std::function<const float*(std::size_t, std::size_t)>& band,
                                     float* dFilter);

}  // namespace ser
