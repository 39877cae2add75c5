// The training data path (issue: bundle-scale training): rows in memory or streamed through a bounded
// shuffle window, every training row once per epoch in an order that is a pure function of (seed,
// epoch), the window's memory bounded (measured through the reader), the batch worker giving the same
// batches as the assembler on this thread, and in-memory and whole-window streaming training to the
// same bytes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { epochSchedule } from '../src/data/epoch-order';
import { featureLayout, ShardRows } from '../src/data/rows';
import { BatchAssembler, type AssemblerInput, type Batch, type RowResidence } from '../src/train/batch-assembler';
import { CacheReader } from '../src/train/dataset';
import { rowMoments } from '../src/features/normalise';
import { trainRun, type TrainSettings } from '../src/train/run';
import { assemblerInput as inputOf, chooseResidence, CacheSource, prefetch } from '../src/train/sources';
import { MODEL_PRESETS } from '../src/train/model';
import { CLI, tempDir } from './helpers/paths';
import { writeDataset } from './helpers/dataset';

const work = tempDir('data-path');
const cache = path.join(work, 'cache');
beforeAll(() => {
  writeDataset(path.join(work, 'data'), { ravdessActors: 4, cremaActors: 3, seconds: 1 });
  // Small shards: the cache spans many, as the bundle's does.
  const run = spawnSync(process.execPath, [CLI, 'prepare', path.join(work, 'data'), '-o', cache, '--offset', '0', '--duration', '0.4', '--n-mfcc', '12', '--augment', 'noise', '--copies', '1', '--shard-rows', '5']);
  expect(run.status).toBe(0);
}, 60_000);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const identity = (coeffs: number) => ({ mode: 'global' as const, mean: new Float32Array(coeffs), std: new Float32Array(coeffs).fill(1), speakers: new Map() });

function assemblerInput(reader: CacheReader, items: number[], residence: RowResidence, mixupAlpha = 0, seed = 3): AssemblerInput {
  return inputOf(reader, items, { batchSize: 4, seed, mixupAlpha, classes: 8 }, identity(reader.manifest.coeffs), residence);
}

/** Which cache item each batch row is, found by its features (every row of this cache is distinct). */
function identify(reader: CacheReader, items: number[], batches: Batch[]): number[] {
  const byBytes = new Map(items.map((item) => [Buffer.from(reader.row(item).buffer).toString('base64'), item]));
  expect(byBytes.size).toBe(items.length);
  return batches.flatMap((batch) => Array.from({ length: batch.size }, (_, b) => {
    const key = Buffer.from(batch.features.slice(b * reader.rowSize, (b + 1) * reader.rowSize).buffer).toString('base64');
    const item = byBytes.get(key);
    if (item === undefined) throw new Error('a batch row is not any training row');
    return item;
  }));
}

const trainItems = (reader: CacheReader) => reader.manifest.items.map((_, i) => i).filter((i) => i % 5 !== 2);

describe.each([
  ['memory', { mode: 'memory' } as RowResidence],
  ['stream, window of 7 rows', { mode: 'stream', windowRows: 7 } as RowResidence],
])('%s', (_name, residence) => {
  test('every training row exactly once per epoch; the same order for the same (seed, epoch), another for the next epoch', () => {
    const reader = new CacheReader(cache);
    expect(reader.manifest.shards.length).toBeGreaterThan(8);
    const items = trainItems(reader);
    const assembler = new BatchAssembler(assemblerInput(reader, items, residence));
    assembler.load();
    const epoch0 = identify(reader, items, [...assembler.epoch(0)]);
    expect([...epoch0].sort((a, b) => a - b)).toEqual(items);
    expect(identify(reader, items, [...assembler.epoch(0)])).toEqual(epoch0);
    const epoch1 = identify(reader, items, [...assembler.epoch(1)]);
    expect([...epoch1].sort((a, b) => a - b)).toEqual(items);
    expect(epoch1).not.toEqual(epoch0);
    // The order is the schedule's, which reads no data: a pure function of (seed, epoch, window).
    const window = residence.mode === 'stream' ? { rows: residence.windowRows, places: reader.manifest.items } : undefined;
    expect(epoch0).toEqual(epochSchedule(items, { batchSize: 4, seed: 3, mixupAlpha: 0, classes: 8 }, 0, window).order);
    // Another seed, another order.
    const other = new BatchAssembler(assemblerInput(reader, items, residence, 0, 4));
    expect(identify(reader, items, [...other.epoch(0)])).not.toEqual(epoch0);
    assembler.close();
    other.close();
    reader.close();
  });
});

test('rows read through a staging buffer, into a caller\'s buffer or chunk by chunk are the rows read directly; a buffer too small is refused', () => {
  const reader = new CacheReader(cache);
  const rows = new ShardRows(featureLayout(cache, reader.manifest));
  const shardRows = reader.manifest.shards[1].rows;
  expect(shardRows).toBeGreaterThan(2);
  const direct = new Float32Array(shardRows * reader.rowSize);
  rows.readRun(1, 0, shardRows, direct, 0);
  // A staging buffer of two rows and a half: the run goes through it in three pieces, at an offset.
  const staged = new Float32Array((shardRows + 1) * reader.rowSize).fill(-1);
  rows.readRunStaged(1, 0, shardRows, staged, reader.rowSize, new Float32Array(2.5 * reader.rowSize));
  expect(staged.subarray(0, reader.rowSize).every((v) => v === -1)).toBe(true);
  expect(staged.subarray(reader.rowSize)).toEqual(direct);
  expect(() => rows.readRunStaged(1, 0, shardRows, staged, 0, new Float32Array(reader.rowSize - 1))).toThrow(/holds no whole row/);
  expect(() => rows.readRunStaged(1, 0, shardRows, staged, 2 * reader.rowSize, new Float32Array(reader.rowSize))).toThrow(/overrun/);
  expect(() => rows.readRunStaged(1, 0, -1, staged, 0, new Float32Array(reader.rowSize))).toThrow(/outside shard 1/);
  expect(() => rows.readRunStaged(1, 1, shardRows, staged, 0, new Float32Array(reader.rowSize))).toThrow(/outside shard 1/);
  rows.close();

  const items = [7, 0, 12, 3, 21];
  const expected = items.map((item) => reader.row(item));
  const into = new Float32Array(6 * reader.rowSize).fill(-1);
  const got = reader.rows(items, into);
  expect(got.buffer).toBe(into.buffer);
  items.forEach((_, k) => expect(got.subarray(k * reader.rowSize, (k + 1) * reader.rowSize)).toEqual(expected[k]));
  expect(into.subarray(5 * reader.rowSize).every((v) => v === -1)).toBe(true);
  expect(() => reader.rows(items, new Float32Array(4 * reader.rowSize))).toThrow(/do not fit/);
  // Chunks of two rows share one buffer: each visit sees its own row.
  const seen = new Map<number, Float32Array>();
  reader.forEachRow(items, (row, item) => seen.set(item, row.slice()), 2);
  items.forEach((item, k) => expect(seen.get(item)).toEqual(expected[k]));
  reader.close();
});

test('streaming holds at most the window\'s rows, measured through the reader, and reads each row once per epoch', () => {
  const reader = new CacheReader(cache);
  const items = trainItems(reader);
  for (const windowRows of [1, 7, 19]) {
    const assembler = new BatchAssembler(assemblerInput(reader, items, { mode: 'stream', windowRows }));
    let batches = 0;
    for (const batch of assembler.epoch(0)) {
      batches++;
      expect(batch.size).toBeLessThanOrEqual(4);
      expect(assembler.residentRows).toBeLessThanOrEqual(windowRows);
    }
    expect(batches).toBe(Math.ceil(items.length / 4));
    expect(assembler.peakResidentRows).toBe(Math.min(windowRows, items.length));
    expect(assembler.residentRows).toBe(0);
    assembler.close();
  }
  // In memory: every training row, once.
  const memory = new BatchAssembler(assemblerInput(reader, items, { mode: 'memory' }));
  memory.load();
  expect(memory.residentRows).toBe(items.length);
  [...memory.epoch(0)];
  expect(memory.peakResidentRows).toBe(items.length);
  memory.close();
  reader.close();
});

test('a window that holds every row gives the in-memory epoch, batch for batch, mixup included', () => {
  const reader = new CacheReader(cache);
  const items = trainItems(reader);
  const memory = new BatchAssembler(assemblerInput(reader, items, { mode: 'memory' }, 0.4));
  const stream = new BatchAssembler(assemblerInput(reader, items, { mode: 'stream', windowRows: items.length + 3 }, 0.4));
  for (const epoch of [0, 1]) {
    const a = [...memory.epoch(epoch)];
    const b = [...stream.epoch(epoch)];
    expect(b.length).toBe(a.length);
    a.forEach((batch, k) => {
      expect(Buffer.from(b[k].features.buffer).equals(Buffer.from(batch.features.buffer))).toBe(true);
      expect(Array.from(b[k].labels)).toEqual(Array.from(batch.labels));
    });
  }
  memory.close();
  stream.close();
  reader.close();
});

test('the budget decides: rows that fit are loaded, more are streamed through a window of the budget\'s rows; a recorded window is kept', () => {
  const rowBytes = 48_160;
  expect(chooseResidence(100, rowBytes, 10)).toEqual({ mode: 'memory' });
  expect(chooseResidence(25_000, rowBytes, 256)).toEqual({ mode: 'stream', windowRows: Math.floor((256 * 2 ** 20) / rowBytes) });
  expect(chooseResidence(25_000, rowBytes, 0.01)).toEqual({ mode: 'stream', windowRows: 1 });
  // A resumed member keeps what it began with, whatever the budget now.
  expect(chooseResidence(25_000, rowBytes, 100_000, 321)).toEqual({ mode: 'stream', windowRows: 321 });
  expect(chooseResidence(25_000, rowBytes, 1, null)).toEqual({ mode: 'memory' });
});

test('the batch worker serves the assembler\'s batches, in order, across epochs, and reports a bad shard by name', async () => {
  const reader = new CacheReader(cache);
  const items = trainItems(reader);
  const residence: RowResidence = { mode: 'stream', windowRows: 9 };
  const input = assemblerInput(reader, items, residence, 0.3);
  const local = new BatchAssembler(input);
  const source = await CacheSource.open(reader, items, input.options, input.norm, residence);
  try {
    for (const epoch of [0, 1, 2]) {
      const expected = [...local.epoch(epoch)];
      let k = 0;
      for await (const { batch } of prefetch(source.epoch(epoch), 2)) {
        expect(Buffer.from(batch.features.buffer).equals(Buffer.from(expected[k].features.buffer))).toBe(true);
        expect(Array.from(batch.labels)).toEqual(Array.from(expected[k].labels));
        // Handing the buffer back must not change what later batches hold.
        source.recycle(batch);
        k++;
      }
      expect(k).toBe(expected.length);
    }
    expect(source.peakResidentRows).toBeLessThanOrEqual(9);
  } finally {
    await source.close();
    local.close();
  }
  // A shard cut short: the worker's error names the file.
  const broken = path.join(work, 'broken');
  fs.cpSync(cache, broken, { recursive: true });
  const victim = path.join(broken, reader.manifest.shards[1].file);
  fs.truncateSync(victim, 200);
  const brokenReader = new CacheReader(broken);
  await expect(CacheSource.open(brokenReader, items, input.options, input.norm, { mode: 'memory' })).rejects.toThrow(victim);
  brokenReader.close();
  reader.close();
});

test('training with every row in memory and streaming through a window that holds them all end in the same weights', async () => {
  const reader = new CacheReader(cache);
  const settings: TrainSettings = {
    cache, modelPreset: 'small', sizes: { ...MODEL_PRESETS.small, convFilters: [4, 8], lstmUnits: 6, attentionUnits: 6 },
    epochs: 3, batchSize: 8, lr: 1e-3, mixupAlpha: 0.2, patience: 5, lrPatience: 2, lrFactor: 0.5, minLr: 1e-5, classWeights: false,
    seed: 2, split: 'speaker', valSpeakers: ['ravdess:04'], testSpeakers: ['crema:1003'], valFraction: 0.15, testFraction: 0.15, folds: null,
    onlineAugment: null, monitor: 'val_loss', normalize: 'speaker', seeds: 1, weightAverage: 0,
  };
  const lines: string[] = [];
  const train = (dir: string, residence: RowResidence) => trainRun({
    runDir: path.join(work, dir), backend: 'native', threads: 1, workers: 1, resume: false, settings, residence, log: (line) => lines.push(line),
  });
  await train('memory-run', { mode: 'memory' });
  await train('stream-run', { mode: 'stream', windowRows: reader.manifest.items.length });
  expect(lines.filter((l) => l.startsWith('data: '))).toEqual([
    expect.stringMatching(/in memory/),
    expect.stringMatching(new RegExp(`shuffle window of ${reader.manifest.items.length} rows`)),
  ]);
  for (const file of ['model/weights.bin', 'checkpoints/epoch-0003/weights.bin', 'checkpoints/epoch-0003/optimizer.bin']) {
    expect(fs.readFileSync(path.join(work, 'stream-run', file)).equals(fs.readFileSync(path.join(work, 'memory-run', file)))).toBe(true);
  }
  // The window each began with is in its checkpoints (a resume keeps it).
  const state = (dir: string) => JSON.parse(fs.readFileSync(path.join(work, dir, 'checkpoints', 'epoch-0003', 'checkpoint.json'), 'utf8')).state;
  expect(state('memory-run').shuffleWindowRows).toBeNull();
  expect(state('stream-run').shuffleWindowRows).toBe(reader.manifest.items.length);
  reader.close();
}, 120_000);

test('SpecAugment in the assembler: each row as without it but for masked zeros, the masks the same in every residence', () => {
  const reader = new CacheReader(cache);
  const items = trainItems(reader);
  const spec = { timeMasks: 2, maxFrames: 5, coeffMasks: 1, maxCoeffs: 3 };
  const plain = [...new BatchAssembler(assemblerInput(reader, items, { mode: 'memory' })).epoch(0)];
  const masked = [...new BatchAssembler({ ...assemblerInput(reader, items, { mode: 'memory' }), specAugment: spec }).epoch(0)];
  const streamed = [...new BatchAssembler({ ...assemblerInput(reader, items, { mode: 'stream', windowRows: items.length }), specAugment: spec }).epoch(0)];
  let zeros = 0;
  masked.forEach((batch, k) => {
    expect(Buffer.from(streamed[k].features.buffer).equals(Buffer.from(batch.features.buffer))).toBe(true);
    batch.features.forEach((v, i) => {
      if (v === 0 && plain[k].features[i] !== 0) zeros++;
      else expect(v).toBe(plain[k].features[i]);
    });
  });
  expect(zeros).toBeGreaterThan(0);
  reader.close();
});

test('--enrol-clips 1: every training row is standardised by the statistics of one other original clip of its speaker, drawn anew each epoch', () => {
  const reader = new CacheReader(cache);
  const items = trainItems(reader);
  const { coeffs } = reader.manifest;
  const norm = { mode: 'speaker' as const, mean: new Float32Array(coeffs), std: new Float32Array(coeffs).fill(1), speakers: new Map() };
  const input = { ...inputOf(reader, items, { batchSize: 4, seed: 3, mixupAlpha: 0, classes: 8 }, norm, { mode: 'memory' }), enrolClips: 1 };
  const assembler = new BatchAssembler(input);
  const order = epochSchedule(items, input.options, 0).order;
  const batches = [...assembler.epoch(0)];
  const rowSize = reader.rowSize;
  const drawn: number[] = [];
  order.forEach((item, p) => {
    const out = batches[Math.floor(p / 4)].features.subarray((p % 4) * rowSize, (p % 4 + 1) * rowSize);
    const raw = reader.row(item);
    const { speaker, id } = reader.manifest.items[item];
    const candidates = items.filter((o) => reader.manifest.items[o].speaker === speaker && !reader.manifest.items[o].augmented && reader.manifest.items[o].id !== id);
    const match = candidates.find((o) => {
      const m = rowMoments(reader.row(o), coeffs);
      return raw.every((v, i) => Math.abs((v - m.mean[i % coeffs]) / m.std[i % coeffs] - out[i]) < 1e-4);
    });
    expect(match).toBeDefined();
    drawn.push(match as number);
  });
  // Another epoch draws other clips for some rows.
  const again = [...new BatchAssembler(input).epoch(0)];
  expect(Buffer.from(again[0].features.buffer).equals(Buffer.from(batches[0].features.buffer))).toBe(true);
  // Epoch 1: the same rows in another order, some standardised by other drawn clips.
  const rowsByItem = (epoch: number) => {
    const out = new Map<number, string>();
    const schedule = epochSchedule(items, input.options, epoch).order;
    const made = [...new BatchAssembler(input).epoch(epoch)];
    schedule.forEach((item, p) => out.set(item, Buffer.from(made[Math.floor(p / 4)].features.slice((p % 4) * rowSize, (p % 4 + 1) * rowSize).buffer).toString('base64')));
    return out;
  };
  const first = rowsByItem(0);
  const second = rowsByItem(1);
  expect(items.filter((item) => first.get(item) !== second.get(item)).length).toBeGreaterThan(0);
  expect(new Set(drawn).size).toBeGreaterThan(3);
  reader.close();
});
