// The TensorFlow.js backends we supply (DESIGN section 2): selection of the backend chain, the native
// backend (our C++ kernels) and the wasm training kernels. Imports nothing from src/train.
export {
  BACKENDS,
  checkThreadCount,
  defaultThreadCount,
  MAX_THREADS,
  selectBackend,
  TFJS_VERSION,
  type BackendChoice,
  type BackendName,
  type BackendOptions,
  type SelectedBackend,
} from './select';
export { NATIVE_BACKEND_NAME, nativeKernelNames, registerNativeBackend } from './native-backend';
export { createAdam, FusedAdam } from './fused-adam';
export {
  fusedInferenceForward, fusedTrainingForward, type DropoutMaskOf, type FusedForward, type FusionOptions, type TrainingForward,
} from './fused-model';
