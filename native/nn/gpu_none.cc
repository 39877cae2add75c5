// probeGpu in a build without CUDA (the default): the GPU ops of nn/gpu.h are not compiled.
#include "nn/gpu.h"

namespace ser {

GpuInfo probeGpu() {
  GpuInfo info;
  info.reason = "the addon was built without CUDA (rebuild with SER_CUDA=ON: see the README's \"Training on a GPU\")";
  return info;
}

}  // namespace ser
