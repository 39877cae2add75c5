// A convolution block as one op each way: Conv2D (no bias) -> batch normalisation with the batch's
// statistics (training mode) -> ReLU -> max pooling with window = stride and no padding. Each step is
// the tfjs definition (biased batch variance, the first largest value of a window wins); fusing saves
// the passes over the full-resolution activations between them. A dropout that follows can be folded in.
#pragma once
#include <cstddef>
#include <cstdint>

#include "nn/conv.h"

namespace ser {

struct ConvBlockShape {
  Conv2DGeometry conv;
  std::size_t poolHeight = 2, poolWidth = 2;
  float epsilon = 1e-3f;
  // Dropout on the pooled output (rate 0: none), its mask drawn from the seed as dropoutMask draws it
  // in the forward pass; the backward pass reads the mask back from the forward pass's workspace.
  float dropoutRate = 0.0f;
  std::uint64_t dropoutSeed = 0;

  std::size_t channels() const { return conv.outChannels; }
  std::size_t pooledHeight() const { return conv.outHeight / poolHeight; }
  std::size_t pooledWidth() const { return conv.outWidth / poolWidth; }
  std::size_t outputSize() const { return conv.batch * pooledHeight() * pooledWidth() * channels(); }
  // Kept for the backward pass: the convolution's output (a block the direct convolution takes, one
  // input channel as the model's first, makes it again from its input band by band instead, and uses
  // this room only when asked for an input gradient), and
  // each pooled value's winner (its x-hat, its window position and whether its gradient flows: the ReLU
  // passed it and the dropout kept it).
  std::size_t workspaceFloats() const { return conv.outputSize() + outputSize() + (outputSize() + 3) / 4; }
};

// Throws InputError on an invalid convolution, a zero pool size or a pool larger than the output.
void validateConvBlockShape(const ConvBlockShape& shape);

// y [batch, pooledHeight, pooledWidth, channels]; batchMean and batchVariance [channels] receive the
// statistics the moving averages are updated with.
void convBlockForward(const ConvBlockShape& shape, const float* x, const float* filter, const float* gamma,
                      const float* beta, float* y, float* batchMean, float* batchVariance, float* workspace);

// Inference: batch norm with the given (moving) statistics, no dropout, nothing kept for a backward
// pass (the workspace is scratch of workspaceFloats()).
void convBlockInfer(const ConvBlockShape& shape, const float* x, const float* filter, const float* gamma,
                    const float* beta, const float* mean, const float* variance, float* y, float* workspace);

// dy is the gradient of y. dx may be null (the block's input needs no gradient). The workspace is the
// forward pass's and is clobbered; batchMean and batchVariance are the forward pass's outputs.
void convBlockBackward(const ConvBlockShape& shape, const float* x, const float* filter, const float* gamma,
                       const float* batchMean, const float* batchVariance, float* workspace,
                       const float* dy, float* dx, float* dFilter, float* dGamma, float* dBeta);

}  // namespace ser
