// Copies that only move elements: slice, tile, reverse and transpose. Each is described as a strided
// view of a dense row-major input (an affine map from output index to input offset) and run by one copy
// loop that checks the view stays inside the input.
#pragma once
#include <cstddef>
#include <vector>

namespace ser {

struct StridedView {
  std::ptrdiff_t offset = 0;  // input offset of output element 0
  std::vector<std::size_t> shape;  // of the output (tile uses twice the rank: [reps, size] per axis)
  std::vector<std::ptrdiff_t> strides;  // input step per output index, per dimension

  std::size_t size() const;
};

// Each throws InputError when its arguments do not fit the shape.
StridedView sliceView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& begin,
                      const std::vector<std::size_t>& size);
StridedView tileView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& reps);
StridedView reverseView(const std::vector<std::size_t>& shape, const std::vector<bool>& reversed);
StridedView transposeView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& perm);

// out[i] = x[view(i)] for every output index; throws InputError when the view reaches outside x.
void copyView(const StridedView& view, const float* x, std::size_t xSize, float* out);

}  // namespace ser
