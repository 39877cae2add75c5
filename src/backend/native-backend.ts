// The `native` TensorFlow.js backend (DESIGN section 7): the tfjs cpu backend's data store and
// kernels, with the expensive kernels (native-kernels.ts) replaced by the addon's C++. Needs no
// libtensorflow, so it trains at native speed wherever the addon builds.
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { native } from '../native';
import { BufferPool } from './buffer-pool';
import { NATIVE_KERNELS } from './native-kernels';

export const NATIVE_BACKEND_NAME = 'native';

type DataId = object;
type BackendValues = ReturnType<MathBackendCPU['readSync']>;

/** Bytes of freed outputs kept for reuse: above a step's peak working set of the seed model. */
const MAX_POOLED_BYTES = 2 * 1024 ** 3;

class NativeBackend extends MathBackendCPU {
  readonly outputs = new BufferPool(MAX_POOLED_BYTES);

  constructor() {
    super();
    // The cpu backend's first write prints "install tfjs-node to speed things up": not our advice.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  override write(values: BackendValues, shape: number[], dtype: tf.DataType): DataId {
    this.outputs.retain(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    if (this.data.has(dataId)) this.outputs.release(this.data.get(dataId).values);
    this.outputs.retain(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.outputs.release(values);
    return released;
  }

  override readSync(dataId: DataId): BackendValues {
    if (this.data.has(dataId)) this.outputs.markEscaped(this.data.get(dataId).values);
    return super.readSync(dataId);
  }
}

let registered = false;

/**
 * Registers the backend and its kernels once: every cpu kernel under the new name, then the native
 * replacements over them. Kernel gradients live in tfjs-core's registry, so they apply unchanged.
 */
export function registerNativeBackend(): void {
  if (registered) return;
  // Throws here (not at first use) when the addon is missing, so `auto` can pass over this backend.
  native.gemmIsa();
  // Priority 0: tfjs never picks it by itself; select.ts selects it explicitly.
  tf.registerBackend(NATIVE_BACKEND_NAME, () => new NativeBackend(), 0);
  for (const config of tf.getKernelsForBackend('cpu')) {
    const replacement = NATIVE_KERNELS[config.kernelName];
    tf.registerKernel({
      ...config,
      backendName: NATIVE_BACKEND_NAME,
      kernelFunc: replacement ? (replacement as unknown as tf.KernelFunc) : config.kernelFunc,
    });
  }
  registered = true;
}

/** The names of the kernels the addon runs (the rest are the cpu backend's). */
export function nativeKernelNames(): string[] {
  return Object.keys(NATIVE_KERNELS);
}
