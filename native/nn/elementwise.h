// Elementwise float ops of the training backend: binary ops with NumPy broadcasting, and the unary
// ops that dominate a convolutional training step (ReLU and its gradient mask).
#pragma once
#include <cstddef>
#include <vector>

namespace ser {

enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum, SquaredDifference };

// The shape both operands broadcast to (NumPy rules, shapes aligned at the right); throws InputError
// when they do not broadcast.
std::vector<std::size_t> broadcastShape(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b);

// out = op(a, b) elementwise with broadcasting; out holds product(broadcastShape(aShape, bShape)).
void binaryBroadcast(BinaryOp op, const float* a, const std::vector<std::size_t>& aShape, const float* b,
                     const std::vector<std::size_t>& bShape, float* out);

enum class UnaryOp { Relu, Step, Floor, Square, Tanh };

// Relu: max(x, 0), NaN stays NaN. Step: x > 0 ? 1 : alpha (NaN stays NaN), the ReLU gradient mask.
// Floor and Square as in <cmath> (dropout masks and Adam's second moments); Tanh as tanhArray (the
// attention's scores).
void unary(UnaryOp op, const float* x, std::size_t n, float alpha, float* out);

}  // namespace ser
