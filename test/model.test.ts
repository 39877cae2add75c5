// The attention layer and the model: weights sum to 1 over time, save/load with the custom layer
// predicts identically, the presets' shapes and sizes.
import * as tf from '@tensorflow/tfjs';

import { AttentionPooling } from '../src/train/attention';
import { setDropoutStep, StepDropout } from '../src/train/dropout';
import { buildModel, MODEL_PRESETS } from '../src/train/model';
import { selectBackend } from '../src/backend';
import { orthogonalMatrix } from '../src/train/initializers';

beforeAll(async () => {
  await selectBackend('cpu');
});

test('attention weights are a distribution over time, and the output is their weighted sum', () => {
  const layer = new AttentionPooling({ units: 6, seed: 3 });
  const x = tf.randomNormal([4, 17, 5], 0, 1, 'float32', 11);
  const pooled = layer.apply(x) as tf.Tensor;
  expect(pooled.shape).toEqual([4, 5]);
  const alpha = layer.attentionWeights(x);
  const sums = alpha.sum(1).dataSync();
  for (const s of sums) expect(s).toBeCloseTo(1, 5);
  expect(alpha.min().dataSync()[0]).toBeGreaterThan(0);
  const manual = tf.sum(tf.mul(x, tf.expandDims(alpha, -1)), 1);
  const diff = tf.max(tf.abs(tf.sub(manual, pooled))).dataSync()[0];
  expect(diff).toBeLessThan(1e-6);
  // Not a plain mean: the weights differ across time steps.
  expect(alpha.max().dataSync()[0] - alpha.min().dataSync()[0]).toBeGreaterThan(1e-3);
});

test('the small model saves and loads with its attention layer and predicts identically', async () => {
  const model = buildModel({ frames: 40, coeffs: 12, classes: 8, sizes: MODEL_PRESETS.small, seed: 5 });
  const x = tf.randomNormal([3, 40, 12, 1], 0, 1, 'float32', 2);
  const before = model.predict(x) as tf.Tensor;
  expect(before.shape).toEqual([3, 8]);
  for (const s of before.sum(1).dataSync()) expect(s).toBeCloseTo(1, 5);
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  expect(JSON.stringify(saved?.modelTopology)).toContain('AttentionPooling');
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
  const after = loaded.predict(x) as tf.Tensor;
  expect(Array.from(after.dataSync())).toEqual(Array.from(before.dataSync()));
});

test('the seed preset has about 800k parameters on 301 x 40 input; the same seed gives the same weights', () => {
  const seed = buildModel({ frames: 301, coeffs: 40, classes: 8, sizes: MODEL_PRESETS.seed, seed: 1 });
  expect(seed.countParams()).toBeGreaterThan(700_000);
  expect(seed.countParams()).toBeLessThan(900_000);
  const a = buildModel({ frames: 40, coeffs: 12, classes: 8, sizes: MODEL_PRESETS.small, seed: 9 });
  const b = buildModel({ frames: 40, coeffs: 12, classes: 8, sizes: MODEL_PRESETS.small, seed: 9 });
  a.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(b.getWeights()[i].dataSync())));
  expect(() => buildModel({ frames: 3, coeffs: 3, classes: 8, sizes: MODEL_PRESETS.seed, seed: 1 })).toThrow(/too small/);
});

test('the seeded orthogonal initializer: orthonormal columns (or rows), repeatable', () => {
  for (const [rows, cols] of [[64, 16], [16, 64], [30, 30]]) {
    const q = orthogonalMatrix(rows, cols, 7);
    const tall = rows >= cols;
    const k = Math.min(rows, cols);
    let worst = 0;
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let t = 0; t < Math.max(rows, cols); t++) dot += tall ? q[t * cols + i] * q[t * cols + j] : q[i * cols + t] * q[j * cols + t];
        worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-12);
  }
  expect(Array.from(orthogonalMatrix(8, 4, 1))).toEqual(Array.from(orthogonalMatrix(8, 4, 1)));
  expect(Array.from(orthogonalMatrix(8, 4, 1))).not.toEqual(Array.from(orthogonalMatrix(8, 4, 2)));
});

test('step-seeded dropout: a new mask each step, the same mask for the same step, identity at inference', () => {
  const layer = new StepDropout({ rate: 0.5, seed: 4 });
  const x = tf.ones([64, 32]);
  const mask = (step: number) => {
    setDropoutStep(step);
    return Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync());
  };
  const first = mask(0);
  expect(mask(0)).toEqual(first);
  expect(mask(1)).not.toEqual(first);
  const kept = first.filter((v) => v !== 0);
  // Inverted dropout: kept units are scaled by 1 / (1 - rate); about half are kept.
  for (const v of kept) expect(v).toBeCloseTo(2, 6);
  expect(kept.length / first.length).toBeGreaterThan(0.4);
  expect(kept.length / first.length).toBeLessThan(0.6);
  expect(Array.from((layer.apply(x) as tf.Tensor).dataSync())).toEqual(Array.from(x.dataSync()));
});
