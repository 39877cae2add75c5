#include "nn/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SER_X86_KERNELS 1
#endif

namespace ser {
namespace {

// Blocking (Goto's scheme): a KC x NR panel of B stays in L1 while the MR-row panels of an
// MC x KC block of A stream from L2; C is touched once per KC step.
constexpr std::size_t kDepthBlock = 256;  // KC
constexpr std::size_t kRowBlockTarget = 192;  // MC, rounded down to a multiple of MR
constexpr std::size_t kColumnBlock = 2048;  // NC, a multiple of every NR

// A micro-kernel multiplies an MR-row panel of packed A by an NR-column panel of packed B over kc
// steps and writes (overwrite) or adds the MR x NR tile into c with row stride ldc.
using MicroKernel = void (*)(std::size_t kc, const float* packedA, const float* packedB, float* c, std::size_t ldc,
                             bool overwrite);

template <std::size_t MR, std::size_t NR>
void portableKernel(std::size_t kc, const float* packedA, const float* packedB, float* c, std::size_t ldc,
                    bool overwrite) {
  float acc[MR][NR] = {};
  for (std::size_t p = 0; p < kc; ++p) {
    for (std::size_t i = 0; i < MR; ++i) {
      const float a = packedA[i];
      for (std::size_t j = 0; j < NR; ++j) acc[i][j] += a * packedB[j];
    }
    packedA += MR;
    packedB += NR;
  }
  for (std::size_t i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    for (std::size_t j = 0; j < NR; ++j) row[j] = overwrite ? acc[i][j] : row[j] + acc[i][j];
  }
}

#ifdef SER_X86_KERNELS
// 6 x 16: twelve ymm accumulators hide the FMA latency with registers to spare for B and the broadcast.
__attribute__((target("avx2,fma"))) void avx2Kernel(std::size_t kc, const float* packedA, const float* packedB,
                                                    float* c, std::size_t ldc, bool overwrite) {
  constexpr int MR = 6;
  __m256 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(packedB);
    const __m256 b1 = _mm256_loadu_ps(packedB + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(packedA + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    packedA += MR;
    packedB += 16;
  }
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    if (!overwrite) {
      acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(row));
      acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, acc[i][0]);
    _mm256_storeu_ps(row + 8, acc[i][1]);
  }
}

// 12 x 32: 24 zmm accumulators, two B vectors and a broadcast fit the 32 registers.
__attribute__((target("avx512f"))) void avx512Kernel(std::size_t kc, const float* packedA, const float* packedB,
                                                     float* c, std::size_t ldc, bool overwrite) {
  constexpr int MR = 12;
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(packedB);
    const __m512 b1 = _mm512_loadu_ps(packedB + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(packedA[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    packedA += MR;
    packedB += 32;
  }
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    if (!overwrite) {
      acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(row));
      acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, acc[i][0]);
    _mm512_storeu_ps(row + 16, acc[i][1]);
  }
}
#endif

struct Operand {
  const float* data;
  std::size_t stride;  // of the stored rows
  bool transposed;
  // Element (row, col) of op(X).
  float at(std::size_t row, std::size_t col) const {
    return transposed ? data[col * stride + row] : data[row * stride + col];
  }
};

// Rows [row0, row0 + rows) x depth [p0, p0 + depth) of op(A) as MR-row panels, depth-major inside a
// panel; rows past the end are zero so the kernel never needs a short path.
template <std::size_t MR>
void packA(const Operand& a, std::size_t row0, std::size_t rows, std::size_t p0, std::size_t depth, float* out) {
  for (std::size_t panel = 0; panel < rows; panel += MR) {
    const std::size_t valid = std::min(MR, rows - panel);
    for (std::size_t p = 0; p < depth; ++p) {
      float* dst = out + p * MR;
      if (a.transposed) {
        const float* src = a.data + (p0 + p) * a.stride + row0 + panel;
        for (std::size_t i = 0; i < valid; ++i) dst[i] = src[i];
      } else {
        const float* src = a.data + (row0 + panel) * a.stride + p0 + p;
        for (std::size_t i = 0; i < valid; ++i) dst[i] = src[i * a.stride];
      }
      for (std::size_t i = valid; i < MR; ++i) dst[i] = 0.0f;
    }
    out += depth * MR;
  }
}

// Depth [p0, p0 + depth) x columns [col0, col0 + cols) of op(B) as NR-column panels, zero-padded.
template <std::size_t NR>
void packB(const Operand& b, std::size_t p0, std::size_t depth, std::size_t col0, std::size_t cols, float* out) {
  for (std::size_t panel = 0; panel < cols; panel += NR) {
    const std::size_t valid = std::min(NR, cols - panel);
    for (std::size_t p = 0; p < depth; ++p) {
      float* dst = out + p * NR;
      if (b.transposed) {
        const float* src = b.data + (col0 + panel) * b.stride + p0 + p;
        for (std::size_t j = 0; j < valid; ++j) dst[j] = src[j * b.stride];
      } else {
        std::memcpy(dst, b.data + (p0 + p) * b.stride + col0 + panel, valid * sizeof(float));
      }
      for (std::size_t j = valid; j < NR; ++j) dst[j] = 0.0f;
    }
    out += depth * NR;
  }
}

template <std::size_t MR, std::size_t NR>
void blockedGemm(MicroKernel kernel, const GemmShape& s, const float* a, const float* b, float* c, bool accumulate) {
  static_assert(kColumnBlock % NR == 0, "NC must hold whole B panels");
  constexpr std::size_t kRowBlock = kRowBlockTarget / MR * MR;
  const Operand opA{a, s.transposeA ? s.m : s.k, s.transposeA};
  const Operand opB{b, s.transposeB ? s.k : s.n, s.transposeB};
  // Per thread, reused across calls: allocation per call showed up in the LSTM's many small products.
  thread_local std::vector<float> packedA, packedB;
  packedA.resize(kRowBlock * kDepthBlock);
  packedB.resize(kDepthBlock * kColumnBlock);
  float edgeTile[MR * NR];

  for (std::size_t col0 = 0; col0 < s.n; col0 += kColumnBlock) {
    const std::size_t cols = std::min(kColumnBlock, s.n - col0);
    for (std::size_t p0 = 0; p0 < s.k; p0 += kDepthBlock) {
      const std::size_t depth = std::min(kDepthBlock, s.k - p0);
      const bool overwrite = !accumulate && p0 == 0;
      packB<NR>(opB, p0, depth, col0, cols, packedB.data());
      for (std::size_t row0 = 0; row0 < s.m; row0 += kRowBlock) {
        const std::size_t rows = std::min(kRowBlock, s.m - row0);
        packA<MR>(opA, row0, rows, p0, depth, packedA.data());
        for (std::size_t j = 0; j < cols; j += NR) {
          const float* panelB = packedB.data() + (j / NR) * depth * NR;
          const std::size_t validCols = std::min(NR, cols - j);
          for (std::size_t i = 0; i < rows; i += MR) {
            const float* panelA = packedA.data() + (i / MR) * depth * MR;
            float* tile = c + (row0 + i) * s.n + col0 + j;
            const std::size_t validRows = std::min(MR, rows - i);
            if (validRows == MR && validCols == NR) {
              kernel(depth, panelA, panelB, tile, s.n, overwrite);
              continue;
            }
            kernel(depth, panelA, panelB, edgeTile, NR, true);
            for (std::size_t r = 0; r < validRows; ++r) {
              for (std::size_t q = 0; q < validCols; ++q) {
                float& out = tile[r * s.n + q];
                out = overwrite ? edgeTile[r * NR + q] : out + edgeTile[r * NR + q];
              }
            }
          }
        }
      }
    }
  }
}

enum class Isa { Portable, Avx2, Avx512 };

Isa detectIsa() {
  Isa best = Isa::Portable;
#ifdef SER_X86_KERNELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::Avx2;
  if (__builtin_cpu_supports("avx512f")) best = Isa::Avx512;
#endif
  const char* cap = std::getenv("SER_GEMM_ISA");
  if (cap != nullptr) {
    if (std::strcmp(cap, "portable") == 0) best = Isa::Portable;
    else if (std::strcmp(cap, "avx2") == 0 && best == Isa::Avx512) best = Isa::Avx2;
  }
  return best;
}

Isa activeIsa() {
  static const Isa isa = detectIsa();
  return isa;
}

}  // namespace

void gemm(const GemmShape& shape, const float* a, const float* b, float* c, bool accumulate) {
  if (shape.m == 0 || shape.n == 0) return;
  if (shape.k == 0) {
    if (!accumulate) std::fill(c, c + shape.m * shape.n, 0.0f);
    return;
  }
  switch (activeIsa()) {
#ifdef SER_X86_KERNELS
    case Isa::Avx512:
      blockedGemm<12, 32>(avx512Kernel, shape, a, b, c, accumulate);
      return;
    case Isa::Avx2:
      blockedGemm<6, 16>(avx2Kernel, shape, a, b, c, accumulate);
      return;
#endif
    default:
      blockedGemm<4, 16>(portableKernel<4, 16>, shape, a, b, c, accumulate);
  }
}

const char* gemmIsa() {
  switch (activeIsa()) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "portable";
  }
}

}  // namespace ser
