// The emotion timeline: on a recording made by joining clips of known, different emotions (with
// silence between them), a model trained on that corpus follows the joined order; the windows cover
// the recording; silence is marked, not classified; the CLI prints a JSON line per window; and the
// page renders in headless Chromium (skipped only where no Chromium is installed).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { chromium } from 'playwright-core';

import { loadModel, prepare, shutdown, synthesize, train, type EmotionModel, type Timeline } from '../src/index';
import { native } from '../src/native';
import { inkedSvg } from './helpers/ink';
import { CLI, ROOT, tempDir } from './helpers/paths';

const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => Boolean(p) && fs.existsSync(p as string));
const work = tempDir('timeline');
const corpus = path.join(work, 'corpus');
const run = path.join(work, 'run');
const joined = path.join(work, 'joined.wav');
const RATE = 48000;
// Longer than a window and a hop, so some windows lie wholly in each gap.
const GAP_SECONDS = 2;
// Emotions this model tells apart on actor 02's clips (measured on each clip alone: every window right;
// fearful and disgust are confused with others), joined in this order.
const ORDER = ['angry', 'sad', 'calm', 'happy'] as const;
const EMOTION_CODE: Record<string, string> = { calm: '02', happy: '03', sad: '04', angry: '05' };
let model: EmotionModel;
let timeline: Timeline;
/** Where each joined clip lies in the recording, seconds. */
const spans: { emotion: string; start: number; end: number }[] = [];

afterAll(async () => {
  model?.dispose();
  await shutdown();
  fs.rmSync(work, { recursive: true, force: true });
});

beforeAll(async () => {
  await synthesize(corpus, { corpus: 'ravdess', speakers: 4, clipsPerClass: 3, seconds: 3, seed: 21 });
  const cache = path.join(work, 'cache');
  await prepare({ dataset: corpus, output: cache, corpus: 'ravdess', features: { nMfcc: 20 }, offsetSeconds: 0.1, durationSeconds: 1.5 });
  // Every speaker in training: the timeline is checked on clips of the voices the model learned. Global
  // normalisation: the recording holds four emotions of one speaker, too few for its own moments to
  // stand for the speaker's (speaker-normalised timelines are checked in normalise.test.ts).
  await train({
    cache, output: run, model: 'small', normalize: 'global', weightAverage: 0, epochs: 40, patience: 40, lrPatience: 3, batchSize: 16, lr: 3e-3, seed: 4,
    split: 'random', valFraction: 0.15, testFraction: 0,
  });
  model = await loadModel(run);
  // One clip of each emotion by actor 02, with digital silence before, between and after.
  const parts: Float32Array[] = [];
  let at = GAP_SECONDS;
  parts.push(new Float32Array(GAP_SECONDS * RATE));
  for (const emotion of ORDER) {
    const actor = path.join(corpus, 'Actor_02');
    const file = path.join(actor, fs.readdirSync(actor).sort().find((f) => f.startsWith(`03-01-${EMOTION_CODE[emotion]}-`)) as string);
    const clip = native.decodeWav(fs.readFileSync(file));
    expect(clip.sampleRate).toBe(RATE);
    parts.push(clip.samples, new Float32Array(GAP_SECONDS * RATE));
    spans.push({ emotion, start: at, end: at + clip.samples.length / RATE });
    at += clip.samples.length / RATE + GAP_SECONDS;
  }
  const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    samples.set(p, offset);
    offset += p.length;
  }
  fs.writeFileSync(joined, native.encodeWav16(samples, RATE));
  timeline = await model.timeline(joined, { windowSeconds: 1.5, hopSeconds: 0.25 });
}, 300_000);

test('the windows cover the recording, a hop apart, and the silences are marked', () => {
  const seconds = spans[spans.length - 1].end + GAP_SECONDS;
  expect(timeline.seconds).toBeCloseTo(seconds, 3);
  expect(timeline.windows[0].start).toBe(0);
  expect(timeline.windows[timeline.windows.length - 1].end).toBeCloseTo(seconds, 3);
  timeline.windows.forEach((w, i) => {
    expect(w.start).toBeCloseTo(i * 0.25, 6);
    expect(w.end - w.start).toBeLessThanOrEqual(1.5 + 1e-9);
  });
  // Windows wholly inside a gap of digital silence are silence, without an emotion.
  const inGap = timeline.windows.filter((w) => w.end <= spans[0].start || spans.some((s, i) => i + 1 < spans.length && w.start >= s.end && w.end <= spans[i + 1].start));
  expect(inGap.length).toBeGreaterThan(0);
  for (const w of inGap) expect([w.silent, w.emotion, w.probabilities]).toEqual([true, null, null]);
  // Windows wholly inside a clip are classified.
  const inClips = timeline.windows.filter((w) => spans.some((s) => w.start >= s.start && w.end <= s.end));
  expect(inClips.length).toBeGreaterThan(8);
  for (const w of inClips) {
    expect(w.silent).toBe(false);
    expect(Object.values(w.probabilities ?? {}).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  }
});

test('the dominant emotion follows the joined order', () => {
  const dominant = spans.map((span) => {
    const counts = new Map<string, number>();
    for (const w of timeline.windows) {
      if (w.start >= span.start && w.end <= span.end && w.emotion) counts.set(w.emotion, (counts.get(w.emotion) ?? 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  });
  expect(dominant).toEqual([...ORDER]);
  // The segments, silence aside, run through the same order.
  const labels = timeline.segments.map((s) => s.label).filter((l) => l !== 'silence');
  const runs = labels.filter((l, i) => i === 0 || l !== labels[i - 1]);
  expect(runs.filter((l) => (ORDER as readonly string[]).includes(l))).toEqual(expect.arrayContaining([...ORDER]));
  expect(timeline.segments[0]).toMatchObject({ start: 0, label: 'silence' });
});

test('ser predict --timeline prints a JSON line per window, equal to the library, and writes the page', () => {
  const page = path.join(work, 'timeline.html');
  const cli = spawnSync(process.execPath, [CLI, 'predict', run, joined, '--timeline', '--window', '1.5', '--hop', '0.25', '-o', page], { encoding: 'utf8' });
  expect(cli.status).toBe(0);
  const lines = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; start: number; end: number; emotion: string });
  expect(lines).toHaveLength(timeline.windows.length);
  lines.forEach((line, i) => {
    const w = timeline.windows[i];
    expect(line).toMatchObject({ file: joined, start: Number(w.start.toFixed(3)), emotion: w.silent ? 'silence' : w.emotion });
  });
  expect(fs.readFileSync(page, 'utf8')).toMatch(/^<!doctype html>/);
  const bad = spawnSync(process.execPath, [CLI, 'predict', run, joined, '--window', '1.5'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--timeline/);
  const tooLong = spawnSync(process.execPath, [CLI, 'predict', run, joined, '--timeline', '--window', '9'], { encoding: 'utf8' });
  expect(tooLong.status).toBe(2);
  expect(tooLong.stderr).toMatch(/longer than the 1.5 s the model was trained on/);
}, 120_000);

test('the timeline of WAV bytes and of standard input equals the file\'s; an aborted timeline rejects with an AbortError', async () => {
  const bytes = fs.readFileSync(joined);
  const options = { windowSeconds: 1.5, hopSeconds: 0.25 };
  const fromBytes = await model.timeline(new Uint8Array(bytes), options);
  expect(fromBytes.windows).toEqual(timeline.windows);
  // Standard input is fed to the model's thread a block at a time.
  const args = [CLI, 'predict', run, '-', '--timeline', '--window', '1.5', '--hop', '0.25'];
  const fromFile = spawnSync(process.execPath, [CLI, 'predict', run, joined, '--timeline', '--window', '1.5', '--hop', '0.25'], { encoding: 'utf8' });
  const fromStdin = spawnSync(process.execPath, args, { input: bytes, encoding: 'utf8', maxBuffer: 1 << 26 });
  expect(fromStdin.status).toBe(0);
  const withoutFile = (out: string) => out.trim().split('\n').map((l) => {
    const { file: _file, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
  expect(withoutFile(fromStdin.stdout)).toEqual(withoutFile(fromFile.stdout));
  const controller = new AbortController();
  const aborted = model.timeline(joined, { ...options, batchSize: 2, signal: controller.signal, onProgress: () => controller.abort() });
  await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
  // The model serves the next call as before.
  expect((await model.timeline(joined, options)).windows).toEqual(timeline.windows);
}, 120_000);

(executablePath ? test : test.skip)('the timeline page renders in headless Chromium with ink and no console errors', async () => {
  const page = path.join(work, 'timeline.html');
  if (!fs.existsSync(page)) {
    const { renderTimelinePage } = await import('../src/report/timeline');
    fs.writeFileSync(page, renderTimelinePage(timeline));
  }
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const tab = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const errors: string[] = [];
    tab.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    tab.on('pageerror', (error) => errors.push(error.message));
    tab.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`));
    await tab.goto(`file://${page}`);
    const picture = await tab.evaluate(inkedSvg, '#timeline');
    const rendered = {
      ...picture,
      ...(await tab.evaluate(() => ({
        areas: document.querySelectorAll('#timeline polygon.area').length,
        segments: document.querySelectorAll('#timeline rect.segment').length,
        rows: document.querySelectorAll('#segments tbody tr').length,
      }))),
    };
    expect(rendered.width).toBeGreaterThan(600);
    expect(rendered.inkShare).toBeGreaterThan(0.1);
    expect(rendered.areas).toBe(8);
    expect(rendered.segments).toBe(timeline.segments.length);
    expect(rendered.rows).toBe(timeline.segments.length);
    const artifacts = path.join(ROOT, 'test', '.artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    await tab.screenshot({ path: path.join(artifacts, 'timeline.png'), fullPage: true });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
}, 120_000);
