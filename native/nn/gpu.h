// The training engine's ops on an NVIDIA GPU: the same fused ops as the CPU engine (a convolution block
// each way, the bidirectional LSTM over whole sequences, Adam) with the same shapes, arithmetic
// definitions and dropout masks, on device memory. Built only with -DSER_CUDA=ON (nn/cuda/); every
// other build has probeGpu() alone, which then says the addon was built without CUDA.
//
// Matrix products go through cuBLAS in FP32 (no TF32: the ops must agree with the CPU engine within
// 1e-4 of the largest value). cuBLAS is opened with dlopen on first use, so an addon built with CUDA
// still loads, and runs on the CPU, on a machine with neither a driver nor cuBLAS. cuDNN is not used:
// its RNN API has only sigmoid gates (the model's LSTM uses tfjs's hard sigmoid), and the batch norm,
// ReLU, pooling and dropout of a block are one fused kernel here either way, which leaves cuDNN only
// the convolution; im2col + cuBLAS does that on these small channel counts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nn/conv_block.h"
#include "nn/gemm.h"
#include "nn/optimizer.h"
#include "nn/recurrent.h"

namespace ser {

struct GpuInfo {
  bool built = false;      // the addon was compiled with CUDA
  bool available = false;  // a device can be used now
  std::string reason;      // why not, when !available
  int deviceCount = 0;
  std::string name;        // device 0
  int computeMajor = 0, computeMinor = 0;
  std::size_t memoryBytes = 0;
  int driverVersion = 0, runtimeVersion = 0;  // CUDA's encoding: 1000 major + 10 minor
};

// Never throws: a missing driver, device or library is reported in reason.
GpuInfo probeGpu();

namespace gpu {

// One device, one stream, one cuBLAS handle; every op below is queued on its stream. Not thread-safe:
// one context per thread that drives the device.
class Context {
 public:
  explicit Context(int device = 0);  // throws std::runtime_error when the device cannot be used
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  void synchronize();
  struct State;
  State& state() { return *state_; }

 private:
  std::unique_ptr<State> state_;
};

// Device memory of `count` elements (RAII). upload/download are synchronous copies.
class DeviceFloats {
 public:
  DeviceFloats() = default;
  explicit DeviceFloats(std::size_t count);
  ~DeviceFloats();
  DeviceFloats(DeviceFloats&& other) noexcept;
  DeviceFloats& operator=(DeviceFloats&& other) noexcept;
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;

  float* data() const { return data_; }
  std::size_t size() const { return count_; }
  void upload(const float* host, std::size_t count, std::size_t offset = 0);
  void download(float* host, std::size_t count, std::size_t offset = 0) const;
  void zero();

 private:
  float* data_ = nullptr;
  std::size_t count_ = 0;
};

// Row-major C = op(A) op(B) (accumulate: C +=), as ser::gemm, on device pointers.
void gemm(Context& context, const GemmShape& shape, const float* a, const float* b, float* c, bool accumulate);

// Workspaces must be 8-byte aligned (cudaMalloc's are): they hold doubles at even float offsets.
// The workspace of a block on the device: the convolution's output, each pooled value's winner x-hat
// and winner byte, per-channel statistics, and a column buffer of at most kColumnFloats for im2col
// (images are processed in slabs that fit it, so memory is bounded for any batch).
constexpr std::size_t kColumnFloats = std::size_t{1} << 26;
std::size_t convBlockWorkspaceFloats(const ConvBlockShape& shape);

// As ser::convBlockForward / convBlockBackward; every pointer is device memory, the workspace holds
// convBlockWorkspaceFloats(shape).
void convBlockForward(Context& context, const ConvBlockShape& shape, const float* x, const float* filter,
                      const float* gamma, const float* beta, float* y, float* batchMean, float* batchVariance,
                      float* workspace);
void convBlockBackward(Context& context, const ConvBlockShape& shape, const float* x, const float* filter,
                       const float* gamma, const float* batchMean, const float* batchVariance, float* workspace,
                       const float* dy, float* dx, float* dFilter, float* dGamma, float* dBeta);

// As ser::bilstmForward / bilstmBackward on device memory; the workspace holds
// lstmWorkspaceFloats(shape) (the CPU layout, plus the carried gradients of the backward pass).
std::size_t lstmWorkspaceFloats(const LstmShape& shape);
void bilstmForward(Context& context, const LstmShape& shape, const LstmWeights& forward, const LstmWeights& backward,
                   const float* x, float* y, float* workspace);
void bilstmBackward(Context& context, const LstmShape& shape, const LstmWeights& forward,
                    const LstmWeights& backward, float* workspace, const float* dy, float* dx,
                    const LstmGradients& dForward, const LstmGradients& dBackward);

// As ser::adamUpdate on device memory (outputs may alias inputs).
void adamUpdate(Context& context, const AdamStep& step, std::size_t count, const float* value, const float* m,
                const float* v, const float* gradient, float* newValue, float* newM, float* newV);

}  // namespace gpu
}  // namespace ser
