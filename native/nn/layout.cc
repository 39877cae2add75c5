#include "nn/layout.h"

#include <algorithm>
#include <string>

#include "common/errors.h"

namespace ser {
namespace {

std::vector<std::ptrdiff_t> denseStrides(const std::vector<std::size_t>& shape) {
  std::vector<std::ptrdiff_t> strides(shape.size());
  std::ptrdiff_t stride = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= static_cast<std::ptrdiff_t>(shape[d]);
  }
  return strides;
}

void requireRank(std::size_t given, std::size_t rank, const char* what) {
  if (given != rank) {
    throw InputError(std::string(what) + " has " + std::to_string(given) + " entries for a rank-" + std::to_string(rank) + " tensor");
  }
}

}  // namespace

std::size_t StridedView::size() const {
  std::size_t n = 1;
  for (std::size_t s : shape) n *= s;
  return n;
}

StridedView sliceView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& begin,
                      const std::vector<std::size_t>& size) {
  requireRank(begin.size(), shape.size(), "slice begin");
  requireRank(size.size(), shape.size(), "slice size");
  StridedView view;
  view.strides = denseStrides(shape);
  view.shape = size;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (begin[d] > shape[d] || size[d] > shape[d] - begin[d]) {
      throw InputError("slice of axis " + std::to_string(d) + " (begin " + std::to_string(begin[d]) + ", size " +
                       std::to_string(size[d]) + ") is outside its " + std::to_string(shape[d]) + " elements");
    }
    view.offset += static_cast<std::ptrdiff_t>(begin[d]) * view.strides[d];
  }
  return view;
}

StridedView tileView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& reps) {
  requireRank(reps.size(), shape.size(), "tile reps");
  // Output axis d of size reps[d] * shape[d] is the row-major pair (repeat, index), so a tile is the
  // view of shape [reps0, shape0, reps1, shape1, ...] with stride 0 on the repeats.
  const std::vector<std::ptrdiff_t> strides = denseStrides(shape);
  StridedView view;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    view.shape.insert(view.shape.end(), {reps[d], shape[d]});
    view.strides.insert(view.strides.end(), {0, strides[d]});
  }
  return view;
}

StridedView reverseView(const std::vector<std::size_t>& shape, const std::vector<bool>& reversed) {
  requireRank(reversed.size(), shape.size(), "reverse axes");
  StridedView view;
  view.shape = shape;
  view.strides = denseStrides(shape);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (!reversed[d] || shape[d] == 0) continue;
    view.offset += static_cast<std::ptrdiff_t>(shape[d] - 1) * view.strides[d];
    view.strides[d] = -view.strides[d];
  }
  return view;
}

StridedView transposeView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& perm) {
  requireRank(perm.size(), shape.size(), "transpose perm");
  const std::vector<std::ptrdiff_t> strides = denseStrides(shape);
  std::vector<bool> seen(shape.size(), false);
  StridedView view;
  for (std::size_t d = 0; d < perm.size(); ++d) {
    if (perm[d] >= shape.size() || seen[perm[d]]) throw InputError("transpose perm is not a permutation of the axes");
    seen[perm[d]] = true;
    view.shape.push_back(shape[perm[d]]);
    view.strides.push_back(strides[perm[d]]);
  }
  return view;
}

void copyView(const StridedView& view, const float* x, std::size_t xSize, float* out) {
  const std::size_t total = view.size();
  if (total == 0) return;
  // Bounds: the lowest and highest offsets the view reaches.
  std::ptrdiff_t low = view.offset, high = view.offset;
  for (std::size_t d = 0; d < view.shape.size(); ++d) {
    const std::ptrdiff_t span = static_cast<std::ptrdiff_t>(view.shape[d] - 1) * view.strides[d];
    (span < 0 ? low : high) += span;
  }
  if (low < 0 || high >= static_cast<std::ptrdiff_t>(xSize)) throw InputError("the view reaches outside the input");

  // Drop size-1 axes and merge neighbours that step as one, so the innermost run is as long as possible.
  std::vector<std::size_t> shape;
  std::vector<std::ptrdiff_t> strides;
  for (std::size_t d = 0; d < view.shape.size(); ++d) {
    if (view.shape[d] == 1) continue;
    if (!shape.empty() && strides.back() == view.strides[d] * static_cast<std::ptrdiff_t>(view.shape[d])) {
      shape.back() *= view.shape[d];
      strides.back() = view.strides[d];
      continue;
    }
    shape.push_back(view.shape[d]);
    strides.push_back(view.strides[d]);
  }
  const float* base = x + view.offset;
  if (shape.empty()) {
    *out = *base;
    return;
  }
  const std::size_t inner = shape.back();
  const std::ptrdiff_t step = strides.back();
  const std::size_t outer = shape.size() - 1;
  std::vector<std::size_t> index(outer, 0);
  std::ptrdiff_t offset = 0;
  for (std::size_t written = 0; written < total; written += inner) {
    const float* src = base + offset;
    if (step == 1) std::copy(src, src + inner, out);
    else if (step == 0) std::fill(out, out + inner, *src);
    else for (std::size_t i = 0; i < inner; ++i) out[i] = src[static_cast<std::ptrdiff_t>(i) * step];
    out += inner;
    for (std::size_t d = outer; d-- > 0;) {
      offset += strides[d];
      if (++index[d] < shape[d]) break;
      offset -= strides[d] * static_cast<std::ptrdiff_t>(shape[d]);
      index[d] = 0;
    }
  }
}

}  // namespace ser
