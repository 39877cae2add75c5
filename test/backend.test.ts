// The backend chain on a machine without libtensorflow: auto falls through to our native backend;
// forcing a missing node backend fails with the install hint; native, cpu and wasm can be forced.
import * as tf from '@tensorflow/tfjs';

import { selectBackend } from '../src/backend';
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

(haveNode ? test.skip : test)('auto skips the missing tfjs-node packages, with their reasons, and takes native', async () => {
  const selected = await selectBackend('auto');
  expect(selected.name).toBe('native');
  expect(tf.getBackend()).toBe('native');
  expect(selected.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
  expect(selected.skipped[1].reason).toMatch(/@tensorflow\/tfjs-node is not installed/);
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
