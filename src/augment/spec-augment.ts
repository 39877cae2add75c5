// SpecAugment-style masking of feature rows during training (Park et al., 2019): a few spans of frames
// and a few bands of coefficients of a standardised row are set to 0, its mean, so the model cannot
// lean on any one moment or band. Drawn per (seed, epoch, item): a resumed run masks as before.
import { OptionsError } from '../errors';
import { seededUniform } from './random';

/** How many spans of frames and bands of coefficients to mask, and their widest. */
export interface SpecAugmentSpec {
  timeMasks: number;
  maxFrames: number;
  coeffMasks: number;
  maxCoeffs: number;
}

/** Two spans of up to 20 frames (0.2 s each at a 10 ms hop) and two bands of up to 4 coefficients. */
export const DEFAULT_SPEC_AUGMENT: SpecAugmentSpec = { timeMasks: 2, maxFrames: 20, coeffMasks: 2, maxCoeffs: 4 };

export function validateSpecAugment(spec: SpecAugmentSpec): void {
  for (const [name, value] of Object.entries(spec)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new OptionsError(`specAugment (--spec-augment) ${name} must be a non-negative integer, got ${value}`);
  }
}

/** Parses 'timeMasks,maxFrames,coeffMasks,maxCoeffs' (e.g. '2,20,2,4'). */
export function parseSpecAugment(text: string): SpecAugmentSpec {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((p) => !Number.isSafeInteger(p) || p < 0)) {
    throw new OptionsError(`--spec-augment takes timeMasks,maxFrames,coeffMasks,maxCoeffs as four non-negative integers (e.g. 2,20,2,4), got '${text}'`);
  }
  const [timeMasks, maxFrames, coeffMasks, maxCoeffs] = parts;
  return { timeMasks, maxFrames, coeffMasks, maxCoeffs };
}

/** The seed of one row's masks in one epoch. */
export function maskSeed(seed: number, epoch: number, item: number): number {
  return Math.floor(seededUniform(seed * 1000003 + epoch * 15485863 + item * 32452843 + 17)() * 2 ** 32);
}

/** Masks a standardised row of frames x coeffs in place (a span's width is uniform in 0..max). */
export function maskRow(row: Float32Array, coeffs: number, spec: SpecAugmentSpec, seed: number): void {
  const frames = row.length / coeffs;
  const random = seededUniform(seed);
  for (let m = 0; m < spec.timeMasks; m++) {
    const width = Math.min(frames, Math.floor(random() * (spec.maxFrames + 1)));
    const start = Math.floor(random() * (frames - width + 1));
    row.fill(0, start * coeffs, (start + width) * coeffs);
  }
  for (let m = 0; m < spec.coeffMasks; m++) {
    const width = Math.min(coeffs, Math.floor(random() * (spec.maxCoeffs + 1)));
    const start = Math.floor(random() * (coeffs - width + 1));
    if (width === 0) continue;
    for (let t = 0; t < frames; t++) row.fill(0, t * coeffs + start, t * coeffs + start + width);
  }
}
