// Batches from a real cache: rows equal the NPY rows, normalisation fitted on training rows only,
// seeded order, mixup as a convex combination of features and labels alike.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { EMOTIONS } from '../src/data/labels';
import { splitBySpeaker } from '../src/data/splits';
import { CacheReader, epochBatches, epochPlan, fillBatch, fitNormalisation } from '../src/train/dataset';
import { loadNpy } from './helpers/npy-reader';
import { CLI, tempDir } from './helpers/paths';
import { writeDataset } from './helpers/dataset';

const work = tempDir('dataset');
const cache = path.join(work, 'cache');
beforeAll(() => {
  writeDataset(path.join(work, 'data'), { ravdessActors: 3, cremaActors: 3 });
  const run = spawnSync(process.execPath, [CLI, 'prepare', path.join(work, 'data'), '-o', cache, '--augment', 'noise', '--copies', '1', '--shard-rows', '5', '--duration', '1']);
  expect(run.status).toBe(0);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('rows are the shards\' rows and labels the manifest\'s emotions, read one at a time or many in any order', () => {
  const reader = new CacheReader(cache);
  const { manifest } = reader;
  for (let item = 0; item < manifest.items.length; item += 3) {
    const { shard, row } = manifest.items[item];
    const npy = loadNpy(path.join(cache, manifest.shards[shard].file));
    const size = manifest.frames * manifest.coeffs;
    expect(Array.from(reader.row(item))).toEqual(Array.from(npy.data.subarray(row * size, (row + 1) * size)));
    expect(EMOTIONS[reader.label(item)]).toBe(manifest.items[item].emotion);
  }
  // Many rows at once, in an order that jumps between shards and repeats a row.
  const size = manifest.frames * manifest.coeffs;
  const picked = [7, 0, 12, 1, 7, manifest.items.length - 1];
  const many = reader.rows(picked);
  picked.forEach((item, k) => expect(Array.from(many.subarray(k * size, (k + 1) * size))).toEqual(Array.from(reader.row(item))));
  const visited: number[] = [];
  reader.forEachRow(picked, (row, item) => {
    visited.push(item);
    expect(Array.from(row)).toEqual(Array.from(reader.row(item)));
  }, 2);
  // Shard order: each shard's rows together, front to back.
  expect(visited.map((i) => manifest.items[i].shard)).toEqual([...visited.map((i) => manifest.items[i].shard)].sort((a, b) => a - b));
  reader.close();
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
  const epochValues = Float32Array.from(batches.flatMap((b) => Array.from(b.features)));
  const mean = epochValues.reduce((a, v) => a + v, 0) / epochValues.length;
  expect(Math.abs(mean)).toBeLessThan(1e-3);
});

test('mixup mixes features and labels by the same lambda with a partner row', () => {
  const reader = new CacheReader(cache);
  const items = reader.manifest.items.map((_, i) => i);
  const norm = fitNormalisation(reader, items);
  const options = { batchSize: 6, seed: 5, mixupAlpha: 0.4, classes: 8 };
  const [plan] = epochPlan(items, options, 0);
  expect(plan.mixup).not.toBeNull();
  const { lambda, partner } = plan.mixup as { lambda: number; partner: Int32Array };
  expect(lambda).toBeGreaterThan(0);
  expect(lambda).toBeLessThan(1);
  const [batch] = epochBatches(reader, items, norm, options, 0);
  const plain = fillBatch(reader, { ...plan, mixup: null }, 8, norm);
  const rowSize = reader.rowSize;
  for (let b = 0; b < plan.members.length; b++) {
    for (let c = 0; c < 8; c++) {
      expect(batch.labels[b * 8 + c]).toBeCloseTo(lambda * plain.labels[b * 8 + c] + (1 - lambda) * plain.labels[partner[b] * 8 + c], 6);
    }
    for (let i = 0; i < rowSize; i += 7) {
      expect(Math.abs(batch.features[b * rowSize + i] - (lambda * plain.features[b * rowSize + i] + (1 - lambda) * plain.features[partner[b] * rowSize + i]))).toBeLessThan(1e-5);
    }
    expect(batch.labels.subarray(b * 8, (b + 1) * 8).reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
  }
});
