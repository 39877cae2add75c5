// FeatureConfig defaults and validation, and the feature options of non-default configs.
import { DEFAULT_FEATURE_CONFIG, FeatureConfigError, resolveFeatureConfig } from '../src/features/config';
import { extractFeaturesSync } from '../src/clips/extract';
import { native } from '../src/native';

describe('resolveFeatureConfig', () => {
  test('defaults are DESIGN section 3, fmax follows the sample rate', () => {
    expect(resolveFeatureConfig()).toEqual({ ...DEFAULT_FEATURE_CONFIG, fmax: 8000 });
    expect(resolveFeatureConfig({ sampleRate: 22050 }).fmax).toBe(11025);
    expect(resolveFeatureConfig({ fmax: undefined }).fmax).toBe(8000);
  });

  test.each([
    [{ nFft: 511 }, /nFft \(--n-fft\) must be even/],
    [{ nFft: 0 }, /nFft \(--n-fft\) must be an integer from 2/],
    [{ winLength: 600 }, /winLength \(--win-length\) must be an integer from 1 to 512/],
    [{ hopLength: 0 }, /hopLength/],
    [{ nMfcc: 65 }, /nMfcc \(--n-mfcc\) must be an integer from 1 to 64/],
    [{ fmax: 9000 }, /fmax \(--fmax\) must be above fmin \(0\) and at most sampleRate\/2 \(8000\)/],
    [{ fmin: -1 }, /fmin/],
    [{ melScale: 'bark' as never }, /melScale \(--mel-scale\) must be one of slaney, htk/],
    [{ topDb: -3 }, /topDb \(--top-db\)/],
    [{ sampleRate: 16000.5 }, /sampleRate \(--sample-rate\)/],
  ])('%j is refused', (options, message) => {
    expect(() => resolveFeatureConfig(options)).toThrow(FeatureConfigError);
    expect(() => resolveFeatureConfig(options)).toThrow(message);
  });
});

describe('options change the features as librosa would', () => {
  const samples = Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i * 0.3) * 0.4 + Math.sin(i * 0.05) * 0.2);

  test('frame counts: centred 1 + n // hop, uncentred 1 + (n - nFft) // hop', () => {
    expect(extractFeaturesSync({ samples }).frames).toBe(1 + Math.floor(8000 / 160));
    expect(extractFeaturesSync({ samples }, { center: false }).frames).toBe(1 + Math.floor((8000 - 512) / 160));
    expect(extractFeaturesSync({ samples }, { hopLength: 256, nFft: 1024, winLength: 1024 }).frames).toBe(1 + Math.floor(8000 / 256));
  });

  test('topDb none keeps values more than 80 dB below the maximum; the default floors them', () => {
    const quiet = new Float32Array(8000);
    quiet[4000] = 0.9;
    const floored = extractFeaturesSync({ samples: quiet }, { kind: 'logmel' });
    const open = extractFeaturesSync({ samples: quiet }, { kind: 'logmel', topDb: null });
    const min = (a: Float32Array) => a.reduce((m, v) => Math.min(m, v), Infinity);
    const max = (a: Float32Array) => a.reduce((m, v) => Math.max(m, v), -Infinity);
    expect(min(floored.data)).toBeCloseTo(max(floored.data) - 80, 4);
    expect(min(open.data)).toBeCloseTo(-100, 4);
  });

  test('HTK scale and no norm give a different, unnormalised basis with peaks of 1', () => {
    const basis = native.melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, fmin: 0, fmax: 8000, melScale: 'htk', melNorm: 'none' });
    const rowMax = (r: number) => Math.max(...basis.data.subarray(r * basis.cols, (r + 1) * basis.cols));
    expect(rowMax(20)).toBeGreaterThan(0.5);
    expect(rowMax(20)).toBeLessThanOrEqual(1);
  });

  test('samples at another rate are resampled to config.sampleRate first', () => {
    const at8k = extractFeaturesSync({ samples, sampleRate: 8000 });
    expect(at8k.sourceSampleRate).toBe(8000);
    expect(at8k.frames).toBe(1 + Math.floor(16000 / 160));
  });

  test('the native layer refuses configs the TS layer would refuse, without crashing', () => {
    const bad = { ...resolveFeatureConfig(), nFft: 3 };
    expect(() => native.computeFeatures(samples, bad)).toThrow(/nFft must be an even number/);
    expect(() => native.computeFeatures(samples, { ...resolveFeatureConfig(), kind: 'cqt' as never })).toThrow(/kind must be/);
    expect(() => native.computeFeatures(new Float32Array(0), resolveFeatureConfig())).toThrow(/no samples/);
    expect(() => native.computeFeatures(new Float32Array(100), { ...resolveFeatureConfig(), center: false })).toThrow(/fewer than nFft=512/);
  });
});
