// What the addon knows of an NVIDIA GPU for the training engine (native/nn/gpu.h). The default build has
// no CUDA and says so; a build with SER_CUDA=ON reports the device, or why it cannot use one (no
// driver, no device, no cuBLAS 13) and keeps to the CPU.
import { native, type GpuInfo } from '../native';

export type { GpuInfo };

/** Never throws: a missing driver, device or library is reported in `reason`. */
export function gpuInfo(): GpuInfo {
  return native.gpuInfo();
}
