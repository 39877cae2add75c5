// The attention layer and the model: weights sum to 1 over time, the saved folder runs in plain tfjs,
// a folder saved by an earlier version still loads, the presets' shapes and sizes.
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { AttentionPooling } from '../src/train/attention';
import { modelFolders } from '../src/eval/model';
import { loadModelFolder, saveModelFolder, type Preprocessing } from '../src/train/checkpoint';
import { setDropoutStep, StepDropout } from '../src/train/dropout';
import { buildModel, MODEL_PRESETS } from '../src/train/model';
import { selectBackend } from '../src/backend';
import { orthogonalMatrix } from '../src/train/initializers';
import { maxAbsDiff, ROOT, tempDir } from './helpers/paths';
import { predictWithStockTfjs } from './helpers/stock-tfjs';

const work = tempDir('model');
const PREPROCESSING = {
  featureConfig: {}, crop: { offsetSeconds: 0, durationSeconds: 0.4 }, frames: 40, coeffs: 12,
  labels: ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'],
  normalisation: { mean: Array(12).fill(0), std: Array(12).fill(1) }, sizes: MODEL_PRESETS.small,
} as unknown as Preprocessing;

beforeAll(async () => {
  await selectBackend('cpu');
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

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

test('the small model saves to a folder of stock tfjs classes only, which plain @tensorflow/tfjs runs without ser-native', async () => {
  const model = buildModel({ frames: 40, coeffs: 12, classes: 8, sizes: MODEL_PRESETS.small, seed: 5 });
  const x = tf.randomNormal([3, 40, 12, 1], 0, 1, 'float32', 2);
  const before = model.predict(x) as tf.Tensor;
  expect(before.shape).toEqual([3, 8]);
  for (const s of before.sum(1).dataSync()) expect(s).toBeCloseTo(1, 5);
  const dir = path.join(work, 'small-model');
  await saveModelFolder(dir, model, PREPROCESSING);
  const classes = new Set([...fs.readFileSync(path.join(dir, 'model.json'), 'utf8').matchAll(/"class_name": *"(\w+)"/g)].map((m) => m[1]));
  for (const custom of ['StepDropout', 'SeededOrthogonal', 'AttentionPooling']) expect(classes).not.toContain(custom);
  expect(classes).toContain('Dropout');
  const stock = predictWithStockTfjs(dir, Float32Array.from(x.dataSync()), x.shape, path.join(work, 'x.bin'));
  expect(stock.loaded).toEqual([]);
  expect(maxAbsDiff(stock.probabilities, before.dataSync())).toBeLessThan(1e-6);
  // And this package loads its own folder back to the same predictions.
  const loaded = await loadModelFolder(dir);
  expect(Array.from((loaded.model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(before.dataSync()));
});

test('a model folder saved by ser-native 0.1.0 (AttentionPooling and StepDropout layers) still loads and predicts as it did', async () => {
  const dir = path.join(ROOT, 'test', 'fixtures', 'legacy-model');
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { probabilities: number[] };
  const { model, preprocessing } = await loadModelFolder(dir);
  expect(model.layers.some((l) => l.getClassName() === 'AttentionPooling')).toBe(true);
  const x = tf.tensor4d(Float32Array.from({ length: 240 }, (_, i) => Math.sin(i * 0.37) * 2), [1, 20, 12, 1]);
  expect(maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), expected.probabilities)).toBeLessThan(1e-6);
  expect(preprocessing.labels).toHaveLength(8);
});

test('the seed preset has 798,760 parameters on 301 x 40 input (as its Keras twin); the same seed gives the same weights', () => {
  const seed = buildModel({ frames: 301, coeffs: 40, classes: 8, sizes: MODEL_PRESETS.seed, seed: 1 });
  expect(seed.countParams()).toBe(798_760);
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

test('a run is named by its folder, one fold folder (fold-N/, its model alone) or a model folder; anything else is refused by name', () => {
  const fold = path.join(work, 'folders', 'fold-2');
  fs.mkdirSync(path.join(fold, 'model'), { recursive: true });
  fs.writeFileSync(path.join(fold, 'model', 'model.json'), '{}');
  expect(modelFolders(fold)).toEqual([path.join(fold, 'model')]);
  expect(modelFolders(path.join(fold, 'model'))).toEqual([path.join(fold, 'model')]);
  const empty = path.join(work, 'folders', 'empty');
  fs.mkdirSync(empty, { recursive: true });
  expect(() => modelFolders(empty)).toThrow(`${empty}: neither a run folder (folds.json), a fold's folder (model/model.json) nor a model folder (model.json)`);
});
