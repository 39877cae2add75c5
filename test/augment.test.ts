// Native augmentations: pitch, stretch, noise, shift, speed, the seeded AugmentSpec, and bad input.
import { augment, drawAugmentPlan, specFromNames, AugmentSpecError } from '../src/augment/spec';
import { extractFeaturesSync } from '../src/clips/extract';
import { native } from '../src/native';
import { speechLike } from '../bench/signals';
import { estimateF0, harmonicTone, snrDb } from './helpers/signals';

const SR = 16000;

describe('pitch shift keeps length and moves f0 by 2^(s/12) (within 1%)', () => {
  const cases: [number, number][] = [];
  for (const f0 of [150, 230, 300]) for (const s of [-4, -2, 2, 4]) cases.push([f0, s]);
  test.each(cases)('f0 %i Hz, %i semitones', (f0, semitones) => {
    const x = harmonicTone(f0, 1.2, SR);
    const y = native.pitchShift(x, semitones, SR);
    expect(y.length).toBe(x.length);
    const expected = f0 * 2 ** (semitones / 12);
    expect(Math.abs(estimateF0(y, SR) / expected - 1)).toBeLessThan(0.01);
  });
});

describe('time stretch changes length to round(n / rate) and keeps f0 (within 1%)', () => {
  const cases: [number, number][] = [];
  for (const f0 of [150, 300]) for (const rate of [0.8, 0.9, 1.1, 1.25]) cases.push([f0, rate]);
  test.each(cases)('f0 %i Hz, rate %f', (f0, rate) => {
    const x = harmonicTone(f0, 1.2, SR);
    const y = native.timeStretch(x, rate, SR);
    expect(y.length).toBe(Math.round(x.length / rate));
    expect(Math.abs(estimateF0(y, SR) / f0 - 1)).toBeLessThan(0.01);
  });
});

describe('stretch then inverse stretch keeps the log-mel spectrum of speech-like audio', () => {
  // Mean over frames of the RMS dB difference across 64 mel bands (frame-wise log-spectral distance),
  // and the same on the clip's average spectrum. Measured for WSOLA round trips: 0.5-1.8 dB frame-wise,
  // 0.3-0.9 dB on average. For scale: a 10 ms shift alone gives 2.9 dB, a 1-semitone pitch error 5 dB.
  const x = speechLike(3, SR, 11);
  const logmel = (s: Float32Array) => extractFeaturesSync({ samples: s }, { kind: 'logmel' });
  function distances(a: Float32Array, b: Float32Array): { frames: number; average: number } {
    const A = logmel(a);
    const B = logmel(b);
    const frames = Math.min(A.frames, B.frames);
    const bands = A.coeffs;
    let frameSum = 0;
    const meanA = new Float64Array(bands);
    const meanB = new Float64Array(bands);
    for (let t = 0; t < frames; t++) {
      let s = 0;
      for (let m = 0; m < bands; m++) {
        const va = A.data[t * bands + m];
        const vb = B.data[t * bands + m];
        s += (va - vb) ** 2;
        meanA[m] += va / frames;
        meanB[m] += vb / frames;
      }
      frameSum += Math.sqrt(s / bands);
    }
    let avg = 0;
    for (let m = 0; m < bands; m++) avg += (meanA[m] - meanB[m]) ** 2;
    return { frames: frameSum / frames, average: Math.sqrt(avg / bands) };
  }

  test.each([0.8, 0.9, 1.1, 1.25])('rate %f: frame-wise < 3 dB, average < 1.5 dB', (rate) => {
    const roundTrip = native.timeStretch(native.timeStretch(x, rate, SR), 1 / rate, SR);
    expect(Math.abs(roundTrip.length - x.length)).toBeLessThanOrEqual(1);
    const d = distances(x, roundTrip.subarray(0, Math.min(x.length, roundTrip.length)));
    expect(d.frames).toBeLessThan(3);
    expect(d.average).toBeLessThan(1.5);
  });

  test('the measure does see a real spectral change (1 semitone of pitch)', () => {
    expect(distances(x, native.pitchShift(x, 1, SR)).frames).toBeGreaterThan(3);
  });
});

describe('noise at an SNR', () => {
  const x = speechLike(1, SR, 3);
  test.each([
    [0, 'white'], [10, 'white'], [25, 'white'], [5, 'pink'], [20, 'pink'],
  ] as [number, 'white' | 'pink'][])('%i dB %s: measured within 0.2 dB', (target, color) => {
    const y = native.addNoise(x, target, 42, color);
    expect(Math.abs(snrDb(x, y) - target)).toBeLessThan(0.2);
  });

  test('pink noise falls 3 dB per octave; white noise is flat', () => {
    // Hann-windowed 1024-point spectra: a rectangular window leaks the strong lows of pink noise
    // into the high bands and hides the slope.
    const impulse = Float32Array.from({ length: 262144 }, (_, i) => (i === 0 ? 1 : 0));
    const octaves = [[4, 8], [8, 16], [16, 32], [32, 64], [64, 128], [128, 256], [256, 512]];
    const slopes = (y: Float32Array) => {
      const frames = Math.floor(y.length / 1024);
      const windowed = new Float32Array(frames * 1024);
      for (let i = 0; i < windowed.length; i++) windowed[i] = y[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * (i % 1024)) / 1024));
      const spectrum = native.rfft(windowed, 1024);
      const db = octaves.map(([lo, hi]) => {
        let e = 0;
        for (let f = 0; f < frames; f++) for (let k = lo; k < hi; k++) e += spectrum[(f * 513 + k) * 2] ** 2 + spectrum[(f * 513 + k) * 2 + 1] ** 2;
        return 10 * Math.log10(e / (hi - lo));
      });
      return db.slice(1).map((v, i) => v - db[i]);
    };
    for (const slope of slopes(native.addNoise(impulse, 0, 9, 'pink'))) expect(Math.abs(slope + 3)).toBeLessThan(1);
    for (const slope of slopes(native.addNoise(impulse, 0, 9, 'white'))) expect(Math.abs(slope)).toBeLessThan(1);
  });

  test('same seed, same noise; another seed, other noise', () => {
    expect(Buffer.from(native.addNoise(x, 10, 1).buffer).equals(Buffer.from(native.addNoise(x, 10, 1).buffer))).toBe(true);
    expect(Buffer.from(native.addNoise(x, 10, 1).buffer).equals(Buffer.from(native.addNoise(x, 10, 2).buffer))).toBe(false);
  });
});

describe('time shift', () => {
  const onset = (y: Float32Array) => y.findIndex((v) => Math.abs(v) > 0.01);
  const x = new Float32Array(4000);
  x.set(harmonicTone(200, 0.1, SR), 1000);

  test.each([1, 37, 800, -500])('zero mode moves the onset by exactly %i samples', (shift) => {
    const y = native.timeShift(x, shift, 'zero');
    expect(y.length).toBe(x.length);
    expect(onset(y)).toBe(onset(x) + shift);
  });

  test('roll wraps the end around to the start and keeps every sample', () => {
    const y = native.timeShift(x, 3500, 'roll');
    expect(onset(y)).toBe((onset(x) + 3500) % 4000);
    expect(Array.from(y).sort().join()).toBe(Array.from(x).sort().join());
  });
});

test('speed changes length by 1/factor and f0 by factor', () => {
  const x = harmonicTone(200, 1.2, SR);
  const y = native.changeSpeed(x, 1.1);
  expect(Math.abs(y.length - x.length / 1.1)).toBeLessThan(2);
  expect(Math.abs(estimateF0(y, SR) / 220 - 1)).toBeLessThan(0.01);
});

describe('bad input gives clear errors', () => {
  const x = harmonicTone(200, 0.2, SR);
  test.each([
    ['stretch rate below 0.5', () => native.timeStretch(x, 0.4, SR), /rate must be from 0.5 to 2, got 0.4/],
    ['stretch rate above 2', () => native.timeStretch(x, 2.5, SR), /rate must be from 0.5 to 2/],
    ['more than 12 semitones', () => native.pitchShift(x, 13, SR), /semitones must be within \+-12, got 13/],
    ['SNR not finite', () => native.addNoise(x, NaN, 1), /snrDb must be finite/],
    ['SNR infinite', () => native.addNoise(x, Infinity, 1), /snrDb must be finite/],
    ['silent clip with noise', () => native.addNoise(new Float32Array(100), 10, 1), /silent/],
    ['empty input', () => native.timeStretch(new Float32Array(0), 1.1, SR), /no samples/],
    ['non-finite sample', () => native.pitchShift(Float32Array.from([0, NaN, 0]), 2, SR), /non-finite sample at index 1/],
    ['speed factor', () => native.changeSpeed(x, 3), /factor must be from 0.5 to 2/],
    ['shift mode', () => native.timeShift(x, 3, 'wrap' as never), /mode must be 'roll' or 'zero'/],
  ] as [string, () => unknown, RegExp][])('%s', (_name, call, message) => {
    expect(call).toThrow(message);
  });
});

describe('AugmentSpec', () => {
  const x = speechLike(1, SR, 5);
  const spec = specFromNames(['noise', 'shift', 'stretch', 'pitch', 'speed'], 0.6);

  test('the same seed gives the same plan and bit-identical audio; another seed differs', () => {
    const a = augment(x, SR, spec, 1234);
    const b = augment(x, SR, spec, 1234);
    expect(b.plan).toEqual(a.plan);
    expect(Buffer.from(b.samples.buffer).equals(Buffer.from(a.samples.buffer))).toBe(true);
    expect(drawAugmentPlan(spec, 1235)).not.toEqual(a.plan);
  });

  test('every plan has at least one step, in the fixed order, with parameters inside the ranges', () => {
    const order = ['speed', 'pitch', 'stretch', 'shift', 'noise'];
    for (let seed = 0; seed < 200; seed++) {
      const plan = drawAugmentPlan(spec, seed);
      expect(plan.steps.length).toBeGreaterThan(0);
      const kinds = plan.steps.map((s) => s.kind);
      expect([...kinds].sort((p, q) => order.indexOf(p) - order.indexOf(q))).toEqual(kinds);
      for (const step of plan.steps) {
        if (step.kind === 'pitch') expect(Math.abs(step.semitones)).toBeLessThanOrEqual(2);
        if (step.kind === 'noise') expect(step.snrDb).toBeGreaterThanOrEqual(10);
        if (step.kind === 'stretch') expect(step.rate).toBeGreaterThanOrEqual(0.85);
      }
    }
  });

  test('probability 0 on all but one augmentation applies only that one', () => {
    const only = drawAugmentPlan({ probability: 0, noise: { snrDb: [5, 5] } }, 3);
    expect(only.steps).toEqual([{ kind: 'noise', snrDb: 5, color: 'white', seed: expect.any(Number) }]);
  });

  test('bad specs are refused', () => {
    expect(() => specFromNames(['reverb'])).toThrow(AugmentSpecError);
    expect(() => drawAugmentPlan({ stretch: { rate: [0.2, 1] } }, 1)).toThrow(/stretch rate range \[0.2, 1\] must lie within \[0.5, 2\]/);
    expect(() => drawAugmentPlan({ pitch: { semitones: [3, 1] } }, 1)).toThrow(/min <= max/);
    expect(() => drawAugmentPlan({ probability: 2, noise: { snrDb: [1, 2] } }, 1)).toThrow(/probability/);
  });
});
