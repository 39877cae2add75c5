// Determinism across worker threads: the same plan gives the same bits in the main thread and in
// workers running the compiled library, concurrently.
import * as path from 'path';
import { Worker } from 'worker_threads';

import { augment, specFromNames } from '../src/augment/spec';
import { speechLike } from '../bench/signals';
import { ROOT } from './helpers/paths';

const SR = 16000;
const SEEDS = [1, 2, 3, 4, 5, 6];

function inWorker(seeds: number[]): Promise<Uint8Array[]> {
  const script = `
    const { parentPort, workerData } = require('worker_threads');
    const { augment, specFromNames } = require(${JSON.stringify(path.join(ROOT, 'dist/src/augment/spec.js'))});
    const { speechLike } = require(${JSON.stringify(path.join(ROOT, 'dist/bench/signals.js'))});
    const x = speechLike(1, ${SR}, 5);
    const spec = specFromNames(['noise', 'shift', 'stretch', 'pitch', 'speed'], 0.7);
    parentPort.postMessage(workerData.seeds.map((seed) => new Uint8Array(augment(x, ${SR}, spec, seed).samples.buffer)));
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { eval: true, workerData: { seeds } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

test('main thread and two concurrent workers produce identical bytes', async () => {
  const x = speechLike(1, SR, 5);
  const spec = specFromNames(['noise', 'shift', 'stretch', 'pitch', 'speed'], 0.7);
  const expected = SEEDS.map((seed) => Buffer.from(augment(x, SR, spec, seed).samples.buffer));
  const [a, b] = await Promise.all([inWorker(SEEDS), inWorker([...SEEDS].reverse())]);
  a.forEach((bytes, i) => expect(Buffer.from(bytes).equals(expected[i])).toBe(true));
  b.reverse().forEach((bytes, i) => expect(Buffer.from(bytes).equals(expected[i])).toBe(true));
});
