// Per-coefficient standardisation of feature rows (frames x coeffs): over the training rows (global),
// over each speaker's own rows (speaker: cepstral mean and variance normalisation, which removes most
// of what a voice adds to MFCCs), or over each row itself (utterance).
import { native } from '../native';

/** How rows are standardised before the model sees them (`ser train --normalize`). */
export const NORMALISE_MODES = ['global', 'speaker', 'utterance'] as const;
/** global: over the training rows; speaker: over each speaker's own rows; utterance: over each clip. */
export type NormaliseMode = (typeof NORMALISE_MODES)[number];

/** Per-coefficient mean and standard deviation. */
export interface Moments {
  mean: Float32Array;
  std: Float32Array;
}

// A coefficient that never moves (a padded or floored band) is left at unit scale instead of blown up.
const MIN_STD = 1e-6;

/** Sums over the frames of any number of rows, in double; moments() reads them out. */
export class MomentAccumulator {
  private readonly sum: Float64Array;
  private readonly sumSquares: Float64Array;
  private frames = 0;

  constructor(readonly coeffs: number) {
    this.sum = new Float64Array(coeffs);
    this.sumSquares = new Float64Array(coeffs);
  }

  get count(): number {
    return this.frames;
  }

  /** Adds a row of frames x coeffs values. */
  add(row: Float32Array): void {
    const { coeffs } = this;
    if (row.length % coeffs !== 0) throw new Error(`a row of ${row.length} values is not whole frames of ${coeffs} coefficients`);
    for (let offset = 0; offset < row.length; offset += coeffs) {
      for (let c = 0; c < coeffs; c++) {
        const v = row[offset + c];
        this.sum[c] += v;
        this.sumSquares[c] += v * v;
      }
    }
    this.frames += row.length / coeffs;
  }

  /** Adds another accumulator's rows. */
  merge(other: MomentAccumulator): void {
    if (other.coeffs !== this.coeffs) throw new Error(`cannot merge moments of ${other.coeffs} coefficients into ${this.coeffs}`);
    for (let c = 0; c < this.coeffs; c++) {
      this.sum[c] += other.sum[c];
      this.sumSquares[c] += other.sumSquares[c];
    }
    this.frames += other.frames;
  }

  moments(): Moments {
    if (this.frames === 0) throw new Error('cannot take moments of no rows');
    const mean = new Float32Array(this.coeffs);
    const std = new Float32Array(this.coeffs);
    for (let c = 0; c < this.coeffs; c++) {
      const m = this.sum[c] / this.frames;
      const s = Math.sqrt(Math.max(this.sumSquares[c] / this.frames - m * m, 0));
      mean[c] = m;
      std[c] = s > MIN_STD ? s : 1;
    }
    return { mean, std };
  }
}

/** The moments of one row over its own frames (utterance normalisation). */
export function rowMoments(row: Float32Array, coeffs: number): Moments {
  const accumulator = new MomentAccumulator(coeffs);
  accumulator.add(row);
  return accumulator.moments();
}

/** Moments that leave rows as they are. */
export function identityMoments(coeffs: number): Moments {
  return { mean: new Float32Array(coeffs), std: new Float32Array(coeffs).fill(1) };
}

/**
 * How a run standardises its rows. global: `mean` and `std` per coefficient over all frames of the
 * training rows. speaker: each speaker's own moments (`speakers`), over that speaker's original rows.
 * utterance: each row's own moments. A row whose speaker has no moments is standardised on its own.
 */
export interface Normalisation {
  mode: NormaliseMode;
  /** global: fitted on the training rows; other modes: zeros and ones. */
  mean: Float32Array;
  std: Float32Array;
  speakers: ReadonlyMap<string, Moments>;
}

/** The moments that standardise `row` (of speaker `speaker`, when known) under `norm`. */
export function momentsFor(norm: Normalisation, row: Float32Array, coeffs: number, speaker?: string): Moments {
  if (norm.mode === 'global') return { mean: norm.mean, std: norm.std };
  const own = norm.mode === 'speaker' && speaker !== undefined ? norm.speakers.get(speaker) : undefined;
  return own ?? rowMoments(row, coeffs);
}

/**
 * Standardises a row of frames x coeffs in place: (value - mean) / std per coefficient, each value
 * computed in double and rounded to float once (the addon's loop; the batch worker runs it for every
 * training row, on a core the training steps share).
 */
export function standardiseRow(row: Float32Array, coeffs: number, moments: Moments): void {
  native.standardiseFrames(row, coeffs, moments.mean, moments.std);
}

/**
 * Standardises `rows` rows of `features` in place under `norm`; `speakers` names each row's speaker
 * (speaker normalisation looks its moments up by it).
 */
export function standardiseRows(norm: Normalisation, features: Float32Array, rows: number, coeffs: number, speakers?: readonly (string | undefined)[]): void {
  if (rows === 0) return;
  const rowSize = features.length / rows;
  for (let r = 0; r < rows; r++) {
    const row = features.subarray(r * rowSize, (r + 1) * rowSize);
    standardiseRow(row, coeffs, momentsFor(norm, row, coeffs, speakers?.[r]));
  }
}
