// What is said: vowel and consonant tables (male-scale formant targets) and the seeded syllable streams
// that make a sentence repeat across emotions.
import type { Rng } from './random';

/** Vowel formant targets F1..F3 of an adult male (Hillenbrand et al. 1995, rounded): ɑ i u ɛ o æ ʌ. */
export const VOWELS: readonly (readonly [number, number, number])[] = [
  [768, 1333, 2522],
  [342, 2322, 3000],
  [378, 997, 2343],
  [580, 1799, 2605],
  [497, 910, 2459],
  [669, 1720, 2410],
  [623, 1200, 2550],
];
export const SCHWA: readonly [number, number, number] = [500, 1500, 2500];

// ---------------------------------------------------------------------------------------------- content

/** What is said: syllables drawn from seeded streams, so the same sentence repeats across emotions. */
export interface UtteranceContent {
  /** Seed of a carrier phrase spoken first (TESS: "say the word"), and its syllable count (0: none). */
  prefixSeed: number;
  prefixSyllables: number;
  /** Seed of the sentence (or target word). */
  seed: number;
}


interface Consonant {
  kind: 'none' | 'plosive' | 'voicedPlosive' | 'fricative' | 'h' | 'sonorant';
  /** Formant locus (plosives, fricatives) or murmur formants (sonorants), male scale. */
  formants: readonly [number, number, number];
  noiseHz: number;
  noiseBandwidthHz: number;
  noiseGain: number;
  /** Voicing of a sonorant relative to a vowel. */
  voice: number;
  weight: number;
}

export const CONSONANTS: readonly Consonant[] = [
  { kind: 'none', formants: SCHWA, noiseHz: 0, noiseBandwidthHz: 0, noiseGain: 0, voice: 0, weight: 0.1 },
  { kind: 'plosive', formants: [250, 800, 2200], noiseHz: 1000, noiseBandwidthHz: 1500, noiseGain: 0.5, voice: 0, weight: 0.07 }, // p
  { kind: 'plosive', formants: [250, 1800, 2700], noiseHz: 4000, noiseBandwidthHz: 2500, noiseGain: 0.8, voice: 0, weight: 0.07 }, // t
  { kind: 'plosive', formants: [250, 2000, 2500], noiseHz: 2200, noiseBandwidthHz: 1200, noiseGain: 0.8, voice: 0, weight: 0.07 }, // k
  { kind: 'voicedPlosive', formants: [250, 800, 2200], noiseHz: 1000, noiseBandwidthHz: 1500, noiseGain: 0.3, voice: 0, weight: 0.05 }, // b
  { kind: 'voicedPlosive', formants: [250, 1800, 2700], noiseHz: 4000, noiseBandwidthHz: 2500, noiseGain: 0.45, voice: 0, weight: 0.05 }, // d
  { kind: 'voicedPlosive', formants: [250, 2000, 2500], noiseHz: 2200, noiseBandwidthHz: 1200, noiseGain: 0.45, voice: 0, weight: 0.05 }, // g
  { kind: 'fricative', formants: [300, 1700, 2700], noiseHz: 5500, noiseBandwidthHz: 2500, noiseGain: 0.5, voice: 0, weight: 0.09 }, // s
  { kind: 'fricative', formants: [300, 1900, 2500], noiseHz: 2800, noiseBandwidthHz: 1500, noiseGain: 0.5, voice: 0, weight: 0.04 }, // sh
  { kind: 'fricative', formants: [300, 900, 2300], noiseHz: 5000, noiseBandwidthHz: 6000, noiseGain: 0.15, voice: 0, weight: 0.05 }, // f
  { kind: 'h', formants: SCHWA, noiseHz: 0, noiseBandwidthHz: 0, noiseGain: 0, voice: 0, weight: 0.04 }, // h
  { kind: 'sonorant', formants: [280, 1000, 2200], noiseHz: 0, noiseBandwidthHz: 0, noiseGain: 0, voice: 0.25, weight: 0.07 }, // m
  { kind: 'sonorant', formants: [280, 1500, 2500], noiseHz: 0, noiseBandwidthHz: 0, noiseGain: 0, voice: 0.25, weight: 0.08 }, // n
  { kind: 'sonorant', formants: [360, 1200, 2800], noiseHz: 0, noiseBandwidthHz: 0, noiseGain: 0, voice: 0.55, weight: 0.07 }, // l
  { kind: 'sonorant', formants: [350, 1100, 1600], noiseHz: 0, noiseBandwidthHz: 0, noiseGain: 0, voice: 0.55, weight: 0.06 }, // r
  { kind: 'sonorant', formants: [300, 700, 2200], noiseHz: 0, noiseBandwidthHz: 0, noiseGain: 0, voice: 0.55, weight: 0.04 }, // w
];
const CONSONANT_WEIGHTS = CONSONANTS.map((c) => c.weight);

interface SyllableText {
  consonant: number;
  vowel: number;
  accent: boolean;
  wordEnd: boolean;
}

export function syllableText(rng: Rng, first: boolean): SyllableText {
  return {
    consonant: rng.pick(CONSONANT_WEIGHTS),
    vowel: Math.floor(rng.uniform() * VOWELS.length),
    accent: rng.uniform() < (first ? 0.6 : 0.35),
    wordEnd: rng.uniform() < 0.4,
  };
}
