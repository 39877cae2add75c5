// The backend chain on a machine without libtensorflow: auto falls through to our native backend;
// forcing a missing node backend fails with the install hint; native, cpu and wasm can be forced.
// auto never takes tfjs-node, and takes tfjs-node-gpu only where a GPU and its CUDA 11 runtime are seen.
import * as tf from '@tensorflow/tfjs';

import { AUTO_CHAIN, selectBackend, type GpuProbe } from '../src/backend/select';
import { BackendUnavailableError } from '../src/errors';

function nodePackageInstalled(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

const haveNode = nodePackageInstalled('@tensorflow/tfjs-node') || nodePackageInstalled('@tensorflow/tfjs-node-gpu');

(haveNode ? test.skip : test)('auto skips the missing tfjs-node-gpu, with its reason, and takes native', async () => {
  const selected = await selectBackend('auto');
  expect(selected.name).toBe('native');
  expect(tf.getBackend()).toBe('native');
  expect(selected.skipped).toEqual([{ name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' }]);
});

test('auto passes over an installed tfjs-node-gpu that sees no GPU, and never tries tfjs-node', async () => {
  const tried: string[] = [];
  const probe: GpuProbe = {
    installed: (name) => {
      tried.push(name);
      return true;
    },
    gpuUnavailable: () => 'no NVIDIA GPU is visible (/proc/driver/nvidia/gpus lists none)',
  };
  const selected = await selectBackend('auto', { threads: 1 }, probe);
  expect(selected.name).toBe('native');
  expect(selected.skipped).toEqual([{ name: 'tensorflow-gpu', reason: 'no NVIDIA GPU is visible (/proc/driver/nvidia/gpus lists none)' }]);
  expect(tried).toEqual(['@tensorflow/tfjs-node-gpu']);
  expect(AUTO_CHAIN).toEqual(['tensorflow-gpu', 'native', 'wasm', 'cpu']);
});

(haveNode ? test.skip : test)('auto with a GPU seen tries tfjs-node-gpu and says why it could not load it', async () => {
  const probe: GpuProbe = { installed: () => true, gpuUnavailable: () => null };
  const selected = await selectBackend('auto', { threads: 1 }, probe);
  expect(selected.name).toBe('native');
  expect(selected.skipped).toEqual([{ name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' }]);
});

(nodePackageInstalled('@tensorflow/tfjs-node') ? test.skip : test)('forcing tensorflow without the package names it and how to install it', async () => {
  const attempt = selectBackend('tensorflow');
  await expect(attempt).rejects.toThrow(BackendUnavailableError);
  await expect(selectBackend('tensorflow')).rejects.toThrow(/backend tensorflow is not available: @tensorflow\/tfjs-node is not installed\. Install it with: npm install @tensorflow\/tfjs-node@4\.22\.0/);
});

test('native, cpu and wasm can be forced and compute', async () => {
  for (const name of ['native', 'cpu', 'wasm'] as const) {
    const selected = await selectBackend(name);
    expect(tf.getBackend()).toBe(selected.tfBackend);
    expect(Array.from(tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync())).toEqual([3, 3, 3, 3]);
  }
});
