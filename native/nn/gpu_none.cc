// probeGpu and makeGpuTrainer in a build without CUDA (the default): the GPU ops of nn/gpu.h are not
// compiled, and asking for the GPU says why.
#include <stdexcept>

#include "nn/gpu.h"
#include "nn/model_step.h"

namespace ser {

GpuInfo probeGpu() {
  GpuInfo info;
  info.reason = "the addon was built without CUDA (rebuild with SER_CUDA=ON: see the README's \"Training on a GPU\")";
  return info;
}

std::unique_ptr<ModelTrainer> makeGpuTrainer(const ModelStepConfig&) {
  throw std::runtime_error("no usable GPU: " + probeGpu().reason);
}

}  // namespace ser
