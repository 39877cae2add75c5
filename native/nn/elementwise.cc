#include "nn/elementwise.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/errors.h"
#include "nn/activation.h"

namespace ser {
namespace {

std::string shapeText(const std::vector<std::size_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

template <BinaryOp Op>
inline float apply(float a, float b) {
  if constexpr (Op == BinaryOp::Add) return a + b;
  else if constexpr (Op == BinaryOp::Sub) return a - b;
  else if constexpr (Op == BinaryOp::Mul) return a * b;
  else if constexpr (Op == BinaryOp::Div) return a / b;
  // tfjs propagates NaN from either side for maximum and minimum.
  else if constexpr (Op == BinaryOp::Maximum) return (std::isnan(a) || std::isnan(b)) ? NAN : (a > b ? a : b);
  else if constexpr (Op == BinaryOp::Minimum) return (std::isnan(a) || std::isnan(b)) ? NAN : (a < b ? a : b);
  else return (a - b) * (a - b);
}

// One run of the innermost dimension; a or b advances by 0 (broadcast) or 1.
template <BinaryOp Op>
void innerRun(const float* a, std::size_t strideA, const float* b, std::size_t strideB, float* out, std::size_t n) {
  if (strideA == 1 && strideB == 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = apply<Op>(a[i], b[i]);
  } else if (strideA == 1) {
    const float bv = *b;
    for (std::size_t i = 0; i < n; ++i) out[i] = apply<Op>(a[i], bv);
  } else if (strideB == 1) {
    const float av = *a;
    for (std::size_t i = 0; i < n; ++i) out[i] = apply<Op>(av, b[i]);
  } else {
    const float value = apply<Op>(*a, *b);
    for (std::size_t i = 0; i < n; ++i) out[i] = value;
  }
}

struct Dim {
  std::size_t size, strideA, strideB;
};

// Output dimensions with each operand's stride (0 where it broadcasts); size-1 dimensions dropped and
// neighbours merged where both operands step through them as one, so the loop nest is as short as it can be.
std::vector<Dim> collapsedDims(const std::vector<std::size_t>& aShape, const std::vector<std::size_t>& bShape,
                               const std::vector<std::size_t>& outShape) {
  const std::size_t rank = outShape.size();
  std::vector<Dim> dims;
  std::size_t strideA = 1, strideB = 1;
  std::vector<Dim> reversed;
  for (std::size_t r = rank; r-- > 0;) {
    const std::size_t offsetA = rank - aShape.size(), offsetB = rank - bShape.size();
    const std::size_t sizeA = r >= offsetA ? aShape[r - offsetA] : 1;
    const std::size_t sizeB = r >= offsetB ? bShape[r - offsetB] : 1;
    if (outShape[r] != 1) reversed.push_back({outShape[r], sizeA == 1 ? 0 : strideA, sizeB == 1 ? 0 : strideB});
    strideA *= sizeA;
    strideB *= sizeB;
  }
  for (std::size_t i = reversed.size(); i-- > 0;) {
    const Dim& d = reversed[i];
    if (!dims.empty()) {
      Dim& outer = dims.back();
      // outer then d merge when stepping outer by one equals stepping d through its whole size.
      if (outer.strideA == d.strideA * d.size && outer.strideB == d.strideB * d.size) {
        outer = {outer.size * d.size, d.strideA, d.strideB};
        continue;
      }
    }
    dims.push_back(d);
  }
  return dims;
}

template <BinaryOp Op>
void run(const float* a, const float* b, float* out, const std::vector<Dim>& dims) {
  if (dims.empty()) {
    *out = apply<Op>(*a, *b);
    return;
  }
  const Dim& inner = dims.back();
  const std::size_t outer = dims.size() - 1;
  std::vector<std::size_t> index(outer, 0);
  std::size_t offsetA = 0, offsetB = 0;
  for (;;) {
    innerRun<Op>(a + offsetA, inner.strideA, b + offsetB, inner.strideB, out, inner.size);
    out += inner.size;
    std::size_t d = outer;
    while (d-- > 0) {
      offsetA += dims[d].strideA;
      offsetB += dims[d].strideB;
      if (++index[d] < dims[d].size) break;
      offsetA -= dims[d].strideA * dims[d].size;
      offsetB -= dims[d].strideB * dims[d].size;
      index[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) return;
  }
}

}  // namespace

std::vector<std::size_t> broadcastShape(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  std::vector<std::size_t> out(rank);
  for (std::size_t r = 0; r < rank; ++r) {
    const std::size_t sa = r + a.size() >= rank ? a[r + a.size() - rank] : 1;
    const std::size_t sb = r + b.size() >= rank ? b[r + b.size() - rank] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      throw InputError("shapes " + shapeText(a) + " and " + shapeText(b) + " do not broadcast");
    }
    out[r] = sa == 1 ? sb : sa;
  }
  return out;
}

void binaryBroadcast(BinaryOp op, const float* a, const std::vector<std::size_t>& aShape, const float* b,
                     const std::vector<std::size_t>& bShape, float* out) {
  const std::vector<std::size_t> outShape = broadcastShape(aShape, bShape);
  for (std::size_t s : outShape) {
    if (s == 0) return;
  }
  const std::vector<Dim> dims = collapsedDims(aShape, bShape, outShape);
  switch (op) {
    case BinaryOp::Add: return run<BinaryOp::Add>(a, b, out, dims);
    case BinaryOp::Sub: return run<BinaryOp::Sub>(a, b, out, dims);
    case BinaryOp::Mul: return run<BinaryOp::Mul>(a, b, out, dims);
    case BinaryOp::Div: return run<BinaryOp::Div>(a, b, out, dims);
    case BinaryOp::Maximum: return run<BinaryOp::Maximum>(a, b, out, dims);
    case BinaryOp::Minimum: return run<BinaryOp::Minimum>(a, b, out, dims);
    case BinaryOp::SquaredDifference: return run<BinaryOp::SquaredDifference>(a, b, out, dims);
  }
}

void unary(UnaryOp op, const float* x, std::size_t n, float alpha, float* out) {
  switch (op) {
    case UnaryOp::Relu:
      for (std::size_t i = 0; i < n; ++i) out[i] = x[i] < 0.0f ? 0.0f : x[i];
      return;
    case UnaryOp::Step:
      for (std::size_t i = 0; i < n; ++i) out[i] = std::isnan(x[i]) ? NAN : (x[i] > 0.0f ? 1.0f : alpha);
      return;
    case UnaryOp::Floor:
      for (std::size_t i = 0; i < n; ++i) out[i] = std::floor(x[i]);
      return;
    case UnaryOp::Square:
      for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * x[i];
      return;
    case UnaryOp::Tanh:
      tanhArray(x, out, n);
      return;
  }
}

}  // namespace ser
