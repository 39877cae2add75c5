// What every kernel of the `native` backend shares: the argument type, reading a tensor's Float32Array
// from the cpu data store, and running the cpu backend's own kernel where ours does not apply.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import type { BufferPool } from './buffer-pool';

export type TensorInfo = tf.TensorInfo;

export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: MathBackendCPU;
  attrs?: tf.NamedAttrMap;
}
export type NativeKernel = (args: KernelArgs) => TensorInfo | TensorInfo[];

/** The tfjs cpu kernel of that name, run on our backend (which is a MathBackendCPU). */
export function cpuKernelOutputs(name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const kernel = tf.getKernel(name, 'cpu');
  if (!kernel) throw new Error(`the tfjs cpu backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs: args.inputs, attrs: args.attrs ?? {}, backend: args.backend as unknown as tf.KernelBackend });
}

/** cpuKernelOutputs for kernels with one output. */
export function cpuKernel(name: string, args: KernelArgs): TensorInfo {
  const result = cpuKernelOutputs(name, args);
  if (Array.isArray(result)) throw new Error(`the cpu ${name} kernel returned several tensors`);
  return result;
}

/** The tensor's values when it is float32 (the only dtype the addon's kernels take), else null. */
export function float32Values(backend: MathBackendCPU, info: TensorInfo): Float32Array | null {
  if (info.dtype !== 'float32') return null;
  const values = backend.data.get(info.dataId)?.values;
  return values instanceof Float32Array ? values : null;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface PooledBackend {
  outputs?: BufferPool;
}

/**
 * A kernel's output array, reused from the backend's pool when one of that size is free. Its contents
 * are arbitrary: only kernels whose native code writes every element may use it.
 */
export function outputArray(backend: MathBackendCPU, length: number): Float32Array {
  const pool = (backend as unknown as PooledBackend).outputs;
  return pool ? pool.take(length) : new Float32Array(length);
}
