// The backend names and thread counts alone, without TensorFlow.js: the CLI lists them in its help, and
// train() and loadModel() check them on the caller's thread, without loading tfjs there.
import * as os from 'os';

import { OptionsError } from '../errors';

/** The TensorFlow.js backends in the order `auto` tries them. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
/** The TensorFlow.js backends ser can train and predict on. */
export type BackendName = (typeof BACKENDS)[number];
/** A backend by name, or auto for the first that loads. */
export type BackendChoice = BackendName | 'auto';

/**
 * Where the training step runs: `gpu` is the engine's whole-model step on CUDA (a build with
 * SER_CUDA=ON, a usable GPU and the native backend), `cpu` the same step on the native CPU engine (the
 * tfjs step on other backends), `auto` the GPU when there is one and the run is on native.
 */
export const DEVICES = ['auto', 'cpu', 'gpu'] as const;
/** A training device by name, or auto for the GPU when one can be used. */
export type DeviceChoice = (typeof DEVICES)[number];

/** Every core of this machine: the default of --threads. */
export function defaultThreadCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export const MAX_THREADS = 256;

/** Checks a --threads value; the message names the option. */
export function checkThreadCount(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new OptionsError(`threads (--threads) must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  }
  return threads;
}
