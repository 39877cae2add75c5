// Input whose header or options would make the work absurd is bounded before the work is done: odd
// sample rates, folders of tiny files at such rates, FFT sizes with large prime factors, float32
// ranges. Each is refused (or done) in a child process whose peak memory is checked.
import * as fs from 'fs';
import * as path from 'path';

import { runCliWithRss } from './helpers/cli-rss';
import { tempDir } from './helpers/paths';
import { writeWav } from './helpers/wav-writer';
import { resolveFeatureConfig } from '../src/features/config';
import { native } from '../src/native';

const work = tempDir('hostile');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** 132 bytes: a 44-byte header and 44 16-bit samples, claiming `rate`. */
function tinyWav(rate: number): Buffer {
  return writeWav({ sampleRate: rate, channels: 1, encoding: { format: 'pcm', bits: 16 }, codes: Array.from({ length: 44 }, (_, i) => (i * 997) % 2000 - 1000) });
}

test('a 132-byte WAV claiming 767,999 Hz is refused before any filter is built', () => {
  const file = path.join(work, 'odd-rate.wav');
  fs.writeFileSync(file, tinyWav(767999));
  expect(fs.statSync(file).size).toBe(132);
  const run = runCliWithRss(['features', file, '--json']);
  expect(run.status).toBe(1);
  expect(run.stderr).toContain(`${file}: resampling 767999 Hz to 16000 Hz needs a filter of 15359981 taps`);
  // Building that filter took about 250 MB; refused, the process stays near the peak of a 16 kHz file
  // of the same size measured beside it (the baseline itself moves with the load of the machine).
  const plain = path.join(work, 'plain-rate.wav');
  fs.writeFileSync(plain, tinyWav(16000));
  const baseline = runCliWithRss(['features', plain, '--json']);
  expect(baseline.status).toBe(0);
  expect(run.peakRssMiB).toBeLessThan(baseline.peakRssMiB + 100);
});

test('ser prepare on a folder of tiny files at distinct rates near 700 kHz records each refusal and goes on', () => {
  const dataset = path.join(work, 'odd-rates');
  const rates = Array.from({ length: 46 }, (_, i) => 700001 + 2 * i).concat([700000, 705600]);
  rates.forEach((rate, i) => {
    // RAVDESS names: actor i % 24 + 1, emotion 1..2.
    const actor = String(1 + (i % 24)).padStart(2, '0');
    fs.mkdirSync(path.join(dataset, `Actor_${actor}`), { recursive: true });
    fs.writeFileSync(path.join(dataset, `Actor_${actor}`, `03-01-0${1 + Math.floor(i / 24)}-01-01-01-${actor}.wav`), tinyWav(rate));
  });
  const run = runCliWithRss(['prepare', dataset, '-o', path.join(work, 'odd-cache'), '--workers', '2', '--json']);
  expect(run.status).toBe(0);
  const summary = JSON.parse(run.stdout) as { failed: number; rows: number };
  expect(summary).toMatchObject({ failed: rates.length, rows: 0 });
  const manifest = JSON.parse(fs.readFileSync(path.join(work, 'odd-cache', 'manifest.json'), 'utf8')) as { failures: { reason: string }[] };
  // Every clip is 44 samples: shorter than the crop's offset, known from the header before resampling.
  for (const failure of manifest.failures) expect(failure.reason).toMatch(/not longer than the offset/);
  // Measured before: 30 s and 1.8 GB for such a folder (a 15-million-tap filter per rate, 32 kept).
  expect(run.peakRssMiB).toBeLessThan(400);
});

test('an FFT size whose half has a large prime factor is refused as a usage error', () => {
  const file = path.join(work, 'clip.wav');
  fs.writeFileSync(file, tinyWav(16000));
  const run = runCliWithRss(['features', file, '--json', '--n-fft', '1043968', '--win-length', '400']);
  expect(run.status).toBe(2);
  expect(run.stderr).toMatch(/--n-fft.*1043968 \/ 2 has 2039/);
});

test('amin and ref must be normal float32 numbers; the power kind refuses an overflowing spectrum like the rest', () => {
  expect(() => resolveFeatureConfig({ amin: 1e-50 })).toThrow(/amin \(--amin\)|amin/);
  expect(() => native.computeFeatures(new Float32Array(4000), { ...resolveFeatureConfig(), amin: 1e-50 })).toThrow(/amin must be a normal float32/);
  const loud = new Float32Array(16000).fill(1e25);
  for (const kind of ['power', 'logmel', 'mfcc'] as const) {
    expect(() => native.computeFeatures(loud, resolveFeatureConfig({ kind }))).toThrow(/overflowed float32/);
  }
  // Noise at a low SNR on a clip near the float32 limit would overflow (found by native/fuzz).
  expect(() => native.addNoise(Float32Array.from([1.7e38, -1.7e38]), -50, 1)).toThrow(/exceeds the float32 range/);
  // So would resampling such a clip (found by native/fuzz).
  expect(() => native.resample(Float32Array.from([3e38, -3e38, 3e38]), 1000, 6686)).toThrow(/overflows float32/);
  // Silence with the smallest amin allowed gives finite decibels.
  const quiet = native.computeFeatures(new Float32Array(4000), resolveFeatureConfig({ kind: 'logmel', amin: 1.2e-38, topDb: null }));
  expect(quiet.data.every(Number.isFinite)).toBe(true);
});
