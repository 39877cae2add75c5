// The Conv2DBackpropFilter supplied for the wasm backend against the cpu backend's own gradient on
// random shapes, edge shapes included (batch 1, odd sizes, strides, same and valid padding).
import * as tf from '@tensorflow/tfjs';

import { selectBackend } from '../src/backend';

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: 'same' | 'valid';
}

function filterGradient(c: Case, seed: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', seed) as tf.Tensor4D;
    const w = tf.randomNormal(c.filter, 0, 1, 'float32', seed + 1) as tf.Tensor4D;
    const loss = (filter: tf.Tensor) => {
      const y = tf.conv2d(x, filter as tf.Tensor4D, c.strides, c.pad);
      return tf.sum(tf.mul(y, tf.sin(y)));
    };
    return tf.grad(loss)(w).dataSync() as Float32Array;
  });
}

const CASES: Case[] = [
  { x: [1, 7, 5, 1], filter: [3, 3, 1, 2], strides: [1, 1], pad: 'same' },
  { x: [3, 12, 9, 4], filter: [3, 3, 4, 6], strides: [1, 1], pad: 'same' },
  { x: [2, 11, 13, 3], filter: [3, 2, 3, 5], strides: [1, 1], pad: 'valid' },
  { x: [2, 15, 10, 2], filter: [3, 3, 2, 4], strides: [2, 2], pad: 'same' },
  { x: [1, 9, 8, 3], filter: [2, 3, 3, 2], strides: [2, 1], pad: 'valid' },
  { x: [4, 30, 8, 8], filter: [3, 3, 8, 16], strides: [1, 1], pad: 'same' },
];

test.each(CASES.map((c, i) => [JSON.stringify(c), c, i] as const))('%s: wasm equals cpu within 1e-4 relative', async (_name, c, i) => {
  await selectBackend('cpu');
  const expected = filterGradient(c, 10 + i);
  await selectBackend('wasm');
  const actual = filterGradient(c, 10 + i);
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  let worst = 0;
  expected.forEach((v, k) => {
    scale = Math.max(scale, Math.abs(v));
    worst = Math.max(worst, Math.abs(actual[k] - v));
  });
  expect(worst / scale).toBeLessThan(1e-4);
});

test('the supplied kernel frees its intermediates', async () => {
  await selectBackend('wasm');
  const c = CASES[1];
  filterGradient(c, 1);
  const before = tf.memory().numBytes;
  for (let i = 0; i < 5; i++) filterGradient(c, 1);
  expect(tf.memory().numBytes).toBe(before);
});
