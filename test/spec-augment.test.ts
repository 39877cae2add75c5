// SpecAugment masks: spans of frames and bands of coefficients set to 0 (a standardised row's mean),
// no wider than asked, drawn from (seed, epoch, item) alone; bad specs are usage errors.
import { DEFAULT_SPEC_AUGMENT, maskRow, maskSeed, parseSpecAugment } from '../src/augment/spec-augment';
import { OptionsError } from '../src/errors';

const frames = 301;
const coeffs = 40;
const row = () => Float32Array.from({ length: frames * coeffs }, (_, i) => 1 + (i % 7));

test('masks zero at most the asked spans and bands, the same for the same (seed, epoch, item), others for others', () => {
  const spec = { timeMasks: 2, maxFrames: 20, coeffMasks: 2, maxCoeffs: 4 };
  let masked = 0;
  for (let item = 0; item < 50; item++) {
    const a = row();
    maskRow(a, coeffs, spec, maskSeed(7, 3, item));
    const b = row();
    maskRow(b, coeffs, spec, maskSeed(7, 3, item));
    expect(Array.from(b)).toEqual(Array.from(a));
    // Which frames are all zero, and which coefficients are zero in every frame.
    const zeroFrames = Array.from({ length: frames }, (_, t) => a.subarray(t * coeffs, (t + 1) * coeffs).every((v) => v === 0)).filter(Boolean).length;
    const zeroCoeffs = Array.from({ length: coeffs }, (_, c) => Array.from({ length: frames }, (_, t) => a[t * coeffs + c]).every((v) => v === 0)).filter(Boolean).length;
    expect(zeroFrames).toBeLessThanOrEqual(2 * 20);
    expect(zeroCoeffs).toBeLessThanOrEqual(2 * 4);
    // Every zero is in a masked frame or a masked coefficient; nothing else changed.
    const reference = row();
    for (let i = 0; i < a.length; i++) if (a[i] !== 0) expect(a[i]).toBe(reference[i]);
    masked += zeroFrames + zeroCoeffs;
  }
  expect(masked).toBeGreaterThan(50 * 10);
  const other = row();
  maskRow(other, coeffs, spec, maskSeed(7, 4, 0));
  const first = row();
  maskRow(first, coeffs, spec, maskSeed(7, 3, 0));
  expect(Array.from(other)).not.toEqual(Array.from(first));
});

test('the flag\'s text parses to a spec; bad text is a usage error that names the flag', () => {
  expect(parseSpecAugment('2,20,2,4')).toEqual(DEFAULT_SPEC_AUGMENT);
  expect(parseSpecAugment('1, 10, 0, 0')).toEqual({ timeMasks: 1, maxFrames: 10, coeffMasks: 0, maxCoeffs: 0 });
  for (const bad of ['2,20,2', '2,20,2,-1', 'a,b,c,d', '2,20,2,4,5']) {
    expect(() => parseSpecAugment(bad)).toThrow(OptionsError);
    expect(() => parseSpecAugment(bad)).toThrow(/--spec-augment/);
  }
});
