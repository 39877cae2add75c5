#include "nn/conv_shifted.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "nn/gemm.h"

namespace ser {
namespace {

// The padded grid: paddedWidth columns; output pixel (oy, ox) is grid row oy * paddedWidth + ox, and
// tap (fy, fx) reads padded row (grid row + fy * paddedWidth + fx).
struct Grid {
  std::size_t paddedHeight, paddedWidth, rows;

  explicit Grid(const Conv2DGeometry& g)
      : paddedHeight(g.outHeight + g.filterHeight - 1),
        paddedWidth(g.outWidth + g.filterWidth - 1),
        rows(g.outHeight * (g.outWidth + g.filterWidth - 1)) {}

  // Padded rows, with room for the last output row's taps to run past the bottom edge.
  std::size_t paddedRows(const Conv2DGeometry& g) const { return paddedHeight * paddedWidth + g.filterWidth; }
  std::size_t tapOffset(const Conv2DGeometry& g, std::size_t tap) const {
    return (tap / g.filterWidth) * paddedWidth + tap % g.filterWidth;
  }
};

// Calls visit(input row, first padded row, pixels) for every input row's part that lands on the padded image.
template <typename Visit>
void forEachPlacedPixel(const Conv2DGeometry& g, const Grid& grid, Visit visit) {
  for (std::size_t iy = 0; iy < g.inHeight && iy + g.padTop < grid.paddedHeight; ++iy) {
    const std::size_t columns = std::min(g.inWidth, grid.paddedWidth > g.padLeft ? grid.paddedWidth - g.padLeft : 0);
    visit(iy, (iy + g.padTop) * grid.paddedWidth + g.padLeft, columns);
  }
}

// dy laid on the grid, zero in the columns past the output width.
void gridGradient(const Conv2DGeometry& g, const Grid& grid, const float* dy, std::vector<float>& out) {
  const std::size_t c = g.outChannels;
  out.assign(grid.rows * c, 0.0f);
  for (std::size_t oy = 0; oy < g.outHeight; ++oy) {
    std::memcpy(out.data() + oy * grid.paddedWidth * c, dy + oy * g.outWidth * c, g.outWidth * c * sizeof(float));
  }
}

struct Scratch {
  std::vector<float> padded, grid;  // the padded input gradient, the output gradient on the grid
};

Scratch& threadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

bool shiftedConvApplies(const Conv2DGeometry& g) {
  return g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1 && g.inChannels >= 8;
}

void conv2dBackpropInputShiftedImage(const Conv2DGeometry& g, const float* dy, const float* filter, float* dx) {
  const Grid grid(g);
  Scratch& s = threadScratch();
  gridGradient(g, grid, dy, s.grid);
  const std::size_t ci = g.inChannels, co = g.outChannels;
  s.padded.assign(grid.paddedRows(g) * ci, 0.0f);
  for (std::size_t tap = 0; tap < g.filterHeight * g.filterWidth; ++tap) {
    // padded rows at the tap's offset [rows, ci] += dy grid [rows, co] x filter[tap]^T [co, ci].
    GemmShape shape{grid.rows, ci, co, false, true};
    shape.ldc = ci;
    gemm(shape, s.grid.data(), filter + tap * ci * co, s.padded.data() + grid.tapOffset(g, tap) * ci, true);
  }
  std::fill(dx, dx + g.inHeight * g.inWidth * ci, 0.0f);
  forEachPlacedPixel(g, grid, [&](std::size_t iy, std::size_t row, std::size_t columns) {
    std::memcpy(dx + iy * g.inWidth * ci, s.padded.data() + row * ci, columns * ci * sizeof(float));
  });
}

}  // namespace ser
