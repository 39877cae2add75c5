// The input gradient of a stride-1 convolution with many input channels as one GEMM per filter tap,
// without a column matrix: the output gradient is laid on the zero-padded image's width (zeros past the
// output width), so the padded input rows one tap reaches from consecutive output pixels are consecutive
// rows, and each tap's product is added straight into the padded input gradient. (The forward pass and
// the filter gradient measured slower this way than as im2col + GEMM: their per-tap products are thin.)
#pragma once
#include <cstddef>

#include "nn/conv.h"

namespace ser {

// Stride 1, dilation 1 and at least 8 input channels (fewer make each tap's product too thin).
bool shiftedConvApplies(const Conv2DGeometry& g);

// One image's input gradient, written over dx [inHeight, inWidth, inChannels].
void conv2dBackpropInputShiftedImage(const Conv2DGeometry& g, const float* dy, const float* filter, float* dx);

}  // namespace ser
