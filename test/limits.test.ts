// Inputs at and beyond the limits: each gives a clear Error instead of aborting, hanging or returning
// silent garbage (V8 aborts the process when an output buffer cannot be allocated, so sizes are checked first).
import { resolveFeatureConfig } from '../src/features/config';
import { native } from '../src/native';

const config = resolveFeatureConfig();

test.each([
  ['a resample that would need terabytes', () => native.resample(new Float32Array(2e6), 1, 16384), /would need 32768000000 floats, more than the limit/],
  // 16000/767999 does not reduce: scipy's filter would have 20 * 767999 + 1 taps.
  ['a rate pair whose resampling filter would have millions of taps', () => native.resample(new Float32Array(100), 767999, 16000), /needs a filter of 15359981 taps/],
  ['an FFT size with a large prime factor', () => native.rfft(new Float32Array(16382), 16382), /prime factor 8191 \(above 127\)/],
  // 2 x 256 x 2039: passed validation before and took minutes per second of audio (O(n p)).
  ['an FFT size whose half has the prime factor 2039', () => resolveFeatureConfig({ nFft: 1043968 }), /1043968 \/ 2 has 2039/],
  ['a NaN sample in features', () => native.computeFeatures(Float32Array.from([0, NaN, 0]), config), /non-finite sample \(NaN or Inf\) at index 1/],
  ['an Inf sample in the resampler', () => native.resample(Float32Array.from([0, Infinity]), 48000, 16000), /non-finite sample .* at index 1/],
  ['samples so large the power overflows float32', () => native.computeFeatures(new Float32Array(16000).fill(1e25), config), /overflowed float32/],
  ['a mel basis of gigabytes', () => native.melFilterbank({ sampleRate: 16000, nFft: 1 << 20, nMels: 4096, fmin: 0, fmax: 8000, melScale: 'slaney', melNorm: 'slaney' }), /must be at most 67108864/],
  ['the same configs in FeatureConfig, naming the flag', () => resolveFeatureConfig({ nFft: 1048574 }), /nFft \(--n-fft\) .* 1048574 \/ 2 has 524287/],
  ['a mel basis too large in FeatureConfig', () => resolveFeatureConfig({ nFft: 1 << 20, nMels: 4096 }), /nMels \(--n-mels\) x \(nFft\/2 \+ 1\) must be at most/],
] as [string, () => unknown, RegExp][])('%s', (_name, call, message) => {
  expect(call).toThrow(message);
});

test('a one-sample window is [1] as scipy.signal.get_window gives, and nFft 2 works', () => {
  const power = native.computeFeatures(Float32Array.from([1, 2, 3]), { ...config, kind: 'power', nFft: 2, winLength: 1, hopLength: 1 });
  // Centred frames of two samples, window [1, 0]: |X_0|^2 = |X_1|^2 = x[t - 1]^2.
  expect(Array.from(power.data)).toEqual([0, 0, 1, 1, 4, 4, 9, 9]);
});

test('shifts past the clip in either direction give silence', () => {
  const x = Float32Array.from([1, 2, 3, 4]);
  expect(Array.from(native.timeShift(x, -Number.MAX_SAFE_INTEGER, 'zero'))).toEqual([0, 0, 0, 0]);
  expect(Array.from(native.timeShift(x, 4, 'zero'))).toEqual([0, 0, 0, 0]);
  expect(Array.from(native.timeShift(x, -1, 'roll'))).toEqual([2, 3, 4, 1]);
});

test('the feature limits come from the addon, and the config check and the engine agree at each edge', () => {
  expect(native.featureLimits).toEqual({ maxSampleRate: 768000, maxFftSize: 1 << 20, maxFftPrimeFactor: 127, maxMels: 4096, maxMelBasisFloats: 2 ** 26 });
  expect(Object.isFrozen(native.featureLimits)).toBe(true);
  const { maxMels, maxSampleRate } = native.featureLimits;
  // The largest band count passes both checks; one more fails both, the config's naming the flag.
  const widest = resolveFeatureConfig({ nMels: maxMels, nMfcc: 13, nFft: 8192, winLength: 8192 });
  expect(() => native.melFilterbank({ ...widest, fmin: widest.fmin, fmax: widest.fmax })).not.toThrow();
  expect(() => resolveFeatureConfig({ nMels: maxMels + 1, nFft: 8192, winLength: 8192 })).toThrow(/nMels \(--n-mels\)/);
  expect(() => native.computeFeatures(new Float32Array(8192), { ...widest, nMels: maxMels + 1 })).toThrow(/nMels must be 1\.\.4096/);
  expect(resolveFeatureConfig({ sampleRate: maxSampleRate }).sampleRate).toBe(maxSampleRate);
  expect(() => resolveFeatureConfig({ sampleRate: maxSampleRate + 1 })).toThrow(/sampleRate \(--sample-rate\)/);
});
