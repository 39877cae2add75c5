// Seeded integer random numbers for the synthesiser: seeds mixed from parts, mulberry32 draws. No
// Math.random anywhere in synth/, so a corpus is a pure function of its seed.

// ---------------------------------------------------------------------------------------------- random numbers

/** Murmur3's 32-bit finaliser: a good avalanche for seeds. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed from numbers (any safe integer) and strings, order-sensitive. */
export function mixSeed(...parts: readonly (number | string)[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (typeof part === 'number') {
      const low = part >>> 0;
      const high = Math.floor(part / 4294967296) >>> 0;
      h = fmix32(h ^ Math.imul(low ^ 0x27d4eb2f, 0x165667b1));
      h = fmix32(h ^ Math.imul(high ^ 0x61c88647, 0x85ebca77));
    } else {
      let s = 0x811c9dc5; // FNV-1a
      for (let i = 0; i < part.length; i++) s = Math.imul(s ^ part.charCodeAt(i), 0x01000193);
      h = fmix32(h ^ fmix32(s ^ part.length));
    }
  }
  return h;
}

/** mulberry32: tiny, fast, good enough for parameter draws (a few hundred per clip). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in (0, 1). */
  uniform(): number {
    return (this.uint32() + 0.5) / 4294967296;
  }

  range(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Standard normal (Box-Muller, one value per call). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** exp(sigma * N(0, 1)): a multiplicative spread. */
  logNormal(sigma: number): number {
    return Math.exp(sigma * this.normal());
  }

  /** Index drawn with the given weights (they need not sum to 1). */
  pick(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let u = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u <= 0) return i;
    }
    return weights.length - 1;
  }
}

export const clamp = (x: number, low: number, high: number): number => (x < low ? low : x > high ? high : x);
