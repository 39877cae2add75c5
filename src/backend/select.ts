// The TensorFlow.js backend chain (DESIGN section 7): tfjs-node-gpu, tfjs-node, native (our addon), wasm,
// cpu. `auto` takes the first that loads; a forced backend that cannot load fails with what to install.
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { NATIVE_BACKEND_NAME, registerNativeBackend } from './native-backend';
import { registerWasmTrainingKernels } from './wasm-kernels';

export const TFJS_VERSION = '4.22.0';
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

/** A forced backend is not available here; the message says what is missing and how to install it. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

export interface SelectedBackend {
  name: BackendName;
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
    `npm install @tensorflow/tfjs-node-gpu@${TFJS_VERSION} (its install script downloads libtensorflow; needs a CUDA 11.2 / cuDNN 8.1 GPU machine with internet access)`,
  tensorflow: `npm install @tensorflow/tfjs-node@${TFJS_VERSION} (its install script downloads libtensorflow, so it needs internet access)`,
  native: 'npm install (or npx cmake-js compile) in ser-native, which builds the addon; needs cmake >= 3.15 and a C++17 compiler',
  wasm: `npm install @tensorflow/tfjs-backend-wasm@${TFJS_VERSION}`,
  cpu: `npm install @tensorflow/tfjs@${TFJS_VERSION}`,
};

/** Loads the backend's package and makes it current; throws with the reason when it cannot. */
async function activate(name: BackendName): Promise<string> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
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

export async function selectBackend(choice: BackendChoice): Promise<SelectedBackend> {
  const skipped: SelectedBackend['skipped'] = [];
  const candidates: readonly BackendName[] = choice === 'auto' ? BACKENDS : [choice];
  for (const name of candidates) {
    try {
      const tfBackend = await activate(name);
      await tf.ready();
      return { name, tfBackend, skipped };
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
