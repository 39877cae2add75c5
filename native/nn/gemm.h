// Single-precision matrix multiply for the training kernels: C = op(A) * op(B), packed into cache-sized
// blocks and run by a register-tiled micro-kernel chosen at load time (AVX-512, AVX2+FMA or portable).
#pragma once
#include <cstddef>

#include "common/aligned.h"

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

// Independent products as one loop over the pool: each is cut into as many tiles as give every thread
// one (a product per thread where there are as many products as threads: no operand packed twice, one
// wait for all), and every element of each C has the same bits as gemm gives it. No C may overlap
// another product's operands.
struct GemmJob {
  GemmShape shape;
  const float* a = nullptr;
  const float* b = nullptr;
  float* c = nullptr;
  bool accumulate = false;
};
void gemmMany(const GemmJob* jobs, std::size_t count);

// op(B) of a k x n product packed once into the micro-kernel's panels, for many products against the
// same matrix (the LSTM's recurrent weights, read at every step of a sequence): gemm packs B anew on
// every call. Packed for the ISA in use when pack() runs.
class PackedRight {
 public:
  // B stored k x n, or n x k when transposed; ldb is the stored rows' stride (0: dense).
  void pack(std::size_t k, std::size_t n, bool transposed, std::size_t ldb, const float* b);
  std::size_t k() const { return k_; }
  std::size_t n() const { return n_; }
  const float* data() const { return panels_.data(); }

 private:
  AlignedVector<float> panels_;
  std::size_t k_ = 0, n_ = 0;
};

// C = op(A) B (+ C with accumulate) on the calling thread, with the same bits as gemm; shape.k and
// shape.n must be B's (shape.transposeB and ldb are ignored). Throws InputError otherwise.
void gemmPackedRight(const GemmShape& shape, const float* a, const PackedRight& b, float* c, bool accumulate);

// The micro-kernel in use: "avx512", "avx2" or "portable". SER_GEMM_ISA=avx2|portable in the
// environment caps it (for tests of every path on one machine), and with it the ISA of the engine's
// other vector kernels (the convolution blocks' loops, the direct convolution).
const char* gemmIsa();

}  // namespace ser
