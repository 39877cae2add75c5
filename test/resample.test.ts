// The resampler for rate pairs the fixtures do not cover, against a direct-form re-statement of
// scipy.signal.resample_poly written here in double precision, plus what any good resampler must do.
import * as path from 'path';

import { resolveFeatureConfig } from '../src/features/config';
import { native } from '../src/native';
import { loadNpy } from './helpers/npy-reader';
import { writeWav } from './helpers/wav-writer';

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function besselI0(x: number): number {
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500 && term > sum * 1e-17; k++) {
    term *= (x * x) / 4 / (k * k);
    sum += term;
  }
  return sum;
}

/** resample_poly(x, up, down): firwin(2h+1, 1/max, kaiser 5) * up, upfirdn, keep the centred part. */
function referenceResamplePoly(x: Float32Array, fromRate: number, toRate: number): Float64Array {
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  const maxRate = Math.max(up, down);
  const half = 10 * maxRate;
  const taps = 2 * half + 1;
  const h = new Float64Array(taps);
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const m = n - half;
    const arg = (Math.PI * m) / maxRate;
    const sinc = m === 0 ? 1 : Math.sin(arg) / arg;
    const r = m / half;
    h[n] = (sinc / maxRate) * (besselI0(5 * Math.sqrt(Math.max(0, 1 - r * r))) / besselI0(5));
    sum += h[n];
  }
  const outLength = Math.ceil((x.length * up) / down);
  const y = new Float64Array(outLength);
  for (let i = 0; i < outLength; i++) {
    // y[i] = sum_n x[n] h[i*down + half - n*up]
    const t = i * down + half;
    let acc = 0;
    for (let n = Math.max(0, Math.ceil((t - 2 * half) / up)); n <= Math.min(x.length - 1, Math.floor(t / up)); n++) {
      acc += x[n] * h[t - n * up];
    }
    y[i] = (acc * up) / sum;
  }
  return y;
}

function noiseLike(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 0.5 * Math.sin(i * 0.05) + 0.3 * (s / 2 ** 32 - 0.5);
  });
}

describe('matches resample_poly for other rate pairs', () => {
  test.each([
    [22050, 16000], [24414, 16000], [44100, 16000], [48000, 16000], [8000, 16000], [16000, 44100], [32000, 16000],
  ])('%i -> %i Hz', (fromRate, toRate) => {
    const x = noiseLike(Math.round(fromRate * 0.02) + 7, fromRate);
    const actual = native.resample(x, fromRate, toRate);
    const expected = referenceResamplePoly(x, fromRate, toRate);
    expect(actual.length).toBe(expected.length);
    let worst = 0;
    expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(actual[i] - v))));
    expect(worst).toBeLessThan(1e-5);
  });
});

// Integer decimation splits the outputs into one run per vector lane (16 or 8) and each run into
// chunks of 96 outputs, with the signal's ends copied with zeros around them: lengths on and around
// those bounds, where a lane has fewer outputs than the others or none at all.
describe('integer decimation at the lane and chunk bounds', () => {
  const outputLengths = [1, 2, 7, 8, 9, 15, 16, 17, 95, 96, 97, 127, 128, 129, 16 * 96 - 1, 16 * 96, 16 * 96 + 1, 16 * 97 + 5, 4099];
  test.each([[32000], [48000], [96000]])('%i -> 16000 Hz', (fromRate) => {
    const down = fromRate / 16000;
    for (const outputs of outputLengths) {
      for (const extra of [0, down - 1]) {
        const x = noiseLike(outputs * down - extra, outputs + fromRate);
        const actual = native.resample(x, fromRate, 16000);
        const expected = referenceResamplePoly(x, fromRate, 16000);
        expect(actual.length).toBe(expected.length);
        let worst = 0;
        expected.forEach((v, i) => (worst = Math.max(worst, Math.abs(actual[i] - v))));
        if (!(worst < 1e-5)) throw new Error(`${x.length} samples at ${fromRate} Hz: off by ${worst}`);
      }
    }
  });
});

describe('behaviour of a band-limited resampler', () => {
  function toneAmplitude(y: Float32Array, rate: number, hz: number, from: number, to: number): number {
    let re = 0;
    let im = 0;
    for (let i = from; i < to; i++) {
      re += y[i] * Math.cos((2 * Math.PI * hz * i) / rate);
      im += y[i] * Math.sin((2 * Math.PI * hz * i) / rate);
    }
    return (2 * Math.hypot(re, im)) / (to - from);
  }

  test('a 440 Hz tone keeps its frequency and amplitude through 44.1 kHz -> 16 kHz', () => {
    const x = Float32Array.from({ length: 44100 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 44100));
    const y = native.resample(x, 44100, 16000);
    expect(y.length).toBe(16000);
    expect(toneAmplitude(y, 16000, 440, 1000, 15000)).toBeCloseTo(0.5, 3);
  });

  test('a 10 kHz tone above the new Nyquist is suppressed by more than 40 dB', () => {
    const x = Float32Array.from({ length: 44100 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 10000 * i) / 44100));
    const y = native.resample(x, 44100, 16000);
    // It would alias to 6 kHz; measure both there and the total energy away from the edges.
    expect(toneAmplitude(y, 16000, 6000, 1000, 15000)).toBeLessThan(0.005);
    let energy = 0;
    for (let i = 1000; i < 15000; i++) energy += y[i] * y[i];
    expect(Math.sqrt(energy / 14000)).toBeLessThan(0.005);
  });

  test('equal rates copy, lengths are ceil(n * up / down), empty input gives empty output', () => {
    const x = noiseLike(101, 3);
    expect(Array.from(native.resample(x, 16000, 16000))).toEqual(Array.from(x));
    expect(native.resample(x, 48000, 16000).length).toBe(34);
    expect(native.resample(new Float32Array(0), 48000, 16000).length).toBe(0);
  });

  test('bad rates throw clear errors', () => {
    expect(() => native.resample(new Float32Array(4), 0, 16000)).toThrow(/fromRate must be 1\.\.768000 Hz/);
    expect(() => native.resample(new Float32Array(4), 16000, 1e7)).toThrow(/toRate must be 1\.\.768000 Hz/);
    expect(() => native.resample(new Float32Array(4), 16000.5, 8000)).toThrow(/non-negative integer/);
    expect(() => (native.resample as (...a: unknown[]) => unknown)([1, 2], 16000, 8000)).toThrow(/Float32Array/);
  });
});

describe('matches scipy.signal.resample_poly itself (test/fixtures/resample, scipy 1.17.1)', () => {
  const dir = path.join(__dirname, 'fixtures', 'resample');
  test.each([[22050, 16000], [24414, 16000], [44100, 16000], [16000, 44100]])('%i -> %i Hz within 1e-5', (from, to) => {
    const input = loadNpy(path.join(dir, `in_${from}_${to}.npy`));
    const expected = loadNpy(path.join(dir, `out_${from}_${to}.npy`));
    const actual = native.resample(input.data, from, to);
    expect(actual.length).toBe(expected.data.length);
    let worst = 0;
    expected.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(actual[i] - v))));
    expect(worst).toBeLessThan(1e-5);
  });
});

// wavToFeatures resamples 16-bit mono clips straight from the file's bytes (no decoded copy): the rows
// must be those of decoding, resampling and computing features in three steps, bit for bit.
describe('16-bit mono WAV bytes resampled without decoding first', () => {
  test.each([[32000], [44100], [48000], [96000]])('%i Hz: the same bits as decode, resample, computeFeatures', (rate) => {
    const config = resolveFeatureConfig();
    for (const seconds of [0.05, 1.0137]) {
      const wav = native.encodeWav16(noiseLike(Math.round(rate * seconds), rate), rate);
      const direct = native.wavToFeatures(wav, config);
      const decoded = native.decodeWav(wav);
      const stepwise = native.computeFeatures(native.resample(decoded.samples, rate, 16000), config);
      expect([direct.frames, direct.coeffs]).toEqual([stepwise.frames, stepwise.coeffs]);
      expect(Buffer.from(direct.data.buffer, direct.data.byteOffset, direct.data.byteLength).equals(
        Buffer.from(stepwise.data.buffer, stepwise.data.byteOffset, stepwise.data.byteLength))).toBe(true);
    }
  });
});

// clipRowInto is prepare's path for clips without augmentation: file bytes to a cache row in one call.
describe('clipRowInto writes the row decode, resample, crop and computeFeatures give', () => {
  const config = resolveFeatureConfig();
  const start = 8000; // 0.5 s at 16 kHz
  const length = 48000; // 3 s
  const stepwise = (wav: Uint8Array) => {
    const decoded = native.decodeWav(wav);
    const audio = decoded.sampleRate === 16000 ? decoded.samples : native.resample(decoded.samples, decoded.sampleRate, 16000);
    const cropped = new Float32Array(length);
    cropped.set(audio.subarray(start, Math.min(audio.length, start + length)));
    return { features: native.computeFeatures(cropped, config).data, cropped };
  };
  const sameBits = (a: Float32Array, b: Float32Array) =>
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const mono16 = (rate: number, seconds: number) => native.encodeWav16(noiseLike(Math.round(rate * seconds), rate + 1), rate);
  const stereo16 = (rate: number, seconds: number) => {
    const left = noiseLike(Math.round(rate * seconds), rate + 2);
    const right = noiseLike(left.length, rate + 3);
    const codes: number[] = [];
    left.forEach((v, i) => codes.push(Math.round(v * 30000), Math.round(right[i] * 30000)));
    return writeWav({ sampleRate: rate, channels: 2, encoding: { format: 'pcm', bits: 16 }, codes });
  };
  const float32 = (rate: number, seconds: number) =>
    writeWav({ sampleRate: rate, channels: 1, encoding: { format: 'float', bits: 32 }, codes: Array.from(noiseLike(Math.round(rate * seconds), rate + 4)) });

  test.each([
    ['16-bit mono 48 kHz, longer than the crop', () => mono16(48000, 3.7)],
    ['16-bit mono 48 kHz, shorter than the crop (zeros after it)', () => mono16(48000, 1.3)],
    ['16-bit stereo 44.1 kHz', () => stereo16(44100, 2.2)],
    ['float32 mono 16 kHz (no resampling)', () => float32(16000, 3.9)],
  ])('%s', (_name, make) => {
    const wav = make();
    const expected = stepwise(wav);
    const features = new Float32Array(expected.features.length).fill(7);
    const audio = new Float32Array(length).fill(7);
    const row = native.clipRowInto(wav, config, start, length, features, audio);
    expect(row.written).toBe(true);
    expect(row.resampledLength).toBe(native.resample(native.decodeWav(wav).samples, native.decodeWav(wav).sampleRate, 16000).length);
    expect(sameBits(features, expected.features)).toBe(true);
    expect(sameBits(audio, expected.cropped)).toBe(true);
  });

  test('a clip that ends before the crop starts writes nothing; a row of the wrong size is refused', () => {
    const features = new Float32Array(301 * 40).fill(7);
    const short = native.clipRowInto(mono16(48000, 0.4), config, start, length, features);
    expect(short).toEqual({ sourceSampleRate: 48000, seconds: 0.4, resampledLength: 6400, written: false });
    expect(features.every((v) => v === 7)).toBe(true);
    expect(() => native.clipRowInto(mono16(48000, 3.5), config, start, length, new Float32Array(100))).toThrow(
      /features are 301x40, the row holds 100 floats/,
    );
  });
});
