// The moving average of the weights: its arithmetic (with the early-step warm-up), that validation-time
// swapping leaves the trained values in place, and that a checkpoint carries it for an exact resume.
import * as tf from '@tensorflow/tfjs';

import { WeightAverage } from '../src/train/weight-average';

test('the average follows decay min(d, (1 + step) / (10 + step)) and swapping puts the trained values back', async () => {
  await tf.setBackend('cpu');
  const v = tf.variable(tf.tensor1d([1, -2]), true, 'wa-test');
  const average = new WeightAverage([v], 0.9);
  const expected = [1, -2];
  const values = [[3, 0], [5, 4], [-1, 2], [2, 2]];
  values.forEach((next, i) => {
    v.assign(tf.tensor1d(next));
    average.update(i + 1);
    const decay = Math.min(0.9, (2 + i) / (11 + i));
    for (let k = 0; k < 2; k++) expected[k] = decay * expected[k] + (1 - decay) * next[k];
  });
  const inside = await average.withAverages(() => Array.from(v.dataSync()));
  expect(inside[0]).toBeCloseTo(expected[0], 5);
  expect(inside[1]).toBeCloseTo(expected[1], 5);
  expect(Array.from(v.dataSync())).toEqual([2, 2]);
  // The averages survive a failing task, and the trained values come back all the same.
  await expect(average.withAverages(() => {
    throw new Error('boom');
  })).rejects.toThrow('boom');
  expect(Array.from(v.dataSync())).toEqual([2, 2]);
  const [named] = average.named();
  expect(named.name).toBe(v.name);
  const other = new WeightAverage([v], 0.5);
  other.restore({ [v.name]: named.tensor }, 'test');
  expect(await other.withAverages(() => Array.from(v.dataSync()))).toEqual(inside);
  expect(() => other.restore({}, 'somewhere')).toThrow(/somewhere: no weight average for wa-test/);
  expect(() => new WeightAverage([v], 1)).toThrow(/decay must be in \(0, 1\)/);
  average.dispose();
  other.dispose();
  v.dispose();
});
