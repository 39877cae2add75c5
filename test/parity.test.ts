// Parity with librosa 0.10.2 / scipy 1.10.1 reference outputs (test/fixtures/mfcc-16k, see its README).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { extractFeaturesSync } from '../src/clips/extract';
import { native } from '../src/native';
import { loadNpy } from './helpers/npy-reader';
import { FIXTURES, ROOT, maxAbs, maxAbsDiff } from './helpers/paths';

// The fixtures' config "A": librosa.feature.mfcc(sr=16000, n_mfcc=40, n_fft=512, win_length=400,
// hop_length=160, n_mels=64, fmax=8000). It equals our defaults, so no options are passed.
const fixture = (name: string) => loadNpy(path.join(FIXTURES, name));
const SIGNALS = ['speech_a', 'speech_b', 'chirp', 'noise', 'sine', 'silence_click'];

describe('MFCC parity with librosa (max |delta| < 1e-3)', () => {
  test.each(SIGNALS)('%s', (signal) => {
    const input = fixture(`${signal}_input16k_f32.npy`);
    const expected = fixture(`${signal}_mfcc_f32.npy`);
    const result = extractFeaturesSync({ samples: input.data, sampleRate: 16000 });
    expect([result.frames, result.coeffs]).toEqual(expected.shape);
    expect(maxAbsDiff(result.data, expected.data)).toBeLessThan(1e-3);
  });
});

describe('intermediate stages of speech_a', () => {
  const input = fixture('speech_a_input16k_f32.npy');

  test('log-mel within 1e-3 dB', () => {
    const expected = fixture('speech_a_logmel_f32.npy');
    const result = extractFeaturesSync({ samples: input.data }, { kind: 'logmel' });
    expect([result.frames, result.coeffs]).toEqual(expected.shape);
    expect(maxAbsDiff(result.data, expected.data)).toBeLessThan(1e-3);
  });

  test('power spectrum within 1e-4 of the largest bin', () => {
    const expected = fixture('speech_a_power_f32.npy');
    const result = extractFeaturesSync({ samples: input.data }, { kind: 'power' });
    expect([result.frames, result.coeffs]).toEqual(expected.shape);
    expect(maxAbsDiff(result.data, expected.data) / maxAbs(expected.data)).toBeLessThan(1e-4);
  });

  test('mel basis within 1e-6', () => {
    const expected = fixture('mel_basis_f32.npy');
    const basis = native.melFilterbank({
      sampleRate: 16000, nFft: 512, nMels: 64, fmin: 0, fmax: 8000, melScale: 'slaney', melNorm: 'slaney',
    });
    expect([basis.rows, basis.cols]).toEqual(expected.shape);
    expect(maxAbsDiff(basis.data, expected.data)).toBeLessThan(1e-6);
  });
});

describe('decode + resample 48 kHz -> 16 kHz against scipy.signal.resample_poly', () => {
  const wavBytes = fs.readFileSync(path.join(FIXTURES, 'speech_a_source48k_s16.wav'));
  const expected = fixture('speech_a_input16k_f32.npy');

  test('samples within 1e-5', () => {
    const wav = native.decodeWav(wavBytes);
    expect(wav.sampleRate).toBe(48000);
    expect(wav.samples.length).toBe(72000);
    const resampled = native.resample(wav.samples, 48000, 16000);
    expect(resampled.length).toBe(expected.data.length);
    expect(maxAbsDiff(resampled, expected.data)).toBeLessThan(1e-5);
  });

  test('the one-call WAV path equals decode, resample, then features', () => {
    const fromWav = extractFeaturesSync(wavBytes);
    expect(fromWav.sourceSampleRate).toBe(48000);
    expect(fromWav.seconds).toBeCloseTo(1.5, 10);
    const fromSamples = extractFeaturesSync({ samples: expected.data });
    // Same pipeline on inputs within 1e-5 of each other: MFCC moves by far less than the parity bound.
    expect(maxAbsDiff(fromWav.data, fromSamples.data)).toBeLessThan(1e-2);
    expect(maxAbsDiff(fromWav.data, fixture('speech_a_mfcc_f32.npy').data)).toBeLessThan(1e-2);
  });
});

// The STFT, resampler, mel and decibel stages take 16 frames (or outputs) per vector on CPUs with
// AVX-512 and 8 on the others; every lane runs the same operations in the same order, so the two lane
// counts must agree bit for bit. SER_DSP_ISA=avx2 forces 8 lanes in a child process. What it changes
// is the lane count only: on an AVX-512 CPU both runs use the AVX-512 build of each function, so this
// does not compare against the AVX2 build an AVX2-only CPU runs (both contract a * b + c into one
// fused multiply-add, which CPUs without FMA do not: there the last bits differ). On a CPU without
// AVX-512 both runs take the 8-lane path; the CI hosts have AVX-512.
describe('the AVX-512 and AVX2 feature paths', () => {
  test('give the same bits for every feature kind and source rate, and for rfft', () => {
    const script = `
      const { native } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'native.js'))});
      const { resolveFeatureConfig } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'index.js'))});
      const fs = require('fs');
      const wav = native.decodeWav(fs.readFileSync(${JSON.stringify(path.join(FIXTURES, 'speech_a_source48k_s16.wav'))}));
      const digests = [];
      for (const rate of [48000, 44100, 24414, 22050, 16000]) {
        const samples = rate === 48000 ? wav.samples : native.resample(wav.samples, 48000, rate);
        for (const kind of ['mfcc', 'logmel', 'power']) {
          const f = native.wavToFeatures(native.encodeWav16(samples, rate), { ...resolveFeatureConfig(), kind });
          digests.push(require('crypto').createHash('sha256').update(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength)).digest('hex'));
        }
      }
      // The rfft binding's lanes too: 37 frames of 512 (two blocks of 16 and a partial one; four of 8 and one).
      const frames = native.resample(wav.samples, 48000, 16000).subarray(0, 37 * 512);
      const spectrum = native.rfft(frames, 512);
      digests.push(require('crypto').createHash('sha256').update(Buffer.from(spectrum.buffer, spectrum.byteOffset, spectrum.byteLength)).digest('hex'));
      console.log(JSON.stringify(digests));`;
    const run = (env: NodeJS.ProcessEnv) => {
      const child = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
      expect(child.status).toBe(0);
      return JSON.parse(child.stdout) as string[];
    };
    const wide = run({ SER_DSP_ISA: '' });
    const narrow = run({ SER_DSP_ISA: 'avx2' });
    expect(wide).toHaveLength(16);
    expect(new Set(wide).size).toBe(16);
    expect(narrow).toEqual(wide);
  });
});
