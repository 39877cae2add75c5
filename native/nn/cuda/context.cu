// The device, its stream and cuBLAS: probing without throwing, loading cuBLAS on first use, device
// buffers, and the row-major GEMM every op builds on.
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "nn/cuda/internal.h"

// DeviceFloats' copies run on the legacy default stream and rely on its ordering with the context's
// blocking stream; a per-thread default stream would not be ordered with it.
#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
#error "nn/cuda relies on the legacy default stream (do not build with --default-stream per-thread)"
#endif

#ifndef SER_CUBLAS_DIR
#define SER_CUBLAS_DIR ""
#endif

namespace ser {

GpuInfo probeGpu() {
  GpuInfo info;
  info.built = true;
  cudaRuntimeGetVersion(&info.runtimeVersion);
  // Without a driver this is cudaErrorInsufficientDriver (35) or cudaErrorNoDevice: the place to fall back.
  const cudaError_t status = cudaGetDeviceCount(&info.deviceCount);
  cudaDriverGetVersion(&info.driverVersion);
  if (status != cudaSuccess) {
    info.deviceCount = 0;
    info.reason = std::string("CUDA reports ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return info;
  }
  if (info.deviceCount == 0) {
    info.reason = "CUDA sees no device";
    return info;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    info.name = prop.name;
    info.computeMajor = prop.major;
    info.computeMinor = prop.minor;
    info.memoryBytes = prop.totalGlobalMem;
  }
  try {
    gpu::cublas();
  } catch (const std::exception& e) {
    info.reason = e.what();
    return info;
  }
  info.available = true;
  return info;
}

namespace gpu {

void throwCuda(cudaError_t status, const char* what) {
  throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

namespace {

void checkCublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(status));
}

template <typename F>
void resolve(void* library, const char* symbol, F& out) {
  void* found = dlsym(library, symbol);
  if (found == nullptr) throw std::runtime_error(std::string("cuBLAS has no ") + symbol);
  out = reinterpret_cast<F>(found);
}

Cublas loadCublas() {
  // SER_CUBLAS_LIBRARY names the library outright; else the directory CMake linked against, then the
  // loader's search path.
  std::vector<std::string> candidates;
  if (const char* named = std::getenv("SER_CUBLAS_LIBRARY"); named != nullptr && *named != '\0') {
    candidates.emplace_back(named);
  } else {
    if (*SER_CUBLAS_DIR != '\0') candidates.emplace_back(std::string(SER_CUBLAS_DIR) + "/libcublas.so.13");
    candidates.emplace_back("libcublas.so.13");
  }
  std::string tried;
  for (const std::string& path : candidates) {
    if (void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      Cublas api{};
      resolve(library, "cublasCreate_v2", api.create);
      resolve(library, "cublasDestroy_v2", api.destroy);
      resolve(library, "cublasSetStream_v2", api.setStream);
      resolve(library, "cublasSetMathMode", api.setMathMode);
      resolve(library, "cublasSgemm_v2", api.sgemm);
      return api;  // the library stays loaded for the process's life
    }
    const char* why = dlerror();
    tried += (tried.empty() ? "" : "; ") + path + ": " + (why ? why : "not found");
  }
  throw std::runtime_error("cuBLAS 13 could not be loaded (" + tried +
                           "); set SER_CUBLAS_LIBRARY to libcublas.so.13 (pip install nvidia-cublas)");
}

}  // namespace

const Cublas& cublas() {
  static std::once_flag once;
  static Cublas api{};
  static std::string failure;
  std::call_once(once, [] {
    try {
      api = loadCublas();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) throw std::runtime_error(failure);
  return api;
}

__global__ void addPartialSums(std::size_t chunks, std::size_t columns, const double* partial, double* sums) {
  const std::size_t column = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (column >= columns) return;
  double a = 0.0, b = 0.0;
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
    a += partial[(chunk * columns + column) * 2];
    b += partial[(chunk * columns + column) * 2 + 1];
  }
  sums[column * 2] = a;
  sums[column * 2 + 1] = b;
}

__global__ void storeFirstSums(std::size_t columns, const double* sums, float* out) {
  const std::size_t j = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (j < columns) out[j] = static_cast<float>(sums[2 * j]);
}

Context::Context(int device) : state_(std::make_unique<State>()) {
  const GpuInfo info = probeGpu();
  if (!info.available) throw std::runtime_error("no usable GPU: " + info.reason);
  if (device < 0 || device >= info.deviceCount) {
    throw InputError("GPU " + std::to_string(device) + " does not exist (" + std::to_string(info.deviceCount) + " found)");
  }
  state_->device = device;
  checkCuda(cudaSetDevice(device), "cudaSetDevice");
  // A blocking stream: DeviceFloats' synchronous copies (on the legacy default stream) then wait for
  // the ops queued here and the ops queued after them wait for the copies, so a buffer is never
  // rewritten while a kernel still reads it.
  checkCuda(cudaStreamCreateWithFlags(&state_->stream, cudaStreamDefault), "cudaStreamCreate");
  const Cublas& api = cublas();
  checkCublas(api.create(&state_->handle), "cublasCreate");
  checkCublas(api.setStream(state_->handle, state_->stream), "cublasSetStream");
  // FP32 throughout: TF32 would move results by ~1e-3, past the 1e-4 the ops are held to.
  checkCublas(api.setMathMode(state_->handle, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
}

Context::~Context() {
  if (state_->handle != nullptr) cublas().destroy(state_->handle);
  if (state_->stream != nullptr) cudaStreamDestroy(state_->stream);
}

void Context::synchronize() { checkCuda(cudaStreamSynchronize(state_->stream), "a GPU op"); }

DeviceFloats::DeviceFloats(std::size_t count) : count_(count) {
  if (count > 0) checkCuda(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(float)), "cudaMalloc");
}

DeviceFloats::~DeviceFloats() {
  if (data_ != nullptr) cudaFree(data_);
}

DeviceFloats::DeviceFloats(DeviceFloats&& other) noexcept : data_(other.data_), count_(other.count_) {
  other.data_ = nullptr;
  other.count_ = 0;
}

DeviceFloats& DeviceFloats::operator=(DeviceFloats&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = other.data_;
    count_ = other.count_;
    other.data_ = nullptr;
    other.count_ = 0;
  }
  return *this;
}

void DeviceFloats::upload(const float* host, std::size_t count, std::size_t offset) {
  if (offset > count_ || count > count_ - offset) throw InputError("upload past the end of a device buffer");
  checkCuda(cudaMemcpy(data_ + offset, host, count * sizeof(float), cudaMemcpyHostToDevice), "upload");
}

void DeviceFloats::download(float* host, std::size_t count, std::size_t offset) const {
  if (offset > count_ || count > count_ - offset) throw InputError("download past the end of a device buffer");
  checkCuda(cudaMemcpy(host, data_ + offset, count * sizeof(float), cudaMemcpyDeviceToHost), "download");
}

void DeviceFloats::zero() {
  if (count_ > 0) checkCuda(cudaMemset(data_, 0, count_ * sizeof(float)), "cudaMemset");
}

void gemm(Context& context, const GemmShape& s, const float* a, const float* b, float* c, bool accumulate) {
  if (s.m == 0 || s.n == 0) return;
  const std::size_t lda = std::max<std::size_t>(1, s.lda ? s.lda : (s.transposeA ? s.m : s.k));
  const std::size_t ldb = std::max<std::size_t>(1, s.ldb ? s.ldb : (s.transposeB ? s.k : s.n));
  const std::size_t ldc = s.ldc ? s.ldc : s.n;
  const std::size_t limit = 0x7FFFFFFF;
  if (s.m > limit || s.n > limit || s.k > limit || lda > limit || ldb > limit || ldc > limit) {
    throw InputError("a GPU matrix product's sizes exceed cuBLAS's 32-bit dimensions");
  }
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  if (s.k == 0) {  // an empty sum: C stays (accumulate) or becomes zero, without asking cuBLAS
    if (!accumulate) {
      checkCuda(cudaMemset2DAsync(c, ldc * sizeof(float), 0, s.n * sizeof(float), s.m, context.state().stream),
                "cudaMemset2DAsync");
    }
    return;
  }
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the operands swap, their
  // transposition flags stay.
  checkCublas(cublas().sgemm(context.state().handle, s.transposeB ? CUBLAS_OP_T : CUBLAS_OP_N,
                             s.transposeA ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(s.n), static_cast<int>(s.m),
                             static_cast<int>(s.k), &alpha, b, static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c,
                             static_cast<int>(ldc)),
              "cublasSgemm");
}

}  // namespace gpu
}  // namespace ser
