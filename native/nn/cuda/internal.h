// What the CUDA op files share: error checks that throw, the context's state, launch sizes, and the
// column reductions behind batch-norm statistics and bias gradients.
#pragma once
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "common/errors.h"
#include "nn/gpu.h"

namespace ser {
namespace gpu {

[[noreturn]] void throwCuda(cudaError_t status, const char* what);
inline void checkCuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throwCuda(status, what);
}
// After a launch: a bad configuration shows up here, a fault at the next synchronisation.
inline void checkLaunch(const char* kernel) { checkCuda(cudaGetLastError(), kernel); }

// cuBLAS entry points, resolved by dlopen (nn/cuda/context.cu).
struct Cublas {
  cublasStatus_t (*create)(cublasHandle_t*);
  cublasStatus_t (*destroy)(cublasHandle_t);
  cublasStatus_t (*setStream)(cublasHandle_t, cudaStream_t);
  cublasStatus_t (*setMathMode)(cublasHandle_t, cublasMath_t);
  cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const float*,
                          const float*, int, const float*, int, const float*, float*, int);
};
// Throws std::runtime_error naming what was tried when cuBLAS cannot be loaded.
const Cublas& cublas();

struct Context::State {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t handle = nullptr;
};

inline unsigned blocksFor(std::size_t threads, unsigned perBlock = 256) {
  const std::size_t blocks = (threads + perBlock - 1) / perBlock;
  if (blocks > 0x7FFFFFFFu) throw InputError("a CUDA launch of " + std::to_string(threads) + " threads is too large");
  return static_cast<unsigned>(blocks == 0 ? 1 : blocks);
}

// Column sums of a [rows, columns] matrix given by value(row, column) -> double2 (a, b), in double: sumA and
// sumB [columns]. Rows are cut into fixed chunks whose partial sums are added in chunk order, so the
// result does not depend on the launch (the same bits every run).
constexpr unsigned kSumRowsPerBlock = 1024;
constexpr unsigned kSumColumns = 32, kSumRowLanes = 8;

template <typename Value>
__global__ void columnPartialSums(std::size_t rows, std::size_t columns, Value value, double* partial) {
  __shared__ double sharedA[kSumRowLanes][kSumColumns];
  __shared__ double sharedB[kSumRowLanes][kSumColumns];
  const std::size_t chunk = blockIdx.x;
  const std::size_t column = static_cast<std::size_t>(blockIdx.y) * kSumColumns + threadIdx.x;
  const std::size_t first = chunk * kSumRowsPerBlock;
  const std::size_t end = first + kSumRowsPerBlock < rows ? first + kSumRowsPerBlock : rows;
  double a = 0.0, b = 0.0;
  if (column < columns) {
    for (std::size_t r = first + threadIdx.y; r < end; r += kSumRowLanes) {
      const double2 v = value(r, column);
      a += v.x;
      b += v.y;
    }
  }
  sharedA[threadIdx.y][threadIdx.x] = a;
  sharedB[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && column < columns) {
    for (unsigned lane = 1; lane < kSumRowLanes; ++lane) {
      a += sharedA[lane][threadIdx.x];
      b += sharedB[lane][threadIdx.x];
    }
    partial[(chunk * columns + column) * 2] = a;
    partial[(chunk * columns + column) * 2 + 1] = b;
  }
}

__global__ void addPartialSums(std::size_t chunks, std::size_t columns, const double* partial, double* sums);

// A dense [rows, columns] matrix as columnSums' values (its second sum unused), and the first sums
// stored as floats: bias gradients.
struct RowValues {
  const float* data;
  std::size_t columns;
  __device__ double2 operator()(std::size_t row, std::size_t column) const {
    return make_double2(data[row * columns + column], 0.0);
  }
};
__global__ void storeFirstSums(std::size_t columns, const double* sums, float* out);

// Doubles of scratch columnSums needs.
inline std::size_t columnSumScratch(std::size_t rows, std::size_t columns) {
  return ((rows + kSumRowsPerBlock - 1) / kSumRowsPerBlock) * columns * 2 + columns * 2;
}

// sums[2 c] = sum of a over the rows, sums[2 c + 1] = sum of b; scratch holds columnSumScratch doubles
// and sums points into it (its last 2 columns).
template <typename Value>
double* columnSums(Context& context, std::size_t rows, std::size_t columns, Value value, double* scratch) {
  const std::size_t chunks = (rows + kSumRowsPerBlock - 1) / kSumRowsPerBlock;
  if (chunks > 0x7FFFFFFFu || columns / kSumColumns >= 65535) throw InputError("a column sum is too large for one launch");
  const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>((columns + kSumColumns - 1) / kSumColumns));
  const dim3 block(kSumColumns, kSumRowLanes);
  cudaStream_t stream = context.state().stream;
  columnPartialSums<<<grid, block, 0, stream>>>(rows, columns, value, scratch);
  checkLaunch("columnPartialSums");
  double* sums = scratch + chunks * columns * 2;
  addPartialSums<<<blocksFor(columns), 256, 0, stream>>>(chunks, columns, scratch, sums);
  checkLaunch("addPartialSums");
  return sums;
}

}  // namespace gpu
}  // namespace ser
