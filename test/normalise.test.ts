// Normalisation (--normalize global|speaker|utterance) and results over seeds (--seeds): speaker moments
// come from each speaker's own original rows only, training and evaluation and prediction standardise
// alike, seed-K/ folders are evaluated as mean and std over seeds and averaged by predict, and an
// interrupted seed resumes to the same weights.
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { AbortError, loadModel, predictFiles, readSpeakerMap, shutdown, train } from '../src/index';
import { MomentAccumulator, rowMoments } from '../src/features/normalise';
import { native } from '../src/native';
import { CacheReader, fillBatch, fitNormalisation, fitSpeakerMoments } from '../src/train/dataset';
import { CLI, maxAbsDiff, tempDir } from './helpers/paths';

const work = tempDir('normalise');
afterAll(async () => {
  await shutdown();
  fs.rmSync(work, { recursive: true, force: true });
});

function ser(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function expectOk(run: SpawnSyncReturns<string>): SpawnSyncReturns<string> {
  if (run.status !== 0) throw new Error(`exit ${run.status} ${run.signal ?? ''}: ${run.stderr}`);
  return run;
}

/** Per-coefficient mean and (population) std of rows, two-pass in double: the reference. */
function referenceMoments(rows: Float32Array[], coeffs: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(coeffs).fill(0);
  const variance = new Array<number>(coeffs).fill(0);
  let frames = 0;
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) mean[i % coeffs] += row[i];
    frames += row.length / coeffs;
  }
  for (let c = 0; c < coeffs; c++) mean[c] /= frames;
  for (const row of rows) for (let i = 0; i < row.length; i++) variance[i % coeffs] += (row[i] - mean[i % coeffs]) ** 2;
  return { mean, std: variance.map((v) => Math.sqrt(v / frames)) };
}

test('moments: the accumulator equals a two-pass reference; a coefficient that never moves keeps unit scale', () => {
  const coeffs = 5;
  const rows = [0, 1, 2].map((r) => Float32Array.from({ length: 7 * coeffs }, (_, i) => (i % coeffs === 4 ? 2 : Math.sin(i * 0.7 + r) * (1 + (i % coeffs)) + 3 * r)));
  const accumulator = new MomentAccumulator(coeffs);
  for (const row of rows) accumulator.add(row);
  const ours = accumulator.moments();
  const reference = referenceMoments(rows, coeffs);
  expect(maxAbsDiff(ours.mean, reference.mean)).toBeLessThan(1e-5);
  expect(maxAbsDiff(ours.std.subarray(0, 4), reference.std.slice(0, 4))).toBeLessThan(1e-5);
  expect(ours.std[4]).toBe(1);
  expect(maxAbsDiff(rowMoments(rows[1], coeffs).mean, referenceMoments([rows[1]], coeffs).mean)).toBeLessThan(1e-5);
  expect(() => accumulator.add(new Float32Array(coeffs + 1))).toThrow(/not whole frames/);
});

test('standardising and mixing in the addon give the bits of their JavaScript definitions; bad shapes are refused', () => {
  // Values from a seeded generator across magnitudes (cepstra near zero, log energies near -100), with
  // moments far from them, and a zero, a negative zero and a subnormal among them.
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const coeffs = 13;
  const frames = 37;
  const rows = 6;
  const values = new Float32Array(rows * frames * coeffs).map(() => (next() - 0.5) * 10 ** Math.floor(next() * 8 - 3));
  values.set([0, -0, 1e-42, 3.4e38, -123.456]);
  const mean = new Float32Array(coeffs).map(() => (next() - 0.7) * 200);
  const std = new Float32Array(coeffs).map(() => 1e-6 + next() * 30);
  // The definitions the addon's loops replace.
  const standardised = values.slice();
  for (let offset = 0; offset < standardised.length; offset += coeffs) {
    for (let c = 0; c < coeffs; c++) standardised[offset + c] = (standardised[offset + c] - mean[c]) / std[c];
  }
  const partner = Int32Array.from([3, 0, 5, 1, 1, 2]);
  const lambda = 0.3172;
  const own = Math.fround(lambda);
  const other = Math.fround(1 - lambda);
  const width = frames * coeffs;
  const mixed = new Float32Array(standardised.length);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < width; i++) mixed[r * width + i] = Math.fround(standardised[r * width + i] * own) + Math.fround(standardised[partner[r] * width + i] * other);
  }

  // One row at an offset inside a larger buffer, as the batch worker standardises them.
  const batch = values.slice();
  for (let r = 0; r < rows; r++) native.standardiseFrames(batch.subarray(r * width, (r + 1) * width), coeffs, mean, std);
  expect(Buffer.from(batch.buffer).equals(Buffer.from(standardised.buffer))).toBe(true);
  const out = new Float32Array(batch.length).fill(NaN);
  native.mixRows(batch, rows, partner, own, other, out);
  expect(Buffer.from(out.buffer).equals(Buffer.from(mixed.buffer))).toBe(true);

  expect(() => native.standardiseFrames(new Float32Array(14), coeffs, mean, std)).toThrow(/not a whole number of frames/);
  expect(() => native.standardiseFrames(new Float32Array(26), coeffs, mean.subarray(1), std)).toThrow(/mean and std must hold coeffs/);
  expect(() => native.standardiseFrames(new Float32Array(26), 0, mean, std)).toThrow(/coeffs must be at least 1/);
  expect(() => native.mixRows(batch, rows, Int32Array.from([0, 1, 2, 3, 4, 6]), own, other, out)).toThrow(/partner\[5\] is not a row/);
  expect(() => native.mixRows(batch, rows, Int32Array.from([0, 1]), own, other, out)).toThrow(/one row for each/);
  expect(() => native.mixRows(batch, rows, partner, own, other, new Float32Array(3))).toThrow(/must hold/);
  expect(() => native.mixRows(batch, 5, partner, own, other, out)).toThrow(/not 5 rows of equal width/);
  expect(() => native.mixRows(batch, rows, Array.from(partner) as unknown as Int32Array, own, other, out)).toThrow(/Int32Array/);
  const shared = new Float32Array(batch.length + width);
  expect(() => native.mixRows(shared.subarray(0, batch.length), rows, partner, own, other, shared.subarray(width))).toThrow(/overlap/);
  expect(() => native.mixRows(batch, rows, partner, 1e39, other, out)).toThrow(/finite floats/);
  expect(() => native.mixRows(batch, rows, partner, own, NaN, out)).toThrow(/other must be finite/);
  // partner sharing out's memory: the rows written do not change which rows are read (checked on a copy).
  const both = new ArrayBuffer(batch.byteLength + rows * 4);
  const partnerInOut = new Int32Array(both, 0, rows);
  partnerInOut.set(partner);
  const outAfter = new Float32Array(both, 0, batch.length);
  native.mixRows(batch, rows, partnerInOut, own, other, outAfter);
  expect(Buffer.from(both, 0, batch.byteLength).equals(Buffer.from(mixed.buffer))).toBe(true);
});

describe('on a synthesised corpus with augmented copies', () => {
  const corpus = path.join(work, 'synth');
  const cache = path.join(work, 'cache');
  const speakerTwoOnly = path.join(work, 'synth-02');
  const speakerTwoCache = path.join(work, 'cache-02');
  const prepareArgs = ['--offset', '0.1', '--duration', '1.2', '--n-mfcc', '16'];
  const testSpeakers = ['ravdess:05', 'ravdess:06'];
  const trainArgs = [
    '--model', 'small', '--epochs', '3', '--batch-size', '16', '--lr', '3e-3', '--test-speakers', testSpeakers.join(','),
    '--val-speakers', 'ravdess:04', '--backend', 'native', '--threads', '1',
  ];
  const run = path.join(work, 'run-speaker');

  beforeAll(() => {
    expectOk(ser(['synth', corpus, '--corpus', 'ravdess', '--speakers', '6', '--clips-per-class', '2', '--seconds', '1.5', '--seed', '9']));
    expectOk(ser(['prepare', corpus, '-o', cache, '--augment', 'pitch,noise', '--augment-probability', '1', ...prepareArgs]));
    fs.cpSync(path.join(corpus, 'Actor_02'), path.join(speakerTwoOnly, 'Actor_02'), { recursive: true });
    expectOk(ser(['prepare', speakerTwoOnly, '-o', speakerTwoCache, ...prepareArgs]));
    expectOk(ser(['train', cache, '-o', run, '--normalize', 'speaker', '--seeds', '2', ...trainArgs]));
  }, 240_000);

  test('per-speaker moments use only that speaker\'s own original rows', () => {
    const reader = new CacheReader(cache);
    const { items, coeffs } = reader.manifest;
    expect(items.some((item) => item.augmented)).toBe(true);
    const moments = fitSpeakerMoments(reader);
    const speakers = [...new Set(items.map((item) => item.speaker))].sort();
    expect([...moments.keys()].sort()).toEqual(speakers);
    for (const speaker of speakers) {
      const own = items.map((item, i) => ({ item, i })).filter(({ item }) => item.speaker === speaker && !item.augmented).map(({ i }) => reader.row(i).slice());
      const reference = referenceMoments(own, coeffs);
      const ours = moments.get(speaker)!;
      expect(maxAbsDiff(ours.mean, reference.mean)).toBeLessThan(1e-4);
      expect(maxAbsDiff(ours.std, reference.std)).toBeLessThan(1e-4);
    }
    // The same speaker's moments from a cache that holds no other speaker: the same bits.
    const alone = fitSpeakerMoments(new CacheReader(speakerTwoCache)).get('ravdess:02')!;
    expect(Array.from(alone.mean)).toEqual(Array.from(moments.get('ravdess:02')!.mean));
    expect(Array.from(alone.std)).toEqual(Array.from(moments.get('ravdess:02')!.std));
    // Voices differ, so the per-speaker moments really are per speaker.
    expect(maxAbsDiff(moments.get('ravdess:01')!.mean, moments.get('ravdess:02')!.mean)).toBeGreaterThan(0.5);
  });

  test('batches: speaker-normalised rows of each speaker have zero mean and unit std; utterance-normalised rows each on their own', () => {
    const reader = new CacheReader(cache);
    const { items, frames, coeffs } = reader.manifest;
    const all = items.map((_, i) => i);
    for (const mode of ['speaker', 'utterance'] as const) {
      const norm = fitNormalisation(reader, all, mode);
      const values = fillBatch(reader, { members: all, mixup: null }, 8, norm).features;
      const rowSize = frames * coeffs;
      const rowsOf = (members: number[]) => members.map((i) => values.slice(i * rowSize, (i + 1) * rowSize) as Float32Array);
      const groups = mode === 'speaker'
        ? [...new Set(items.map((item) => item.speaker))].map((s) => all.filter((i) => items[i].speaker === s && !items[i].augmented))
        : all.map((i) => [i]);
      for (const group of groups) {
        const moments = referenceMoments(rowsOf(group), coeffs);
        expect(Math.max(...moments.mean.map(Math.abs))).toBeLessThan(1e-3);
        expect(Math.max(...moments.std.map((s) => Math.abs(s - 1)))).toBeLessThan(1e-3);
      }
    }
    // Global: one set of moments for every row, fitted on the training rows.
    const global = fitNormalisation(reader, all.slice(0, 10));
    expect(global.mode).toBe('global');
    expect(maxAbsDiff(global.mean, referenceMoments(all.slice(0, 10).map((i) => reader.row(i).slice()), coeffs).mean)).toBeLessThan(1e-4);
  });

  test('--seeds 2: seed-K folders, the mode recorded, eval reports mean and std over seeds, predict averages them', async () => {
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.settings).toMatchObject({ normalize: 'speaker', seeds: 2 });
    const weights = [1, 2].map((k) => fs.readFileSync(path.join(run, `seed-${k}`, 'model', 'weights.bin')));
    expect(weights[0].equals(weights[1])).toBe(false);
    const preprocessing = JSON.parse(fs.readFileSync(path.join(run, 'seed-1', 'model', 'preprocessing.json'), 'utf8'));
    expect(preprocessing.normalisation.mode).toBe('speaker');

    const evaluation = JSON.parse(expectOk(ser(['eval', run, '--json', '--backend', 'native', '--threads', '1'])).stdout) as {
      seeds: number; uar: { mean: number; std: number; values: number[] };
      folds: { seed: number; fold: number; rows: number; uar: number; baseline: { uar: number; rows: number } }[];
    };
    expect(evaluation.seeds).toBe(2);
    expect(evaluation.folds.map((f) => [f.seed, f.fold])).toEqual([[1, 1], [2, 1]]);
    expect(evaluation.uar.values).toEqual(evaluation.folds.map((f) => f.uar));
    expect(evaluation.uar.mean).toBeCloseTo((evaluation.folds[0].uar + evaluation.folds[1].uar) / 2, 12);
    expect(evaluation.folds[0].baseline).toEqual(evaluation.folds[1].baseline);
    expect(evaluation.folds[0].baseline.rows).toBe(evaluation.folds[0].rows);
    const report = fs.readFileSync(path.join(run, 'report.html'), 'utf8');
    expect(report).toMatch(/2 seeds per split/);

    // Prediction with each test speaker's files named: the seed's model gives the confusion matrix of
    // eval's speaker-map scoring.
    const testFiles = fs.readdirSync(corpus, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.wav') && testSpeakers.some((s) => f.startsWith(`Actor_${s.slice(-2)}/`))).sort();
    const mapFile = path.join(work, 'speakers.csv');
    fs.writeFileSync(mapFile, `# file,speaker\n${testFiles.map((f) => `synth/${f},${f.slice(0, 8)}`).join('\n')}\n`);
    const speakers = readSpeakerMap(mapFile);
    expect(speakers.size).toBe(testFiles.length);
    type Scored = { confusion: number[][]; labels: string[] };
    const metrics = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8')) as { folds: { seed: number; metrics: Scored; scorings: { speakerMap: Scored } }[] };
    const seedOne = await loadModel(path.join(run, 'seed-1', 'model'), { backend: 'native', threads: 1 });
    const warnings: string[] = [];
    const files = testFiles.map((f) => path.join(corpus, f));
    const predicted = await predictFiles(seedOne, files, undefined, { speakers, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    const labels = metrics.folds[0].metrics.labels;
    const confusion = labels.map(() => labels.map(() => 0));
    predicted.forEach((p, i) => {
      if ('error' in p) throw new Error(p.error);
      const truth = Number(path.basename(testFiles[i]).split('-')[2]) - 1;
      confusion[truth][labels.indexOf(p.emotion)]++;
    });
    expect(confusion).toEqual(metrics.folds.find((f) => f.seed === 1)!.scorings.speakerMap.confusion);
    // Without the map every file stands alone, and the caller is told so.
    await predictFiles(seedOne, files.slice(0, 2), undefined, { warn: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/without a speaker map each file is standardised by its own statistics/);
    seedOne.dispose();

    // The run's model averages its seeds.
    const both = await loadModel(run, { backend: 'native', threads: 1 });
    expect(both.folds).toBe(2);
    expect(both.normalisation).toBe('speaker');
    const rows = await Promise.all(files.slice(0, 4).map((f) => both.featureRow(f)));
    const features = new Float32Array(rows.length * rows[0].length);
    rows.forEach((r, i) => features.set(r, i * r.length));
    const names = files.slice(0, 4).map((f) => speakers.get(f));
    const averaged = await both.predictRows(features, rows.length, names);
    const single = await Promise.all([1, 2].map(async (k) => {
      const model = await loadModel(path.join(run, `seed-${k}`, 'model'), { backend: 'native', threads: 1 });
      const p = await model.predictRows(features, rows.length, names);
      model.dispose();
      return p;
    }));
    expect(maxAbsDiff(averaged, averaged.map((_, i) => (single[0][i] + single[1][i]) / 2))).toBeLessThan(1e-6);

    // eval's seed-averaged figure is what ser predict gives with the run (both seeds averaged), each
    // test file alone; a run of one seed has none.
    const alone = await predictFiles(both, files, undefined, { warn: () => undefined });
    const averagedConfusion = labels.map(() => labels.map(() => 0));
    alone.forEach((p, i) => {
      if ('error' in p) throw new Error(p.error);
      averagedConfusion[Number(path.basename(testFiles[i]).split('-')[2]) - 1][labels.indexOf(p.emotion)]++;
    });
    const withAverage = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8')) as { seedAverage: { folds: { fold: number; metrics: Scored }[]; summary: { uar: { values: number[] } } } };
    expect(withAverage.seedAverage.folds.map((a) => a.fold)).toEqual([1]);
    expect(withAverage.seedAverage.folds[0].metrics.confusion).toEqual(averagedConfusion);
    // Not one seed's figure: the average differs from at least one of them.
    const perSeed = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8')) as { folds: { metrics: Scored }[] };
    expect(perSeed.folds.some((f) => JSON.stringify(f.metrics.confusion) !== JSON.stringify(averagedConfusion))).toBe(true);
    expect(withAverage.seedAverage.summary.uar.values).toHaveLength(1);
    expect(report).toMatch(/each fold's 2 seeds' probabilities averaged/);

    // A timeline takes its recording as one speaker: the moments of its non-silent windows, measured in
    // a first pass, standardise every window.
    const recording = files[0];
    const timeline = await both.timeline(recording, { windowSeconds: 0.6, hopSeconds: 0.3 });
    expect(timeline.windows.length).toBeGreaterThan(2);
    expect(timeline.windows.filter((w) => !w.silent).length).toBeGreaterThan(1);
    const windowRows = timeline.windows.map((w) => {
      const samples = native.decodeWav(fs.readFileSync(recording));
      expect(samples.sampleRate).toBe(48000);
      const audio = native.resample(samples.samples, 48000, 16000);
      const crop = new Float32Array(Math.round(1.2 * 16000));
      crop.set(audio.subarray(Math.round(w.start * 16000), Math.round(w.end * 16000)));
      return native.computeFeatures(crop, both.preprocessing.featureConfig).data;
    });
    const speech = new MomentAccumulator(16);
    timeline.windows.forEach((w, i) => {
      if (!w.silent) speech.add(windowRows[i]);
    });
    const stacked = new Float32Array(windowRows.length * windowRows[0].length);
    windowRows.forEach((r, i) => stacked.set(r, i * r.length));
    const expected = await both.predictRows(stacked, windowRows.length, windowRows.map(() => 'one'), new Map([['one', speech.moments()]]));
    timeline.windows.forEach((w, i) => {
      if (w.silent) return;
      both.labels.forEach((label, c) => expect(Math.abs((w.probabilities as Record<string, number>)[label] - expected[i * both.labels.length + c])).toBeLessThan(1e-4));
    });
    both.dispose();

    // The CLI says it too, and refuses what cannot work.
    const cliWithout = expectOk(ser(['predict', run, files[0], '--backend', 'native', '--threads', '1']));
    expect(cliWithout.stderr).toMatch(/warning: .*speaker normalisation; without a speaker map/);
    const cliWith = expectOk(ser(['predict', run, files[0], '--speaker-map', mapFile, '--backend', 'native', '--threads', '1']));
    expect(cliWith.stderr).not.toMatch(/warning/);
    const badMap = path.join(work, 'bad.csv');
    fs.writeFileSync(badMap, 'only-a-name\n');
    const refused = ser(['predict', run, files[0], '--speaker-map', badMap]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/bad\.csv.*line 1: expected "file,speaker"/);
  }, 180_000);

  test('an interrupted seed (with its weight average) resumes to the weights of an uninterrupted run', async () => {
    const options = {
      cache, model: 'small' as const, epochs: 3, batchSize: 16, lr: 3e-3, testSpeakers, valSpeakers: ['ravdess:04'],
      backend: 'native' as const, threads: 1, normalize: 'utterance' as const, seeds: 2, weightAverage: 0.9,
    };
    const straight = path.join(work, 'run-straight');
    await train({ ...options, output: straight });
    const output = path.join(work, 'run-interrupted');
    const controller = new AbortController();
    await expect(train({
      ...options, output, signal: controller.signal,
      onEpoch: ({ seed, record }) => {
        if (seed === 2 && record.epoch === 1) controller.abort();
      },
    })).rejects.toThrow(AbortError);
    expect(fs.readFileSync(path.join(output, 'seed-2', 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    const resumed = await train({ output, resume: true, backend: 'native', threads: 1 });
    expect(resumed.folds.map((f) => [f.seed, f.epochs])).toEqual([[1, 3], [2, 3]]);
    for (const k of [1, 2]) {
      const file = (run: string) => fs.readFileSync(path.join(run, `seed-${k}`, 'model', 'weights.bin'));
      expect([k, file(output).equals(file(straight))]).toEqual([k, true]);
    }
    await expect(train({ ...options, output: path.join(work, 'bad'), normalize: 'cepstral' as never })).rejects.toThrow(/normalize \(--normalize\) must be one of global, speaker, utterance/);
    await expect(train({ ...options, output: path.join(work, 'bad'), seeds: 0 })).rejects.toThrow(/seeds \(--seeds\)/);
    await expect(train({ ...options, output: path.join(work, 'bad'), weightAverage: 1 })).rejects.toThrow(/weightAverage \(--weight-average\) must be in \[0, 1\)/);
  }, 180_000);
});
