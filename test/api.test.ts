// The library API as code uses it: results equal to the synchronous paths and to the CLI, typed errors
// that name the file or option, one model kept across predictions, a free event loop while work runs,
// and abort that leaves prepare and train resumable to the same bytes.
import { spawnSync } from 'child_process';
import { getEventListeners } from 'events';
import * as fs from 'fs';
import * as path from 'path';

import {
  AbortError, augment, CacheConflictError, extractFeatures, extractFeaturesSync, InputFileError, loadModel, OptionsError,
  predictFiles, prepare, shutdown, synthesize, train, type AudioInput, type EmotionModel, type EmotionPrediction, type Prediction,
} from '../src/index';
import { applyAugmentPlan } from '../src/augment/spec';
import { planFromEffects } from '../src/clips/augment';
import { native } from '../src/native';
import { resolveFeatureConfig } from '../src/features/config';
import { synthesizeCorpus } from '../src/synth/corpus';
import { readManifest } from '../src/data/cache';
import { readNpy } from '../src/io/npy';
import { CLI, FIXTURES, ROOT, tempDir } from './helpers/paths';

const work = tempDir('api');
afterAll(async () => {
  await shutdown();
  fs.rmSync(work, { recursive: true, force: true });
});

const wavFile = path.join(FIXTURES, 'speech_a_source48k_s16.wav');

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

function sameFiles(a: string, b: string, pattern: RegExp): void {
  const names = listFiles(a).filter((f) => pattern.test(f));
  expect(names.length).toBeGreaterThan(0);
  expect(listFiles(b).filter((f) => pattern.test(f))).toEqual(names);
  for (const name of names) expect(fs.readFileSync(path.join(b, name)).equals(fs.readFileSync(path.join(a, name)))).toBe(true);
}

/** Runs `work` while a 5 ms timer ticks on this thread; returns the longest gap between ticks. */
async function longestTimerGap<T>(work: () => Promise<T>): Promise<{ result: T; gapMs: number; ticks: number }> {
  let last = performance.now();
  let gapMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gapMs = Math.max(gapMs, now - last);
    last = now;
    ticks++;
  }, 5);
  try {
    const result = await work();
    return { result, gapMs: Math.max(gapMs, performance.now() - last), ticks };
  } finally {
    clearInterval(timer);
  }
}

describe('features and augmentation', () => {
  test('extractFeatures of a file, WAV bytes and samples equals the synchronous path', async () => {
    const bytes = fs.readFileSync(wavFile);
    const expected = extractFeaturesSync(bytes, { nMfcc: 20 });
    for (const input of [wavFile, new Uint8Array(bytes)]) {
      const got = await extractFeatures(input, { nMfcc: 20 });
      expect([got.frames, got.coeffs, got.sourceSampleRate]).toEqual([expected.frames, expected.coeffs, 48000]);
      expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength))).toBe(true);
    }
    const decoded = native.decodeWav(bytes);
    const samples = decoded.samples.slice();
    const fromSamples = await extractFeatures({ samples, sampleRate: decoded.sampleRate }, { kind: 'logmel' });
    expect(Array.from(fromSamples.data)).toEqual(Array.from(extractFeaturesSync({ samples, sampleRate: decoded.sampleRate }, { kind: 'logmel' }).data));
    // The caller's samples were copied to the worker, not taken from it.
    expect(samples.length).toBe(decoded.samples.length);
  });

  test('extractFeatures of a file longer than one read block (the stream) equals the whole-file path', async () => {
    // Files up to 1 MiB are read whole and go through wavToFeatures; longer ones stream block by block.
    const long = path.join(work, 'long.wav');
    const samples = new Float32Array(15 * 48000).map((_, i) => 0.3 * Math.sin(i * 0.031) * Math.sin(i * 0.00041) + 0.02 * Math.sin(i * 1.7));
    const bytes = native.encodeWav16(samples, 48000);
    expect(bytes.length).toBeGreaterThan(1 << 20);
    fs.writeFileSync(long, bytes);
    const expected = extractFeaturesSync(new Uint8Array(bytes));
    const got = await extractFeatures(long);
    expect([got.frames, got.coeffs, got.seconds]).toEqual([expected.frames, expected.coeffs, 15]);
    expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength))).toBe(true);
    // A file cut inside its data chunk is refused by either path as truncated.
    const cut = path.join(work, 'cut.wav');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 1000));
    const shortCut = path.join(work, 'short-cut.wav');
    fs.writeFileSync(shortCut, fs.readFileSync(wavFile).subarray(0, 50_000));
    for (const file of [cut, shortCut]) {
      const error = await extractFeatures(file).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputFileError);
      expect((error as InputFileError).message).toContain(file);
      expect((error as InputFileError).message).toMatch(/truncated/);
    }
  });

  test('clip files go through the addon\'s async work: 24 at once equal the synchronous path; a longer file, a directory and a pipe are sent elsewhere', async () => {
    // Files of different lengths and rates at once on libuv's threads (each with its own caches).
    const files = Array.from({ length: 24 }, (_, k) => {
      const rate = [48000, 44100, 16000, 22050][k % 4];
      const samples = new Float32Array(Math.round((0.5 + 0.1 * k) * rate)).map((_, i) => 0.3 * Math.sin(i * (0.01 + 0.002 * k)) + 0.01 * Math.sin(i * 1.3));
      const file = path.join(work, `many-${k}.wav`);
      fs.writeFileSync(file, native.encodeWav16(samples, rate));
      return file;
    });
    const got = await Promise.all(files.map((file) => extractFeatures(file)));
    got.forEach((features, k) => {
      const expected = extractFeaturesSync(new Uint8Array(fs.readFileSync(files[k])));
      expect([features.frames, features.sourceSampleRate, features.seconds]).toEqual([expected.frames, expected.sourceSampleRate, expected.seconds]);
      expect(Buffer.from(features.data.buffer, features.data.byteOffset, features.data.byteLength).equals(Buffer.from(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength))).toBe(true);
    });
    const config = resolveFeatureConfig();
    // The async work itself gives those bits (these files are under 1 MiB, so extractFeatures took it).
    for (const k of [0, 7, 23]) {
      const direct = await native.wavFileToFeatures(files[k], config, 1 << 20);
      expect(direct && Buffer.from(direct.data.buffer, direct.data.byteOffset, direct.data.byteLength).equals(Buffer.from(got[k].data.buffer, got[k].data.byteOffset, got[k].data.byteLength))).toBe(true);
    }
    const size = fs.statSync(files[0]).size;
    await expect(native.wavFileToFeatures(files[0], config, size - 1)).resolves.toBeNull();
    await expect(native.wavFileToFeatures(files[0], config, size)).resolves.toMatchObject({ frames: got[0].frames });
    await expect(native.wavFileToFeatures(work, config, 1 << 20)).rejects.toThrow('is a directory');
    await expect(native.wavFileToFeatures(path.join(work, 'nothing.wav'), config, 1 << 20)).rejects.toThrow('no such file');
    expect(() => native.wavFileToFeatures('', config, 1 << 20)).toThrow(/path must be a file name/);
    expect(() => native.wavFileToFeatures(files[0], config, -1)).toThrow(/maxBytes/);
    // A named pipe has no size to trust: left to the stream (null), without opening it (which would wait
    // for a writer: this one has none).
    const fifo = path.join(work, 'clip.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    await expect(native.wavFileToFeatures(fifo, config, 1 << 20)).resolves.toBeNull();
  });

  test('extractFeatures of standard input: a WAV from a pipe with an unknown data size equals the file', () => {
    // Under 1 MiB it goes through the whole-file path, which reads a data size of 0xFFFFFFFF to the end.
    const bytes = Buffer.from(fs.readFileSync(wavFile));
    const piped = Buffer.from(bytes);
    piped.writeUInt32LE(0xffffffff, 4);
    piped.writeUInt32LE(0xffffffff, piped.indexOf('data') + 4);
    const script = `
      const ser = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))});
      ser.extractFeatures('-').then(async (r) => {
        process.stdout.write(JSON.stringify({ frames: r.frames, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString('base64') }));
        await ser.shutdown();
      });`;
    const child = spawnSync(process.execPath, ['-e', script], { input: piped, encoding: 'utf8' });
    expect(child.status).toBe(0);
    const got = JSON.parse(child.stdout) as { frames: number; data: string };
    const expected = extractFeaturesSync(new Uint8Array(bytes));
    expect(got.frames).toBe(expected.frames);
    expect(Buffer.from(got.data, 'base64').equals(Buffer.from(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength))).toBe(true);
  });

  test('a bad input is an InputFileError naming the file; a bad option an OptionsError naming it', async () => {
    const missing = path.join(work, 'missing.wav');
    await expect(extractFeatures(missing)).rejects.toMatchObject({ name: 'InputFileError', file: missing, reason: 'no such file' });
    const junk = path.join(work, 'junk.wav');
    fs.writeFileSync(junk, 'not a wav file at all, just text');
    const error = await extractFeatures(junk).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputFileError);
    expect((error as InputFileError).message).toContain(junk);
    await expect(extractFeatures(new Uint8Array(10))).rejects.toThrow(InputFileError);
    await expect(extractFeatures(wavFile, { nMfcc: 500 })).rejects.toThrow(OptionsError);
    await expect(extractFeatures(wavFile, { nMfcc: 500 })).rejects.toThrow(/nMfcc \(--n-mfcc\)/);
    await expect(augment(wavFile, {})).rejects.toThrow(OptionsError);
    await expect(augment(wavFile, { pitchSemitones: 40 })).rejects.toThrow(/pitchSemitones \(--pitch\)/);
  });

  test('augment applies the effects in the worker exactly as the synchronous plan does', async () => {
    const effects = { speedFactor: 1.1, pitchSemitones: -2, noiseSnrDb: 20, seed: 7 };
    const result = await augment(wavFile, { ...effects, sampleRate: 16000 });
    const decoded = native.decodeWav(fs.readFileSync(wavFile));
    const expected = applyAugmentPlan(native.resample(decoded.samples, decoded.sampleRate, 16000), 16000, planFromEffects(effects));
    expect(result.sampleRate).toBe(16000);
    expect(result.steps.map((s) => s.kind)).toEqual(['speed', 'pitch', 'noise']);
    expect(Array.from(result.samples)).toEqual(Array.from(expected));
  });

  test('an aborted signal rejects with an AbortError', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(extractFeatures(wavFile, { signal: controller.signal })).rejects.toThrow(AbortError);
    // Aborted while running or waiting for one of the clip slots (one per core): every call rejects at
    // once, and the slots are free again afterwards.
    // The calls share one listener on the caller's signal, so more than Node's 10 per signal bring no
    // MaxListenersExceededWarning.
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const later = new AbortController();
      const calls = Array.from({ length: 12 }, () => extractFeatures(wavFile, { signal: later.signal }));
      expect(getEventListeners(later.signal, 'abort')).toHaveLength(1);
      later.abort();
      for (const outcome of await Promise.allSettled(calls)) expect(outcome).toMatchObject({ status: 'rejected', reason: { name: 'AbortError' } });
      const again = await Promise.all(Array.from({ length: 12 }, () => extractFeatures(wavFile)));
      expect(again.every((f) => f.frames === again[0].frames && f.frames > 0)).toBe(true);
      // A signal that never fires, shared by 24 calls through the clip slots and the worker pool (WAV
      // bytes): every call resolves, and what waited on the signal is gone once they have.
      const serverLife = new AbortController();
      const bytes = fs.readFileSync(wavFile);
      const shared = await Promise.all([
        ...Array.from({ length: 12 }, () => extractFeatures(wavFile, { signal: serverLife.signal })),
        ...Array.from({ length: 12 }, () => extractFeatures(bytes, { signal: serverLife.signal })),
      ]);
      expect(shared.every((f) => f.frames === again[0].frames)).toBe(true);
      // The last call to settle took our listener off the caller's signal (left there, it would keep an
      // AbortSignal.timeout() or AbortSignal.any() signal alive until it fired).
      expect(getEventListeners(serverLife.signal, 'abort')).toHaveLength(0);
      const timeout = AbortSignal.timeout(60_000);
      await Promise.all([extractFeatures(wavFile, { signal: timeout }), extractFeatures(bytes, { signal: timeout })]);
      expect(getEventListeners(timeout, 'abort')).toHaveLength(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

test('synthesize writes the same files as the single-thread generator', async () => {
  const options = { corpus: 'savee' as const, speakers: 1, clipsPerClass: 2, seconds: 0.5, seed: 4 };
  const progress: number[] = [];
  const summary = await synthesize(path.join(work, 'synth-pool'), { ...options, onProgress: (p) => progress.push(p.done) });
  synthesizeCorpus(path.join(work, 'synth-sync'), options);
  expect(summary.clips).toBe(14);
  expect(progress[progress.length - 1]).toBe(14);
  sameFiles(path.join(work, 'synth-sync'), path.join(work, 'synth-pool'), /\.wav$/);
  await expect(synthesize(path.join(work, 'x'), { ...options, speakers: 0 })).rejects.toThrow(OptionsError);
});

describe('prepare, train and predict on a synthetic corpus (native backend)', () => {
  const corpus = path.join(work, 'corpus');
  const cache = path.join(work, 'cache');
  const run = path.join(work, 'run');
  const prepareOptions = { dataset: corpus, corpus: 'ravdess' as const, features: { nMfcc: 20 }, offsetSeconds: 0.1, durationSeconds: 1.5, shardRows: 16, clipsPerTask: 2 };
  const trainOptions = {
    cache, model: 'small' as const, epochs: 3, batchSize: 16, lr: 3e-3, seed: 2, backend: 'native' as const, threads: 1,
    valSpeakers: ['ravdess:05'], testSpeakers: ['ravdess:06'],
  };

  beforeAll(async () => {
    await synthesize(corpus, { corpus: 'ravdess', speakers: 6, clipsPerClass: 2, seconds: 1.6, seed: 9 });
    await prepare({ ...prepareOptions, output: cache });
    await train({ ...trainOptions, output: run });
  }, 240_000);

  test('prepare keeps the event loop free (timer gaps under 50 ms) and refuses a cache of other settings', async () => {
    const big = path.join(work, 'corpus-big');
    const synthesized = await synthesize(big, { corpus: 'ravdess', speakers: 24, clipsPerClass: 3, seconds: 1.6, seed: 10 });
    expect(synthesized.clips).toBe(24 * 8 * 3);
    // One worker leaves the second core to this thread, so a gap measures blocking, not CPU contention.
    const { result, gapMs, ticks } = await longestTimerGap(() => prepare({ ...prepareOptions, dataset: big, output: path.join(work, 'cache-timer'), workers: 1, shardRows: 128, clipsPerTask: 8 }));
    expect(result.rows).toBe(synthesized.clips);
    expect(ticks).toBeGreaterThan(20);
    expect(gapMs).toBeLessThan(50);
    await expect(prepare({ ...prepareOptions, output: cache, features: { nMfcc: 13 } })).rejects.toThrow(CacheConflictError);
    await expect(prepare({ ...prepareOptions, output: path.join(work, 'bad'), durationSeconds: -1 })).rejects.toThrow(/durationSeconds \(--duration\)/);
  }, 120_000);

  test('aborting prepare midway rejects with an AbortError; running it again resumes to the same bytes', async () => {
    const output = path.join(work, 'cache-abort');
    const controller = new AbortController();
    const aborted = prepare({
      ...prepareOptions, output, workers: 1, signal: controller.signal,
      onProgress: (p) => {
        if (p.done >= 40) controller.abort();
      },
    });
    await expect(aborted).rejects.toThrow(AbortError);
    const finishedBefore = listFiles(output).filter((f) => /^features-\d+\.json$/.test(f)).length;
    expect(finishedBefore).toBeGreaterThan(0);
    expect(finishedBefore).toBeLessThan(6);
    expect(fs.existsSync(path.join(output, 'manifest.json'))).toBe(false);
    const resumed = await prepare({ ...prepareOptions, output });
    expect(resumed.resumedShards).toBe(finishedBefore);
    sameFiles(cache, output, /^features-\d+\.npy$/);
    expect(JSON.parse(fs.readFileSync(path.join(output, 'manifest.json'), 'utf8')).items).toEqual(JSON.parse(fs.readFileSync(path.join(cache, 'manifest.json'), 'utf8')).items);
  }, 120_000);

  test('aborting train midway rejects with an AbortError; resume ends with the same weights', async () => {
    const output = path.join(work, 'run-abort');
    const controller = new AbortController();
    let steps = 0;
    const aborted = train({
      ...trainOptions, output, signal: controller.signal,
      onStep: () => {
        // Abort in the second epoch, after the first epoch's checkpoint.
        if (++steps === 7) controller.abort();
      },
    });
    await expect(aborted).rejects.toThrow(AbortError);
    expect(fs.readFileSync(path.join(output, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    await train({ output, resume: true, backend: 'native', threads: 1 });
    expect(fs.readFileSync(path.join(output, 'model', 'weights.bin')).equals(fs.readFileSync(path.join(run, 'model', 'weights.bin')))).toBe(true);
    const metrics = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
      const { seconds: _s, samplesPerSecond: _r, dataWaitFraction: _w, ...rest } = JSON.parse(l) as Record<string, number>;
      return rest;
    });
    expect(metrics(output)).toEqual(metrics(run));
    await expect(train({ ...trainOptions, output })).rejects.toThrow(CacheConflictError);
    await expect(train({ ...trainOptions, output: path.join(work, 'bad-run'), epochs: 0 })).rejects.toThrow(/epochs \(--epochs\)/);
  }, 240_000);

  test('--monitor val_uar picks the epoch of the best validation UAR (val_loss the lowest loss)', async () => {
    for (const monitor of ['val_uar', 'val_loss'] as const) {
      const output = path.join(work, `run-monitor-${monitor}`);
      const result = await train({ ...trainOptions, output, epochs: 5, patience: 10, monitor });
      const history = fs.readFileSync(path.join(output, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; valUar: number; valLoss: number });
      expect(history).toHaveLength(5);
      // The first epoch that beats every earlier one by the 1e-4 margin, as early stopping counts.
      let best = history[0];
      for (const record of history) {
        if (monitor === 'val_uar' ? record.valUar > best.valUar + 1e-4 : record.valLoss < best.valLoss - 1e-4) best = record;
      }
      expect([monitor, result.folds[0].bestEpoch]).toEqual([monitor, best.epoch]);
      expect(JSON.parse(fs.readFileSync(path.join(output, 'config.json'), 'utf8')).settings.monitor).toBe(monitor);
    }
    await expect(train({ ...trainOptions, output: path.join(work, 'run-monitor-bad'), monitor: 'val_acc' as 'val_uar' })).rejects.toThrow(/monitor \(--monitor\)/);
  }, 120_000);

  describe('a loaded model', () => {
    let model: EmotionModel;
    let clips: string[];
    const copy = path.join(work, 'run-copy');

    beforeAll(async () => {
      fs.cpSync(run, copy, { recursive: true });
      model = await loadModel(copy, { backend: 'native', threads: 1 });
      clips = listFiles(corpus).map((f) => path.join(corpus, f)).slice(0, 50);
    });
    afterAll(() => model.dispose());

    test('predicts 50 clips in a row from memory, with the probabilities of ser predict, the event loop free', () => {
      expect(clips).toHaveLength(50);
      // In a process of its own, as a user's server would run it (a jest worker's large heap adds
      // collector pauses that are not the library's): load, delete the folder so every prediction
      // below comes from the loaded weights, then predict the 50 clips while a 5 ms timer ticks.
      const script = `
        const fs = require('fs');
        const ser = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))});
        const [copy, ...clips] = process.argv.slice(1);
        (async () => {
          const model = await ser.loadModel(copy, { backend: 'native', threads: 1 });
          fs.rmSync(copy, { recursive: true });
          let last = performance.now(), gapMs = 0;
          const timer = setInterval(() => { const now = performance.now(); gapMs = Math.max(gapMs, now - last); last = now; }, 5);
          const predictions = [];
          for (const clip of clips) predictions.push({ file: clip, ...(await model.predict(clip)) });
          clearInterval(timer);
          gapMs = Math.max(gapMs, performance.now() - last);
          process.stdout.write(JSON.stringify({ predictions, gapMs, labels: model.labels.length }));
          model.dispose();
          await ser.shutdown();
        })();`;
      const child = spawnSync(process.execPath, ['-e', script, copy, ...clips], { encoding: 'utf8' });
      expect(child.status).toBe(0);
      const { predictions, gapMs, labels } = JSON.parse(child.stdout) as { predictions: unknown[]; gapMs: number; labels: number };
      expect(fs.existsSync(copy)).toBe(false);
      expect(gapMs).toBeLessThan(50);
      const cli = spawnSync(process.execPath, [CLI, 'predict', run, ...clips, '--backend', 'native', '--threads', '1', '--json'], { encoding: 'utf8' });
      expect(cli.status).toBe(0);
      expect(predictions).toEqual(JSON.parse(cli.stdout));
      expect(labels).toBe(8);
    }, 120_000);

    test("a file's feature row is the row prepare wrote for it in the training cache", async () => {
      const manifest = readManifest(cache);
      for (const item of manifest.items.filter((i) => !i.augmented).slice(0, 3)) {
        const shard = manifest.shards.find((s) => s.index === item.shard)!;
        const rows = readNpy(path.join(cache, shard.file)).data;
        const rowSize = manifest.frames * manifest.coeffs;
        const expected = rows.subarray(item.row * rowSize, (item.row + 1) * rowSize);
        const got = await model.featureRow(path.isAbsolute(item.path) ? item.path : path.join(corpus, item.path));
        expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))).toBe(true);
      }
    });

    test('predicts WAV bytes and samples as the file; a bad file is an InputFileError', async () => {
      const bytes = fs.readFileSync(clips[0]);
      const fromFile = await model.predict(clips[0]);
      expect(await model.predict(new Uint8Array(bytes))).toEqual(fromFile);
      const decoded = native.decodeWav(bytes);
      expect(await model.predict({ samples: decoded.samples, sampleRate: decoded.sampleRate })).toEqual(fromFile);
      // predict() computes the row in the model's thread; featureRow() in the worker pool: the same row.
      expect(await model.predictRow(await model.featureRow(clips[0]))).toEqual(fromFile);
      const missing = path.join(work, 'nope.wav');
      await expect(model.predict(missing)).rejects.toMatchObject({ name: 'InputFileError', file: missing, reason: 'no such file' });
      const short = path.join(work, 'short.wav');
      fs.writeFileSync(short, native.encodeWav16(new Float32Array(800), 16000));
      await expect(model.predict(short)).rejects.toMatchObject({ name: 'InputFileError', file: short, reason: expect.stringMatching(/not longer than the offset/) });
      await expect(model.predict(new Uint8Array(12))).rejects.toMatchObject({ name: 'InputFileError', file: '<wav buffer>' });
      // An abort rejects at once, naming the input; the clip's late result is dropped.
      const controller = new AbortController();
      const aborted = model.predict(clips[1], { signal: controller.signal });
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError', message: `${clips[1]}: aborted` });
      expect(await model.predict(clips[1])).toEqual(await model.predict(clips[1]));
      await expect(loadModel(path.join(work, 'no-run'))).rejects.toThrow(InputFileError);
    });

    test('concurrent predicts (scored in shared batches) each get their own clip\'s probabilities, bit for bit as alone; a bad clip rejects alone', async () => {
      const some = clips.slice(0, 20);
      const alone = [];
      for (const clip of some) alone.push(await model.predict(clip));
      const missing = path.join(work, 'missing-among-many.wav');
      const inputs: AudioInput[] = [...some.slice(0, 7), missing, ...some.slice(7), new Uint8Array(12)];
      const settled = await Promise.allSettled(inputs.map((input) => model.predict(input)));
      const fulfilled = settled.filter((s): s is PromiseFulfilledResult<EmotionPrediction> => s.status === 'fulfilled').map((s) => s.value);
      // Bit for bit as each alone: a row's result does not depend on the rows batched with it.
      expect(fulfilled).toEqual(alone);
      expect(settled[7]).toMatchObject({ status: 'rejected', reason: { name: 'InputFileError', file: missing, reason: 'no such file' } });
      expect(settled[21]).toMatchObject({ status: 'rejected', reason: { name: 'InputFileError', file: '<wav buffer>' } });
      // More callers than one batch holds (16 rows): the rest are scored in the next.
      const many = [...some, ...some];
      expect(await Promise.all(many.map((clip) => model.predict(clip)))).toEqual([...alone, ...alone]);
      // predictFiles keeps 16 files in flight and reports them in order, a bad file in its place.
      const reported: Prediction[] = [];
      const listed = await predictFiles(model, [...some.slice(0, 3), missing, ...some.slice(3)], (p) => reported.push(p));
      expect(reported).toEqual(listed);
      expect(listed[3]).toEqual({ file: missing, error: 'no such file' });
      expect(listed.filter((_, i) => i !== 3)).toEqual(alone.map((prediction, i) => ({ file: some[i], ...prediction })));
      // An abort is no file's fault: it rejects the whole call, and nothing is reported.
      const aborted = new AbortController();
      aborted.abort();
      const none: Prediction[] = [];
      await expect(predictFiles(model, some, (p) => none.push(p), { signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(none).toEqual([]);
    });
  });
});
