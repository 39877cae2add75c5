// The event loop stays free with the seed preset: while train() runs an epoch, while predict() scores
// 100 clips one after another and while timeline() runs over a 10-minute 48 kHz recording, a 5 ms timer
// on the caller's thread never waits more than 20 ms on the library. The kernels run in the library's worker threads;
// this thread only sends requests. Measured in a process of its own (as a server would run the library):
// a jest worker's large heap adds collector pauses that are not the library's.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { prepare, shutdown, synthesize, writeWav16 } from '../src/index';
import { native } from '../src/native';
import { ROOT, tempDir } from './helpers/paths';

const work = tempDir('event-loop');
const corpus = path.join(work, 'corpus');
const cache = path.join(work, 'cache');
const recording = path.join(work, 'ten-minutes.wav');
const RATE = 48000;
const RECORDING_SECONDS = 600;
/** The longest a 5 ms timer may wait on the library. */
const MAX_GAP_MS = 20;
/** The longest it may wait at all, run-queue time included. */
const MAX_GAP_WITH_QUEUEING_MS = 40;

afterAll(async () => {
  await shutdown();
  fs.rmSync(work, { recursive: true, force: true });
});

beforeAll(async () => {
  // Six speakers: the default speaker split leaves four to train on, 64 rows, two seed-preset steps.
  await synthesize(corpus, { corpus: 'ravdess', speakers: 6, clipsPerClass: 2, seconds: 3, seed: 5 });
  await prepare({ dataset: corpus, output: cache, corpus: 'ravdess' });
  // Ten minutes of the corpus's clips back to back, with a quarter second of silence between them.
  const clips = fs.readdirSync(path.join(corpus, 'Actor_01')).sort().map((f) => native.decodeWav(fs.readFileSync(path.join(corpus, 'Actor_01', f))).samples);
  const samples = new Float32Array(RECORDING_SECONDS * RATE);
  for (let at = 0, k = 0; at < samples.length; k++) {
    const clip = clips[k % clips.length].subarray(0, samples.length - at);
    samples.set(clip, at);
    at += clip.length + RATE / 4;
  }
  writeWav16(recording, samples, RATE);
}, 120_000);

test('train, predict and timeline keep a 5 ms timer within 20 ms (seed preset)', () => {
  const clips = fs.readdirSync(corpus).flatMap((actor) => fs.readdirSync(path.join(corpus, actor)).map((f) => path.join(corpus, actor, f))).sort();
  expect(clips.length).toBe(96);
  const script = `
    const ser = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))});
    const [cache, runDir, recording, ...clips] = process.argv.slice(1);
    // This thread's time on a CPU and waiting in the run queue for one, ms (Linux: /proc/thread-self/schedstat).
    const fs = require('fs');
    const schedstat = () => { const [cpu, wait] = fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number); return { cpu: cpu / 1e6, wait: wait / 1e6 }; };
    // The longest wait of a 5 ms timer while work() runs; of it, the part not spent queueing for a CPU;
    // and how often the timer fired.
    async function timed(work) {
      let last = performance.now(), before = schedstat(), gapMs = 0, unqueuedMs = 0, ticks = 0;
      const tick = () => {
        const now = performance.now(), stat = schedstat();
        gapMs = Math.max(gapMs, now - last);
        unqueuedMs = Math.max(unqueuedMs, now - last - (stat.wait - before.wait));
        last = now; before = stat; ticks++;
      };
      const timer = setInterval(tick, 5);
      const result = await work();
      clearInterval(timer);
      tick();
      return { result, gapMs, unqueuedMs, ticks };
    }
    (async () => {
      let steps = 0;
      const training = await timed(() => ser.train({ cache, output: runDir, model: 'seed', epochs: 1, backend: 'native', onStep: () => steps++ }));
      const model = await ser.loadModel(runDir, { backend: 'native' });
      const predicting = await timed(async () => {
        const emotions = [];
        for (let k = 0; k < 100; k++) emotions.push((await model.predict(clips[k % clips.length])).emotion);
        return emotions;
      });
      const timeline = await timed(() => model.timeline(recording));
      process.stdout.write(JSON.stringify({
        train: { gapMs: training.gapMs, unqueuedMs: training.unqueuedMs, ticks: training.ticks, steps, epochs: training.result.folds[0].epochs },
        predict: { gapMs: predicting.gapMs, unqueuedMs: predicting.unqueuedMs, ticks: predicting.ticks, predictions: predicting.result.length },
        timeline: { gapMs: timeline.gapMs, unqueuedMs: timeline.unqueuedMs, ticks: timeline.ticks, windows: timeline.result.windows.length, seconds: timeline.result.seconds },
        // TensorFlow.js was loaded in the library's threads only.
        tfjsModulesHere: Object.keys(require.cache).filter((file) => file.includes('@tensorflow')).length,
      }));
      model.dispose();
      await ser.shutdown();
    })().catch((error) => { console.error(error); process.exit(1); });`;
  const child = spawnSync(process.execPath, ['-e', script, cache, path.join(work, 'run'), recording, ...clips], { encoding: 'utf8', timeout: 240_000 });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const { tfjsModulesHere, ...measured } = JSON.parse(child.stdout) as { tfjsModulesHere: number } & Record<'train' | 'predict' | 'timeline', { gapMs: number; unqueuedMs: number; ticks: number } & Record<string, number>>;
  expect(tfjsModulesHere).toBe(0);
  // The work really ran, and long enough for the timer to fire many times.
  expect(measured.train).toMatchObject({ steps: 2, epochs: 1 });
  expect(measured.predict.predictions).toBe(100);
  expect(measured.timeline.seconds).toBeCloseTo(RECORDING_SECONDS, 3);
  expect(measured.timeline.windows).toBeGreaterThanOrEqual(RECORDING_SECONDS - 3);
  const phases = ['train', 'predict', 'timeline'] as const;
  expect(phases.filter((p) => measured[p].ticks <= 20)).toEqual([]);
  // The library's part of every gap (the gap less the time this thread queued for a CPU, which the
  // kernel decides: on these 2-core machines a woken thread can queue for a tick or two behind the
  // compute threads) stays within the bound; and no gap at all reaches the outer bound.
  expect(phases.filter((p) => !(measured[p].unqueuedMs < MAX_GAP_MS)).map((p) => `${p}: ${measured[p].unqueuedMs.toFixed(1)} ms`)).toEqual([]);
  expect(phases.filter((p) => !(measured[p].gapMs < MAX_GAP_WITH_QUEUEING_MS)).map((p) => `${p}: ${measured[p].gapMs.toFixed(1)} ms`)).toEqual([]);
  process.stdout.write(`event-loop gaps (ms; less run-queue wait): ${phases.map((p) => `${p} ${measured[p].gapMs.toFixed(1)} (${measured[p].unqueuedMs.toFixed(1)})`).join(', ')}\n`);
}, 300_000);
