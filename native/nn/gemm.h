// Single-precision matrix multiply for the training kernels: C = op(A) * op(B), packed into cache-sized
// blocks and run by a register-tiled micro-kernel chosen at load time (AVX-512, AVX2+FMA or portable).
#pragma once
#include <cstddef>

namespace ser {

struct GemmShape {
  std::size_t m = 0;  // rows of op(A) and C
  std::size_t n = 0;  // columns of op(B) and C
  std::size_t k = 0;  // columns of op(A), rows of op(B)
  bool transposeA = false;  // A is stored k x m
  bool transposeB = false;  // B is stored n x k
  // Strides of the stored rows; 0 means densely stored (the stored row length).
  std::size_t lda = 0, ldb = 0, ldc = 0;
};

// Row-major operands. With accumulate, C += op(A) op(B); otherwise C is overwritten (its old contents
// are never read, so it may be uninitialised). Large products are split into row or column tiles over
// the thread pool; every element of C is summed in the same order whatever the split, so the result
// does not depend on the thread count.
void gemm(const GemmShape& shape, const float* a, const float* b, float* c, bool accumulate);

// The micro-kernel in use: "avx512", "avx2" or "portable". SER_GEMM_ISA=avx2|portable in the
// environment caps it (for tests of every path on one machine), and with it the ISA of the engine's
// other vector kernels (the convolution blocks' loops, the direct convolution).
const char* gemmIsa();

}  // namespace ser
