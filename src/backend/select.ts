// The TensorFlow.js backend chain (DESIGN section 7). `auto` tries tfjs-node-gpu (only where it is
// installed and a GPU with the CUDA 11 runtime it needs is visible), then native (our addon), wasm,
// cpu, and takes the first that loads; tfjs-node is never its choice (native is the CPU engine this
// package measures and tests) but can be asked for. A forced backend that cannot load fails with what
// to install.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { BackendUnavailableError, OptionsError } from '../errors';
import { native } from '../native';
import { NATIVE_BACKEND_NAME, registerNativeBackend } from './native-backend';
import { registerWasmTrainingKernels } from './wasm-kernels';

export const TFJS_VERSION = '4.22.0';
import { BACKENDS, checkThreadCount, defaultThreadCount, MAX_THREADS, type BackendChoice, type BackendName } from './names';

export { BACKENDS, checkThreadCount, defaultThreadCount, MAX_THREADS, type BackendChoice, type BackendName };


export interface SelectedBackend {
  name: BackendName;
  /** Threads the backend trains on (the native engine's pool; libtensorflow's intra-op threads). */
  threads: number;
  /** tf.getBackend() after selection ('tensorflow' for both node packages). */
  tfBackend: string;
  /** Why earlier choices of `auto` were passed over. */
  skipped: { name: BackendName; reason: string }[];
}

const NODE_PACKAGES: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

const INSTALL_HINTS: Record<BackendName, string> = {
  'tensorflow-gpu':
    `npm install @tensorflow/tfjs-node-gpu@${TFJS_VERSION} (its install script downloads libtensorflow 2.9.1; it runs on the GPU only with CUDA 11.2 and cuDNN 8.1 installed, not with CUDA 12 or 13)`,
  tensorflow: `npm install @tensorflow/tfjs-node@${TFJS_VERSION} (its install script downloads libtensorflow 2.9.1; bench/peers/setup.sh in the ser-native repository builds it on the TensorFlow 2.21 C library of the tensorflow-cpu wheel instead)`,
  native: 'npm install (or npx cmake-js compile) in ser-native, which builds the addon; needs cmake >= 3.15 and a C++17 compiler',
  wasm: `npm install @tensorflow/tfjs-backend-wasm@${TFJS_VERSION}`,
  cpu: `npm install @tensorflow/tfjs@${TFJS_VERSION}`,
};

/** Loads the backend's package and makes it current; throws with the reason when it cannot. */
async function activate(name: BackendName, threads: number): Promise<string> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    // libtensorflow reads its thread count once, when it starts; a value the user set wins.
    process.env.TF_NUM_INTRAOP_THREADS ??= String(threads);
    try {
      // Registers the 'tensorflow' backend with the shared tfjs-core (same version, one copy).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(NODE_PACKAGES[name]);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(code === 'MODULE_NOT_FOUND' ? `${NODE_PACKAGES[name]} is not installed` : (error as Error).message);
    }
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${NODE_PACKAGES[name]} loaded but its backend did not initialise`);
    return 'tensorflow';
  }
  if (name === 'native') {
    registerNativeBackend();
    native.setThreads(threads);
    if (!(await tf.setBackend(NATIVE_BACKEND_NAME))) throw new Error('the native backend did not initialise');
    return NATIVE_BACKEND_NAME;
  }
  if (name === 'wasm') {
    let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    } catch {
      throw new Error('@tensorflow/tfjs-backend-wasm is not installed');
    }
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    wasm.setWasmPaths(`${dist}${path.sep}`);
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
    registerWasmTrainingKernels();
    return 'wasm';
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
  return 'cpu';
}

/** The threads a backend really uses: one for wasm and cpu; libtensorflow's setting for the node packages. */
function threadsOf(name: BackendName, requested: number): number {
  if (name === 'wasm' || name === 'cpu') return 1;
  if (name === 'native') return requested;
  const configured = Number(process.env.TF_NUM_INTRAOP_THREADS);
  return Number.isInteger(configured) && configured > 0 ? configured : requested;
}

export interface BackendOptions {
  /** Threads to train on; default every core. wasm and cpu run on one whatever this says. */
  threads?: number;
}

/** What `auto` looks at before it loads tfjs-node-gpu; a seam for tests. */
export interface GpuProbe {
  /** Whether a package can be resolved from here. */
  installed(name: string): boolean;
  /** Null when an NVIDIA GPU and the CUDA 11 runtime tfjs-node-gpu 4.22 links are both visible, else why not. */
  gpuUnavailable(): string | null;
}

/** The order `auto` tries: tfjs-node (CPU) is left out, native is the CPU engine of this package. */
export const AUTO_CHAIN: readonly BackendName[] = ['tensorflow-gpu', 'native', 'wasm', 'cpu'];

function resolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** The folders the dynamic loader searches: LD_LIBRARY_PATH, then the ldconfig cache's folders. */
function libraryFolders(): string[] {
  const folders = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  try {
    const cache = fs.readFileSync('/etc/ld.so.cache');
    // The cache holds absolute paths as NUL-terminated strings; their folders are what ldconfig indexed.
    for (const match of cache.toString('latin1').matchAll(/\/[\x21-\x7e]*\/lib[\x21-\x7e]*?\.so[\x21-\x7e]*/g)) folders.push(path.dirname(match[0]));
  } catch {
    // No cache (not glibc Linux): LD_LIBRARY_PATH alone.
  }
  return [...new Set(folders)];
}

function gpuUnavailable(): string | null {
  let gpus: string[] = [];
  try {
    gpus = fs.readdirSync('/proc/driver/nvidia/gpus');
  } catch {
    // No NVIDIA driver loaded (or not Linux).
  }
  if (gpus.length === 0) return 'no NVIDIA GPU is visible (/proc/driver/nvidia/gpus lists none)';
  const runtime = 'libcudart.so.11.0';
  if (!libraryFolders().some((folder) => fs.existsSync(path.join(folder, runtime)))) {
    return `a GPU is visible but ${runtime} is not (tfjs-node-gpu ${TFJS_VERSION} needs CUDA 11.2 and cuDNN 8.1; without them libtensorflow quietly runs on the CPU)`;
  }
  return null;
}

const SYSTEM_PROBE: GpuProbe = { installed: resolvable, gpuUnavailable };

/** Why `auto` does not try a backend before loading it, or null to try it. */
function autoPassesOver(name: BackendName, probe: GpuProbe): string | null {
  if (name !== 'tensorflow-gpu') return null;
  if (!probe.installed(NODE_PACKAGES[name])) return `${NODE_PACKAGES[name]} is not installed`;
  return probe.gpuUnavailable();
}

export async function selectBackend(choice: BackendChoice, options: BackendOptions = {}, probe: GpuProbe = SYSTEM_PROBE): Promise<SelectedBackend> {
  const threads = checkThreadCount(options.threads ?? defaultThreadCount());
  const skipped: SelectedBackend['skipped'] = [];
  const candidates: readonly BackendName[] = choice === 'auto' ? AUTO_CHAIN : [choice];
  for (const name of candidates) {
    const passedOver = choice === 'auto' ? autoPassesOver(name, probe) : null;
    if (passedOver !== null) {
      skipped.push({ name, reason: passedOver });
      continue;
    }
    try {
      const tfBackend = await activate(name, threads);
      await tf.ready();
      return { name, tfBackend, threads: threadsOf(name, threads), skipped };
    } catch (error) {
      const reason = (error as Error).message;
      if (choice !== 'auto') {
        throw new BackendUnavailableError(`backend ${name} is not available: ${reason}. Install it with: ${INSTALL_HINTS[name]}`);
      }
      skipped.push({ name, reason });
    }
  }
  throw new BackendUnavailableError(`no TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
