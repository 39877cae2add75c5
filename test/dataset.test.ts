// Batches from a real cache: rows equal the NPY rows, normalisation fitted on training rows only,
// seeded order, mixup as a convex combination of features and labels alike.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { EMOTIONS } from '../src/data/labels';
import { splitBySpeaker } from '../src/data/splits';
import { selectBackend } from '../src/backend';
import { batchTensors, CacheReader, epochBatches, fitNormalisation } from '../src/train/dataset';
import { loadNpy } from './helpers/npy-reader';
import { CLI, tempDir } from './helpers/paths';
import { writeDataset } from './helpers/dataset';

const work = tempDir('dataset');
const cache = path.join(work, 'cache');
beforeAll(async () => {
  await selectBackend('cpu');
  writeDataset(path.join(work, 'data'), { ravdessActors: 3, cremaActors: 3 });
  const run = spawnSync(process.execPath, [CLI, 'prepare', path.join(work, 'data'), '-o', cache, '--augment', 'noise', '--copies', '1', '--shard-rows', '5', '--duration', '1']);
  expect(run.status).toBe(0);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('rows are the shards\' rows and labels the manifest\'s emotions, across shard evictions', () => {
  const reader = new CacheReader(cache, 1);
  const { manifest } = reader;
  for (let item = 0; item < manifest.items.length; item += 3) {
    const { shard, row } = manifest.items[item];
    const npy = loadNpy(path.join(cache, manifest.shards[shard].file));
    const size = manifest.frames * manifest.coeffs;
    expect(Array.from(reader.row(item))).toEqual(Array.from(npy.data.subarray(row * size, (row + 1) * size)));
    expect(EMOTIONS[reader.label(item)]).toBe(manifest.items[item].emotion);
  }
});

test('normalisation comes from the training rows only; batches are seeded and cover the training rows once', () => {
  const reader = new CacheReader(cache);
  const split = splitBySpeaker(reader.manifest.items, { testSpeakers: ['crema:1001'], valSpeakers: ['ravdess:01'], seed: 1 });
  const norm = fitNormalisation(reader, split.train);
  const all = fitNormalisation(reader, reader.manifest.items.map((_, i) => i));
  expect(Array.from(norm.mean)).not.toEqual(Array.from(all.mean));
  const options = { batchSize: 4, seed: 3, mixupAlpha: 0, classes: 8 };
  const batches = [...epochBatches(reader, split.train, norm, options, 0)];
  expect(batches.reduce((n, b) => n + b.size, 0)).toBe(split.train.length);
  const again = [...epochBatches(reader, split.train, norm, options, 0)];
  expect(again.map((b) => Array.from(b.labels))).toEqual(batches.map((b) => Array.from(b.labels)));
  const nextEpoch = [...epochBatches(reader, split.train, norm, options, 1)];
  expect(nextEpoch.map((b) => Array.from(b.labels))).not.toEqual(batches.map((b) => Array.from(b.labels)));
  // Normalised training data: per-coefficient mean ~0 and std ~1 over the whole epoch.
  const { x } = batchTensors({ ...batches[0], features: Float32Array.from(batches.flatMap((b) => Array.from(b.features))), size: split.train.length, labels: new Float32Array(split.train.length * 8) }, norm, reader.manifest.frames, reader.manifest.coeffs);
  const moments = tf.moments(x, [0, 1, 2, 3]);
  expect(Math.abs(moments.mean.dataSync()[0])).toBeLessThan(1e-3);
});

test('mixup mixes features and labels by the same lambda with a partner row', () => {
  const reader = new CacheReader(cache);
  const items = reader.manifest.items.map((_, i) => i);
  const norm = fitNormalisation(reader, items);
  const [batch] = epochBatches(reader, items, norm, { batchSize: 6, seed: 5, mixupAlpha: 0.4, classes: 8 }, 0);
  expect(batch.mixup).not.toBeNull();
  const { lambda, partner } = batch.mixup as { lambda: number; partner: Int32Array };
  expect(lambda).toBeGreaterThan(0);
  expect(lambda).toBeLessThan(1);
  const { x, y } = batchTensors(batch, norm, reader.manifest.frames, reader.manifest.coeffs);
  const plain = batchTensors({ ...batch, mixup: null }, norm, reader.manifest.frames, reader.manifest.coeffs);
  const expectedY = tf.add(tf.mul(plain.y, lambda), tf.mul(tf.gather(plain.y, tf.tensor1d(partner, 'int32')), 1 - lambda));
  expect(tf.max(tf.abs(tf.sub(y, expectedY))).dataSync()[0]).toBeLessThan(1e-6);
  const expectedX = tf.add(tf.mul(plain.x, lambda), tf.mul(tf.gather(plain.x, tf.tensor1d(partner, 'int32')), 1 - lambda));
  expect(tf.max(tf.abs(tf.sub(x, expectedX))).dataSync()[0]).toBeLessThan(1e-5);
  for (const s of y.sum(1).dataSync()) expect(s).toBeCloseTo(1, 5);
});
