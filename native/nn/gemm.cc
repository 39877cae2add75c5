#include "nn/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/errors.h"
#include "nn/profile.h"
#include "nn/threadpool.h"

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
constexpr std::size_t kInPlacePanels = 4;  // most B panels for which A is read without packing

// A micro-kernel multiplies an MR-row panel of A by an NR-column panel of packed B over kc steps and
// writes (overwrite) or adds the MR x NR tile into c with row stride ldc. Element (i, p) of the A panel
// is a[i * aRow + p * aStep]: packed panels have (1, MR); rows read in place have (lda, 1).
using MicroKernel = void (*)(std::size_t kc, const float* a, std::size_t aRow, std::size_t aStep, const float* packedB,
                             float* c, std::size_t ldc, bool overwrite);

template <std::size_t MR, std::size_t NR>
void portableKernel(std::size_t kc, const float* a, std::size_t aRow, std::size_t aStep, const float* packedB, float* c,
                    std::size_t ldc, bool overwrite) {
  float acc[MR][NR] = {};
  for (std::size_t p = 0; p < kc; ++p) {
    for (std::size_t i = 0; i < MR; ++i) {
      const float ai = a[i * aRow];
      for (std::size_t j = 0; j < NR; ++j) acc[i][j] += ai * packedB[j];
    }
    a += aStep;
    packedB += NR;
  }
  for (std::size_t i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    for (std::size_t j = 0; j < NR; ++j) row[j] = overwrite ? acc[i][j] : row[j] + acc[i][j];
  }
}

#ifdef SER_X86_KERNELS
// The SIMD kernels come in two builds of one body: Packed reads A panels at compile-time offsets (the
// hot loop of large products stays 2 loads, MR broadcasts and 2 MR FMAs per step), the other reads A
// rows in place with a run-time stride.
// 6 x 16: twelve ymm accumulators hide the FMA latency with registers to spare for B and the broadcast.
template <bool Packed>
__attribute__((target("avx2,fma"), always_inline)) inline void avx2Tile(std::size_t kc, const float* a, std::size_t lda,
                                                                        const float* packedB, float* c, std::size_t ldc,
                                                                        bool overwrite) {
  constexpr int MR = 6;
  __m256 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(packedB);
    const __m256 b1 = _mm256_loadu_ps(packedB + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(Packed ? a + i : a + i * lda);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += Packed ? MR : 1;
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

__attribute__((target("avx2,fma"))) void avx2Kernel(std::size_t kc, const float* a, std::size_t aRow,
                                                    std::size_t aStep, const float* packedB, float* c, std::size_t ldc,
                                                    bool overwrite) {
  if (aRow == 1 && aStep == 6) avx2Tile<true>(kc, a, 0, packedB, c, ldc, overwrite);
  else avx2Tile<false>(kc, a, aRow, packedB, c, ldc, overwrite);
}

// 12 x 32: 24 zmm accumulators, two B vectors and a broadcast fit the 32 registers.
template <bool Packed>
__attribute__((target("avx512f"), always_inline)) inline void avx512Tile(std::size_t kc, const float* a, std::size_t lda,
                                                                         const float* packedB, float* c,
                                                                         std::size_t ldc, bool overwrite) {
  constexpr int MR = 12;
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(packedB);
    const __m512 b1 = _mm512_loadu_ps(packedB + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(Packed ? a[i] : a[i * lda]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += Packed ? MR : 1;
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

__attribute__((target("avx512f"))) void avx512Kernel(std::size_t kc, const float* a, std::size_t aRow,
                                                     std::size_t aStep, const float* packedB, float* c, std::size_t ldc,
                                                     bool overwrite) {
  if (aRow == 1 && aStep == 12) avx512Tile<true>(kc, a, 0, packedB, c, ldc, overwrite);
  else avx512Tile<false>(kc, a, aRow, packedB, c, ldc, overwrite);
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

// The packing loops are inlined into each ISA's build of blockedGemm, so a whole panel row (a
// compile-time MR or NR floats) copies as a few vector moves: as an out-of-line memcpy of 128 bytes it
// compiled to `rep movsq`, which took half of the packing time of the filter-gradient products.
#define SER_PACK_INLINE __attribute__((always_inline)) inline

// Rows [row0, row0 + rows) x depth [p0, p0 + depth) of op(A) as MR-row panels, depth-major inside a
// panel; rows past the end are zero so the kernel never needs a short path.
template <std::size_t MR>
SER_PACK_INLINE void packA(const Operand& a, std::size_t row0, std::size_t rows, std::size_t p0, std::size_t depth,
                           float* out) {
  for (std::size_t panel = 0; panel < rows; panel += MR) {
    const std::size_t valid = std::min(MR, rows - panel);
    for (std::size_t p = 0; p < depth; ++p) {
      float* dst = out + p * MR;
      if (a.transposed) {
        const float* src = a.data + (p0 + p) * a.stride + row0 + panel;
        if (valid == MR) {
          for (std::size_t i = 0; i < MR; ++i) dst[i] = src[i];
          continue;
        }
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
SER_PACK_INLINE void packB(const Operand& b, std::size_t p0, std::size_t depth, std::size_t col0, std::size_t cols,
                           float* out) {
  for (std::size_t panel = 0; panel < cols; panel += NR) {
    const std::size_t valid = std::min(NR, cols - panel);
    for (std::size_t p = 0; p < depth; ++p) {
      float* dst = out + p * NR;
      if (b.transposed) {
        const float* src = b.data + (col0 + panel) * b.stride + p0 + p;
        for (std::size_t j = 0; j < valid; ++j) dst[j] = src[j * b.stride];
      } else {
        const float* src = b.data + (p0 + p) * b.stride + col0 + panel;
        if (valid == NR) {
          for (std::size_t j = 0; j < NR; ++j) dst[j] = src[j];
          continue;
        }
        for (std::size_t j = 0; j < valid; ++j) dst[j] = src[j];
      }
      for (std::size_t j = valid; j < NR; ++j) dst[j] = 0.0f;
    }
    out += depth * NR;
  }
}

// Floats of op(B)'s panels for a k x n product, in the order blockedGemm reads them: column blocks, then
// depth blocks, then NR-column panels.
template <std::size_t NR>
std::size_t packedRightFloats(std::size_t k, std::size_t n) {
  return k * ((n + NR - 1) / NR * NR);
}

template <std::size_t NR>
SER_PACK_INLINE void packRight(const Operand& b, std::size_t k, std::size_t n, float* out) {
  for (std::size_t col0 = 0; col0 < n; col0 += kColumnBlock) {
    const std::size_t cols = std::min(kColumnBlock, n - col0);
    for (std::size_t p0 = 0; p0 < k; p0 += kDepthBlock) {
      const std::size_t depth = std::min(kDepthBlock, k - p0);
      packB<NR>(b, p0, depth, col0, cols, out);
      out += depth * ((cols + NR - 1) / NR * NR);
    }
  }
}

// C = op(A) op(B) (+ C with accumulate); with prepackedB (packRight's layout) B's panels are read from
// it instead of being packed here.
template <std::size_t MR, std::size_t NR>
SER_PACK_INLINE void blockedGemm(MicroKernel kernel, const GemmShape& s, const float* a, const float* b, float* c, bool accumulate,
                                 const float* prepackedB) {
  static_assert(kColumnBlock % NR == 0, "NC must hold whole B panels");
  constexpr std::size_t kRowBlock = kRowBlockTarget / MR * MR;
  const Operand opA{a, s.lda, s.transposeA};
  const Operand opB{b, s.ldb, s.transposeB};
  const std::size_t ldc = s.ldc;
  // Per thread, reused across calls: allocation per call showed up in the LSTM's many small products.
  thread_local std::vector<float> packedA, packedB;
  packedA.resize(kRowBlock * kDepthBlock);
  if (prepackedB == nullptr) packedB.resize(kDepthBlock * kColumnBlock);
  float edgeTile[MR * NR];
  // A stored row-major and used by few column panels is read in place: packing it would cost about as
  // much as the products it feeds (the convolutions' column matrices against 32-128 filters).
  const bool directA = !s.transposeA && (std::min(s.n, kColumnBlock) + NR - 1) / NR <= kInPlacePanels;

  for (std::size_t col0 = 0; col0 < s.n; col0 += kColumnBlock) {
    const std::size_t cols = std::min(kColumnBlock, s.n - col0);
    for (std::size_t p0 = 0; p0 < s.k; p0 += kDepthBlock) {
      const std::size_t depth = std::min(kDepthBlock, s.k - p0);
      const bool overwrite = !accumulate && p0 == 0;
      const float* blockB = prepackedB;
      if (prepackedB != nullptr) {
        prepackedB += depth * ((cols + NR - 1) / NR * NR);
      } else {
        packB<NR>(opB, p0, depth, col0, cols, packedB.data());
        blockB = packedB.data();
      }
      for (std::size_t row0 = 0; row0 < s.m; row0 += kRowBlock) {
        const std::size_t rows = std::min(kRowBlock, s.m - row0);
        // Only the partial last panel needs packing when full panels are read in place.
        const std::size_t packedFrom = directA ? rows / MR * MR : 0;
        if (packedFrom < rows) {
          packA<MR>(opA, row0 + packedFrom, rows - packedFrom, p0, depth, packedA.data() + (packedFrom / MR) * depth * MR);
        }
        for (std::size_t j = 0; j < cols; j += NR) {
          const float* panelB = blockB + (j / NR) * depth * NR;
          const std::size_t validCols = std::min(NR, cols - j);
          for (std::size_t i = 0; i < rows; i += MR) {
            const bool inPlace = i < packedFrom;
            const float* panelA = inPlace ? a + (row0 + i) * s.lda + p0 : packedA.data() + (i / MR) * depth * MR;
            const std::size_t aRow = inPlace ? s.lda : 1, aStep = inPlace ? 1 : MR;
            float* tile = c + (row0 + i) * ldc + col0 + j;
            const std::size_t validRows = std::min(MR, rows - i);
            if (validRows == MR && validCols == NR) {
              kernel(depth, panelA, aRow, aStep, panelB, tile, ldc, overwrite);
              continue;
            }
            kernel(depth, panelA, aRow, aStep, panelB, edgeTile, NR, true);
            for (std::size_t r = 0; r < validRows; ++r) {
              for (std::size_t q = 0; q < validCols; ++q) {
                float& out = tile[r * ldc + q];
                out = overwrite ? edgeTile[r * NR + q] : out + edgeTile[r * NR + q];
              }
            }
          }
        }
      }
    }
  }
}

// Each ISA's build of the blocking and packing loops around its micro-kernel.
constexpr std::size_t kPortableNr = 16, kAvx2Nr = 16, kAvx512Nr = 32;

void blockedGemmPortable(const GemmShape& s, const float* a, const float* b, float* c, bool accumulate,
                         const float* prepackedB) {
  blockedGemm<4, kPortableNr>(portableKernel<4, kPortableNr>, s, a, b, c, accumulate, prepackedB);
}

#ifdef SER_X86_KERNELS
__attribute__((target("avx2,fma"))) void blockedGemmAvx2(const GemmShape& s, const float* a, const float* b, float* c,
                                                        bool accumulate, const float* prepackedB) {
  blockedGemm<6, kAvx2Nr>(avx2Kernel, s, a, b, c, accumulate, prepackedB);
}

__attribute__((target("avx512f"))) void blockedGemmAvx512(const GemmShape& s, const float* a, const float* b,
                                                          float* c, bool accumulate, const float* prepackedB) {
  blockedGemm<12, kAvx512Nr>(avx512Kernel, s, a, b, c, accumulate, prepackedB);
}
#endif

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

namespace {

// Fills in dense strides.
GemmShape withStrides(GemmShape s) {
  if (s.lda == 0) s.lda = s.transposeA ? s.m : s.k;
  if (s.ldb == 0) s.ldb = s.transposeB ? s.k : s.n;
  if (s.ldc == 0) s.ldc = s.n;
  return s;
}

void gemmOnCaller(const GemmShape& shape, const float* a, const float* b, float* c, bool accumulate,
                  const float* prepackedB = nullptr) {
  const ScopedCount count(Counter::Gemm);
  switch (activeIsa()) {
#ifdef SER_X86_KERNELS
    case Isa::Avx512:
      blockedGemmAvx512(shape, a, b, c, accumulate, prepackedB);
      return;
    case Isa::Avx2:
      blockedGemmAvx2(shape, a, b, c, accumulate, prepackedB);
      return;
#endif
    default:
      blockedGemmPortable(shape, a, b, c, accumulate, prepackedB);
  }
}

// Below this many multiply-adds a product is not worth waking the pool for.
constexpr double kParallelMacs = 1 << 20;
// Tiles are whole micro-kernel panels of the widest kernel (12 rows, 32 columns), so a split never
// changes how an element is computed. One panel, not a cache block: with 192-row tiles the BiLSTM's
// 1184-row products split 768 / 416 over two threads.
constexpr std::size_t kRowQuantum = 12, kColumnQuantum = 32;

}  // namespace

namespace {

// How a product splits into tiles of whole micro-kernel panels: rows or columns, whichever is larger.
struct TilePlan {
  bool splitRows = true;
  std::size_t quantum = kRowQuantum, units = 0;
};

TilePlan planTiles(const GemmShape& shape) {
  TilePlan plan;
  plan.splitRows = shape.m >= shape.n;
  plan.quantum = plan.splitRows ? kRowQuantum : kColumnQuantum;
  plan.units = ((plan.splitRows ? shape.m : shape.n) + plan.quantum - 1) / plan.quantum;
  return plan;
}

// Tile `part` of `parts` of the product, on the calling thread.
void runTile(const GemmShape& shape, const TilePlan& plan, std::size_t parts, std::size_t part, const float* a,
             const float* b, float* c, bool accumulate) {
  const Range range = splitRange(plan.units, parts, part);
  const std::size_t begin = range.begin * plan.quantum;
  GemmShape tile = shape;
  if (plan.splitRows) {
    tile.m = std::min(shape.m, range.end * plan.quantum) - begin;
    if (tile.m == 0) return;
    const float* aTile = shape.transposeA ? a + begin : a + begin * shape.lda;
    gemmOnCaller(tile, aTile, b, c + begin * shape.ldc, accumulate);
  } else {
    tile.n = std::min(shape.n, range.end * plan.quantum) - begin;
    if (tile.n == 0) return;
    const float* bTile = shape.transposeB ? b + begin * shape.ldb : b + begin;
    gemmOnCaller(tile, a, bTile, c + begin, accumulate);
  }
}

// C zeroed (or left, with accumulate) for an empty inner dimension.
void emptyProduct(const GemmShape& shape, float* c, bool accumulate) {
  if (accumulate) return;
  for (std::size_t i = 0; i < shape.m; ++i) std::fill(c + i * shape.ldc, c + i * shape.ldc + shape.n, 0.0f);
}

}  // namespace

void gemm(const GemmShape& given, const float* a, const float* b, float* c, bool accumulate) {
  if (given.m == 0 || given.n == 0) return;
  const GemmShape shape = withStrides(given);
  if (shape.k == 0) return emptyProduct(shape, c, accumulate);
  const std::size_t threads = threadCount();
  const double macs = static_cast<double>(shape.m) * shape.n * shape.k;
  const TilePlan plan = planTiles(shape);
  const std::size_t tasks = std::min(threads, plan.units);
  if (threads == 1 || tasks < 2 || macs < kParallelMacs) {
    gemmOnCaller(shape, a, b, c, accumulate);
    return;
  }
  parallelFor(tasks, [&](std::size_t task) { runTile(shape, plan, tasks, task, a, b, c, accumulate); });
}

void gemmMany(const GemmJob* jobs, std::size_t count) {
  struct Planned {
    GemmJob job;
    TilePlan plan;
    std::size_t parts = 1, firstTask = 0;
  };
  std::vector<Planned> planned;
  const std::size_t threads = threadCount();
  std::size_t tasks = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (jobs[i].shape.m == 0 || jobs[i].shape.n == 0) continue;
    Planned p{jobs[i], {}, 1, 0};
    p.job.shape = withStrides(jobs[i].shape);
    if (p.job.shape.k == 0) {
      emptyProduct(p.job.shape, p.job.c, p.job.accumulate);
      continue;
    }
    p.plan = planTiles(p.job.shape);
    planned.push_back(p);
  }
  // Enough tiles for every thread, each product cut into as few as that allows.
  const std::size_t perJob = planned.empty() ? 1 : std::max<std::size_t>(1, (threads + planned.size() - 1) / planned.size());
  for (Planned& p : planned) {
    p.parts = std::min(perJob, p.plan.units);
    p.firstTask = tasks;
    tasks += p.parts;
  }
  parallelFor(tasks, [&](std::size_t task) {
    std::size_t j = 0;
    while (j + 1 < planned.size() && planned[j + 1].firstTask <= task) ++j;
    const Planned& p = planned[j];
    runTile(p.job.shape, p.plan, p.parts, task - p.firstTask, p.job.a, p.job.b, p.job.c, p.job.accumulate);
  });
}

void PackedRight::pack(std::size_t k, std::size_t n, bool transposed, std::size_t ldb, const float* b) {
  const Operand op{b, ldb != 0 ? ldb : (transposed ? k : n), transposed};
  k_ = k;
  n_ = n;
  switch (activeIsa()) {
#ifdef SER_X86_KERNELS
    case Isa::Avx512:
      panels_.resize(packedRightFloats<kAvx512Nr>(k, n));
      packRight<kAvx512Nr>(op, k, n, panels_.data());
      return;
    case Isa::Avx2:
      panels_.resize(packedRightFloats<kAvx2Nr>(k, n));
      packRight<kAvx2Nr>(op, k, n, panels_.data());
      return;
#endif
    default:
      panels_.resize(packedRightFloats<kPortableNr>(k, n));
      packRight<kPortableNr>(op, k, n, panels_.data());
  }
}

void gemmPackedRight(const GemmShape& given, const float* a, const PackedRight& b, float* c, bool accumulate) {
  if (given.k != b.k() || given.n != b.n()) {
    throw InputError("gemmPackedRight: a " + std::to_string(given.k) + " x " + std::to_string(given.n) +
                     " right operand was asked of one packed as " + std::to_string(b.k()) + " x " + std::to_string(b.n()));
  }
  if (given.m == 0 || given.n == 0) return;
  const GemmShape shape = withStrides(given);
  if (shape.k == 0) return emptyProduct(shape, c, accumulate);
  gemmOnCaller(shape, a, nullptr, c, accumulate, b.data());
}

const char* gemmIsa() {
  switch (activeIsa()) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "portable";
  }
}

}  // namespace ser
