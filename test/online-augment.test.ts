// Online augmentation: workers compute, from the cache's kept audio, the same features the main thread
// computes for the same plan; batches repeat for the same seed and epoch and change between epochs;
// cached augmented copies pass through; prefetch keeps batches in order and counts the wait.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { drawAugmentPlan, specFromNames } from '../src/augment/spec';
import { CacheReader, epochPlan } from '../src/train/dataset';
import { OnlineAugmentSource, planSeed, prefetch } from '../src/train/sources';
import { augmentedRowFeatures } from '../src/workers/augment-task';
import { CLI, maxAbsDiff, tempDir } from './helpers/paths';
import { writeDataset } from './helpers/dataset';

const work = tempDir('online');
const cache = path.join(work, 'cache');
beforeAll(() => {
  writeDataset(path.join(work, 'data'), { ravdessActors: 2, cremaActors: 2, seconds: 1 });
  const run = spawnSync(process.execPath, [CLI, 'prepare', path.join(work, 'data'), '-o', cache, '--duration', '0.5', '--offset', '0', '--keep-audio', '--augment', 'noise', '--copies', '1', '--shard-rows', '7']);
  expect(run.status).toBe(0);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('worker rows equal the main thread\'s for the same plan; epochs differ; cached copies pass through', async () => {
  const reader = new CacheReader(cache);
  const items = reader.manifest.items.map((_, i) => i);
  // No mixup and an identity standardisation: the batches carry the workers' rows as computed.
  const options = { batchSize: 5, seed: 4, mixupAlpha: 0, classes: 8 };
  const spec = specFromNames(['noise', 'pitch', 'stretch']);
  const { coeffs: width } = reader.manifest;
  const identity = { mode: 'global' as const, mean: new Float32Array(width), std: new Float32Array(width).fill(1), speakers: new Map() };
  const source = new OnlineAugmentSource(reader, items, options, spec, 2, identity);
  try {
    const epoch0 = await Promise.all([...source.epoch(0)]);
    const again = await Promise.all([...source.epoch(0)]);
    const epoch1 = await Promise.all([...source.epoch(1)]);
    const plans = epochPlan(items, options, 0);
    expect(epoch0.map((b) => b.size)).toEqual(plans.map((p) => p.members.length));
    const { frames, coeffs, featureConfig } = reader.manifest;
    let fresh = 0;
    plans.forEach((plan, k) => {
      expect(Array.from(again[k].features)).toEqual(Array.from(epoch0[k].features));
      plan.members.forEach((item, b) => {
        const row = epoch0[k].features.subarray(b * reader.rowSize, (b + 1) * reader.rowSize);
        const expected = new Float32Array(reader.rowSize);
        if (reader.manifest.items[item].augmented) {
          expected.set(reader.row(item));
        } else {
          fresh++;
          augmentedRowFeatures(reader.audioRow(item), drawAugmentPlan(spec, planSeed(options.seed, 0, item)), { config: featureConfig, frames, coeffs }, expected);
          expect(maxAbsDiff(row, reader.row(item))).toBeGreaterThan(1e-3);
        }
        expect(Array.from(row)).toEqual(Array.from(expected));
        expect(epoch0[k].labels[b * 8 + reader.label(item)]).toBe(1);
      });
    });
    expect(fresh).toBe(items.length / 2);
    expect(Array.from(epoch1[0].features)).not.toEqual(Array.from(epoch0[0].features));
    // Prefetch yields the promised batches in order.
    const streamed = [];
    for await (const { batch, waitMs } of prefetch(source.epoch(0), 3)) {
      expect(waitMs).toBeGreaterThanOrEqual(0);
      streamed.push(batch);
    }
    expect(streamed.map((b) => Array.from(b.features))).toEqual(epoch0.map((b) => Array.from(b.features)));
  } finally {
    await source.close();
  }
}, 60_000);
