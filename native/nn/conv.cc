#include "nn/conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/aligned.h"
#include "common/errors.h"
#include "nn/conv_direct.h"
#include "nn/conv_shifted.h"
#include "nn/gemm.h"
#include "nn/threadpool.h"

namespace ser {
namespace {

// Floats in one slab of the column matrix (1 MiB, cache-sized): big enough that the GEMM runs on long panels,
// small enough that a batch of 32 spectrograms does not need gigabytes of columns.
constexpr std::size_t kSlabFloats = std::size_t{1} << 18;

std::size_t patchSize(const Conv2DGeometry& g) { return g.filterHeight * g.filterWidth * g.inChannels; }

std::size_t slabRows(const Conv2DGeometry& g) {
  const std::size_t pixels = g.batch * g.outHeight * g.outWidth;
  return std::max<std::size_t>(1, std::min(pixels, kSlabFloats / patchSize(g)));
}

// Images per task: a fixed split (not one per thread), so the filter gradient's partial sums add up
// the same way at any thread count.
constexpr std::size_t kImageTasks = 16;

std::size_t imageTasks(const Conv2DGeometry& g) { return std::min(g.batch, kImageTasks); }

// Calls visit(firstPixel, rows, columnBuffer) for consecutive slabs of the output pixels of images
// [firstImage, endImage), with one column buffer per thread reused across slabs and calls.
template <typename Visit>
void forEachSlab(const Conv2DGeometry& g, std::size_t firstImage, std::size_t endImage, Visit visit) {
  const std::size_t perImage = g.outHeight * g.outWidth;
  const std::size_t end = endImage * perImage;
  const std::size_t slab = slabRows(g);
  thread_local AlignedVector<float> cols;
  if (cols.size() < slab * patchSize(g)) cols.resize(slab * patchSize(g));
  for (std::size_t first = firstImage * perImage; first < end; first += slab) {
    visit(first, std::min(slab, end - first), cols.data());
  }
}

// Runs visit(task, firstImage, endImage) for the fixed image split on the thread pool.
template <typename Visit>
void forEachImageTask(const Conv2DGeometry& g, Visit visit) {
  const std::size_t tasks = imageTasks(g);
  parallelFor(tasks, [&](std::size_t task) {
    const Range images = splitRange(g.batch, tasks, task);
    visit(task, images.begin, images.end);
  });
}

// Signed input coordinate of output coordinate `out` and filter tap `tap`; negative or past the end
// means padding.
inline long inputCoordinate(std::size_t out, std::size_t stride, std::size_t tap, std::size_t dilation,
                            std::size_t pad) {
  return static_cast<long>(out * stride + tap * dilation) - static_cast<long>(pad);
}

// Calls visit(rowInSlab, tapIndex, offset of the input pixel's channels, or -1 in the padding) for
// every (pixel, tap) of the slab, so im2col and col2im share one walk over the geometry.
template <typename Visit>
void forEachTap(const Conv2DGeometry& g, std::size_t firstPixel, std::size_t pixels, Visit visit) {
  const std::size_t perImage = g.outHeight * g.outWidth;
  for (std::size_t r = 0; r < pixels; ++r) {
    const std::size_t pixel = firstPixel + r;
    const std::size_t b = pixel / perImage;
    const std::size_t oy = (pixel % perImage) / g.outWidth;
    const std::size_t ox = pixel % g.outWidth;
    for (std::size_t fy = 0; fy < g.filterHeight; ++fy) {
      const long iy = inputCoordinate(oy, g.strideHeight, fy, g.dilationHeight, g.padTop);
      for (std::size_t fx = 0; fx < g.filterWidth; ++fx) {
        const long ix = inputCoordinate(ox, g.strideWidth, fx, g.dilationWidth, g.padLeft);
        const bool inside = iy >= 0 && iy < static_cast<long>(g.inHeight) && ix >= 0 && ix < static_cast<long>(g.inWidth);
        const long offset =
            inside ? static_cast<long>(((b * g.inHeight + static_cast<std::size_t>(iy)) * g.inWidth + static_cast<std::size_t>(ix)) * g.inChannels)
                   : -1;
        visit(r, fy * g.filterWidth + fx, offset);
      }
    }
  }
}

void im2col(const Conv2DGeometry& g, const float* x, std::size_t firstPixel, std::size_t pixels, float* cols) {
  const std::size_t patch = patchSize(g);
  const std::size_t channels = g.inChannels;
  forEachTap(g, firstPixel, pixels, [&](std::size_t r, std::size_t tap, long offset) {
    float* dst = cols + r * patch + tap * channels;
    if (offset < 0) std::fill(dst, dst + channels, 0.0f);
    else std::memcpy(dst, x + offset, channels * sizeof(float));
  });
}

void col2imAdd(const Conv2DGeometry& g, const float* cols, std::size_t firstPixel, std::size_t pixels, float* dx) {
  const std::size_t patch = patchSize(g);
  const std::size_t channels = g.inChannels;
  forEachTap(g, firstPixel, pixels, [&](std::size_t r, std::size_t tap, long offset) {
    if (offset < 0) return;
    const float* src = cols + r * patch + tap * channels;
    float* dst = dx + offset;
    for (std::size_t c = 0; c < channels; ++c) dst[c] += src[c];
  });
}

}  // namespace

void validateConv2DGeometry(const Conv2DGeometry& g) {
  const std::size_t sizes[] = {g.batch, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth,
                               g.outChannels, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth,
                               g.dilationHeight, g.dilationWidth};
  for (std::size_t s : sizes) {
    if (s == 0) throw InputError("conv2d: every size, stride and dilation must be at least 1");
  }
  // Taps outside the input read as padding (forEachTap checks each), so any padding is safe; only
  // the element counts must fit the index arithmetic.
  const double limit = static_cast<double>(std::numeric_limits<long>::max()) / 4;
  const double largest = std::max({static_cast<double>(g.batch) * g.inHeight * g.inWidth * g.inChannels,
                                   static_cast<double>(g.batch) * g.outHeight * g.outWidth * g.outChannels,
                                   static_cast<double>(g.filterHeight) * g.filterWidth * g.inChannels * g.outChannels,
                                   static_cast<double>(g.outHeight) * g.strideHeight + static_cast<double>(g.filterHeight) * g.dilationHeight + g.padTop,
                                   static_cast<double>(g.outWidth) * g.strideWidth + static_cast<double>(g.filterWidth) * g.dilationWidth + g.padLeft});
  if (largest > limit) throw InputError("conv2d: tensor sizes overflow");
}

void conv2dImages(const Conv2DGeometry& g, std::size_t firstImage, std::size_t endImage, const float* x,
                  const float* filter, float* y) {
  if (directConvApplies(g)) {
    const std::size_t imageIn = g.inHeight * g.inWidth, imageOut = g.outHeight * g.outWidth * g.outChannels;
    for (std::size_t b = firstImage; b < endImage; ++b) conv2dDirectImage(g, x + b * imageIn, filter, y + b * imageOut);
    return;
  }
  forEachSlab(g, firstImage, endImage, [&](std::size_t first, std::size_t rows, float* cols) {
    im2col(g, x, first, rows, cols);
    gemm(GemmShape{rows, g.outChannels, patchSize(g), false, false}, cols, filter, y + first * g.outChannels, false);
  });
}

void conv2d(const Conv2DGeometry& g, const float* x, const float* filter, float* y) {
  forEachImageTask(g, [&](std::size_t, std::size_t firstImage, std::size_t endImage) {
    conv2dImages(g, firstImage, endImage, x, filter, y);
  });
}

namespace {

// dx of images [firstImage, endImage) on the calling thread.
void backpropInputImages(const Conv2DGeometry& g, const float* dy, const float* filter, float* dx, std::size_t firstImage,
                         std::size_t endImage) {
  const std::size_t imageInput = g.inHeight * g.inWidth * g.inChannels;
  if (shiftedConvApplies(g)) {
    const std::size_t imageOut = g.outHeight * g.outWidth * g.outChannels;
    for (std::size_t b = firstImage; b < endImage; ++b) {
      conv2dBackpropInputShiftedImage(g, dy + b * imageOut, filter, dx + b * imageInput);
    }
    return;
  }
  std::fill(dx + firstImage * imageInput, dx + endImage * imageInput, 0.0f);
  forEachSlab(g, firstImage, endImage, [&](std::size_t first, std::size_t rows, float* cols) {
    // Column gradients [rows, patch] = dy [rows, outC] x filter^T [outC, patch].
    gemm(GemmShape{rows, patchSize(g), g.outChannels, false, true}, dy + first * g.outChannels, filter, cols, false);
    col2imAdd(g, cols, first, rows, dx);
  });
}

}  // namespace

// One task an image: each image's dx is its own, and its values do not depend on how the batch is split
// (slabs still visit an image's pixels in order), so the pool's tail is one image, not two.
void conv2dBackpropInput(const Conv2DGeometry& g, const float* dy, const float* filter, float* dx) {
  parallelFor(g.batch, [&](std::size_t b) { backpropInputImages(g, dy, filter, dx, b, b + 1); });
}

namespace {

// Filter values a task of the partials' sum adds up: a fixed split, so the sum's bits never depend on
// the thread count.
constexpr std::size_t kPartialSumChunk = 4096;

// Runs perTask(task, firstImage, endImage, out) over the fixed image split: task 0 sums into dFilter, the
// others into their own partial, added in task order at the end (the same bits at any thread count).
// perTask overwrites all of its out. The partials live on the calling thread from call to call: the
// seed model's last block has 15 of 73,728 floats (4.4 MB), and a new zero-filled vector each call was
// an mmap, a memset and 1,080 page faults a training step, all on the caller's thread while the pool
// waited. Their sum runs on the pool, each chunk of filter values adding the partials in task order.
// extraTasks more tasks, extra(i), run in the same loop after the image tasks (work that needs nothing
// from them): a thread done with the image tasks takes those instead of waiting for the other threads'
// last image task.
template <typename PerTask, typename Extra>
void sumFilterGradient(const Conv2DGeometry& g, float* dFilter, PerTask perTask, std::size_t extraTasks, Extra extra) {
  const std::size_t tasks = imageTasks(g);
  const std::size_t size = g.filterSize();
  // Each partial starts on a cache line of its own (tasks on different threads write theirs throughout).
  constexpr std::size_t kLineFloats = 64 / sizeof(float);
  const std::size_t stride = (size + kLineFloats - 1) / kLineFloats * kLineFloats;
  thread_local AlignedVector<float> partials;
  if (partials.size() < (tasks - 1) * stride) partials.resize((tasks - 1) * stride);
  float* const partial = partials.data();
  parallelFor(tasks + extraTasks, [&](std::size_t task) {
    if (task >= tasks) {
      extra(task - tasks);
      return;
    }
    const Range images = splitRange(g.batch, tasks, task);
    perTask(images.begin, images.end, task == 0 ? dFilter : partial + (task - 1) * stride);
  });
  if (tasks < 2) return;
  parallelFor((size + kPartialSumChunk - 1) / kPartialSumChunk, [&](std::size_t chunk) {
    const std::size_t begin = chunk * kPartialSumChunk, end = std::min(size, begin + kPartialSumChunk);
    for (std::size_t task = 1; task < tasks; ++task) {
      const float* from = partial + (task - 1) * stride;
      for (std::size_t i = begin; i < end; ++i) dFilter[i] += from[i];
    }
  });
}

}  // namespace

namespace {

// One image task of dFilter: images [firstImage, endImage) into out (overwritten).
void filterGradientImages(const Conv2DGeometry& g, const float* x, const float* dy, std::size_t firstImage,
                          std::size_t endImage, float* out) {
  if (directConvApplies(g)) {
    std::fill(out, out + g.filterSize(), 0.0f);
    const std::size_t imageIn = g.inHeight * g.inWidth, imageOut = g.outHeight * g.outWidth * g.outChannels;
    for (std::size_t b = firstImage; b < endImage; ++b) {
      conv2dBackpropFilterDirectImage(g, x + b * imageIn, dy + b * imageOut, out);
    }
    return;
  }
  bool started = false;
  forEachSlab(g, firstImage, endImage, [&](std::size_t first, std::size_t rows, float* cols) {
    im2col(g, x, first, rows, cols);
    // dFilter [patch, outC] (+)= cols^T [patch, rows] x dy [rows, outC].
    gemm(GemmShape{patchSize(g), g.outChannels, rows, true, false}, cols, dy + first * g.outChannels, out, started);
    started = true;
  });
  // Images without output pixels add nothing.
  if (!started) std::fill(out, out + g.filterSize(), 0.0f);
}

}  // namespace

void conv2dBackpropFilter(const Conv2DGeometry& g, const float* x, const float* dy, float* dFilter) {
  sumFilterGradient(g, dFilter, [&](std::size_t firstImage, std::size_t endImage, float* out) {
    filterGradientImages(g, x, dy, firstImage, endImage, out);
  }, 0, [](std::size_t) {});
}

void conv2dBackprop(const Conv2DGeometry& g, const float* x, const float* dy, const float* filter, float* dx,
                    float* dFilter) {
  sumFilterGradient(g, dFilter, [&](std::size_t firstImage, std::size_t endImage, float* out) {
    filterGradientImages(g, x, dy, firstImage, endImage, out);
  }, g.batch, [&](std::size_t b) { backpropInputImages(g, dy, filter, dx, b, b + 1); });
}

void conv2dBackpropFilterBands(const Conv2DGeometry& g, const float* x, std::size_t bandRows,
                               const DyBandProducer& produce, float* dFilter) {
  if (!directConvApplies(g) || bandRows == 0) throw InputError("conv2d: a banded filter gradient needs the direct convolution");
  sumFilterGradient(g, dFilter, [&](std::size_t firstImage, std::size_t endImage, float* out) {
    std::fill(out, out + g.filterSize(), 0.0f);
    thread_local AlignedVector<float> band;
    band.resize(bandRows * g.outWidth * g.outChannels);
    const std::size_t imageIn = g.inHeight * g.inWidth;
    for (std::size_t b = firstImage; b < endImage; ++b) {
      conv2dBackpropFilterDirectBands(g, x + b * imageIn, bandRows, [&](std::size_t rowBegin, std::size_t rowEnd) {
        produce(b, rowBegin, rowEnd, band.data());
        return static_cast<const float*>(band.data());
      }, out);
    }
  }, 0, [](std::size_t) {});
}

}  // namespace ser
