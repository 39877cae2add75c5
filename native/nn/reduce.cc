#include "nn/reduce.h"

#include <algorithm>

namespace ser {

void reduceSum(const float* x, const std::vector<std::size_t>& shape, const std::vector<bool>& reduced, double scale,
               float* out) {
  // Group neighbouring axes of the same kind (size-1 axes belong to any group): the input is dense,
  // so a group is one axis of the product size, and the groups alternate kept / reduced.
  struct Group {
    std::size_t size;
    bool reduced;
  };
  std::vector<Group> groups;
  std::size_t outSize = 1, inSize = 1;
  for (std::size_t axis = 0; axis < shape.size(); ++axis) {
    inSize *= shape[axis];
    if (!reduced[axis]) outSize *= shape[axis];
    if (shape[axis] == 1) continue;
    if (!groups.empty() && groups.back().reduced == reduced[axis]) groups.back().size *= shape[axis];
    else groups.push_back({shape[axis], reduced[axis]});
  }
  std::vector<double> sums(outSize, 0.0);
  if (inSize != 0) {
    const std::size_t inner = groups.empty() ? 1 : groups.back().size;
    const bool innerReduced = !groups.empty() && groups.back().reduced;
    const std::size_t outer = groups.empty() ? 0 : groups.size() - 1;
    // Output stride of each outer group (0 for reduced groups).
    std::vector<std::size_t> outStride(outer, 0);
    std::size_t stride = innerReduced ? 1 : inner;
    for (std::size_t g = outer; g-- > 0;) {
      if (!groups[g].reduced) {
        outStride[g] = stride;
        stride *= groups[g].size;
      }
    }
    std::vector<std::size_t> index(outer, 0);
    std::size_t outOffset = 0;
    for (const float* row = x; row < x + inSize; row += inner) {
      if (innerReduced) {
        double sum = 0.0;
        for (std::size_t i = 0; i < inner; ++i) sum += row[i];
        sums[outOffset] += sum;
      } else {
        double* target = sums.data() + outOffset;
        for (std::size_t i = 0; i < inner; ++i) target[i] += row[i];
      }
      for (std::size_t g = outer; g-- > 0;) {
        outOffset += outStride[g];
        if (++index[g] < groups[g].size) break;
        outOffset -= outStride[g] * groups[g].size;
        index[g] = 0;
      }
    }
  }
  for (std::size_t i = 0; i < outSize; ++i) out[i] = static_cast<float>(sums[i] * scale);
}

}  // namespace ser
