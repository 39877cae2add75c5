// FeatureConfig: DESIGN section 3 defaults, validation with messages that name the option, and the
// option table that CLI commands (features, prepare, ...) register from, so names stay in one place.
import { OptionsError } from '../errors';
import { native, type FeatureKind, type MelNorm, type MelScale, type NativeFeatureConfig } from '../native';

/** Every feature setting, resolved (what caches and models record). */
export type FeatureConfig = NativeFeatureConfig;
/** What a caller may pass: any subset; the rest comes from the defaults. fmax defaults to sampleRate / 2. */
export type FeatureOptions = Partial<FeatureConfig>;

/** The part of each clip that features are computed from: this long, from this offset (zero padded). */
export interface CropSpec {
  offsetSeconds: number;
  durationSeconds: number;
}

/** A bad feature option: an options error the message of which names the option and its flag. */
export class FeatureConfigError extends OptionsError {
  override name = 'FeatureConfigError';
}

/** The feature settings used where an option is not given (DESIGN section 3): 40 MFCC of 64 slaney mel bands, 25 ms windows every 10 ms at 16 kHz. */
export const DEFAULT_FEATURE_CONFIG: Readonly<Omit<FeatureConfig, 'fmax'>> = Object.freeze({
  kind: 'mfcc',
  sampleRate: 16000,
  nFft: 512,
  winLength: 400,
  hopLength: 160,
  nMels: 64,
  nMfcc: 40,
  fmin: 0,
  melScale: 'slaney',
  melNorm: 'slaney',
  topDb: 80,
  center: true,
  power: 2,
  ref: 1,
  amin: 1e-10,
});

export const FEATURE_KINDS: readonly FeatureKind[] = ['mfcc', 'logmel', 'power'];
export const MEL_SCALES: readonly MelScale[] = ['slaney', 'htk'];
export const MEL_NORMS: readonly MelNorm[] = ['slaney', 'none'];

type ValueKind = 'integer' | 'number' | 'choice' | 'dbOrNone' | 'negatedFlag';

/** One feature option: its FeatureConfig key, its command-line flag, how its value is read and what it means. */
export interface FeatureOptionSpec {
  key: keyof FeatureConfig;
  flag: string;
  valueKind: ValueKind;
  description: string;
  choices?: readonly string[];
}

/** The feature options every feature-computing command accepts, with their CLI flags. */
export const FEATURE_OPTION_SPECS: readonly FeatureOptionSpec[] = [
  { key: 'kind', flag: '--kind', valueKind: 'choice', choices: FEATURE_KINDS, description: 'feature kind' },
  { key: 'sampleRate', flag: '--sample-rate', valueKind: 'integer', description: 'resample the audio to this rate (Hz)' },
  { key: 'nFft', flag: '--n-fft', valueKind: 'integer', description: 'FFT size (even)' },
  { key: 'winLength', flag: '--win-length', valueKind: 'integer', description: 'window length in samples (<= n-fft)' },
  { key: 'hopLength', flag: '--hop-length', valueKind: 'integer', description: 'hop between frames in samples' },
  { key: 'nMels', flag: '--n-mels', valueKind: 'integer', description: 'mel bands' },
  { key: 'nMfcc', flag: '--n-mfcc', valueKind: 'integer', description: 'cepstral coefficients kept (<= n-mels)' },
  { key: 'fmin', flag: '--fmin', valueKind: 'number', description: 'lowest mel edge (Hz)' },
  { key: 'fmax', flag: '--fmax', valueKind: 'number', description: 'highest mel edge (Hz, default sample-rate/2)' },
  { key: 'melScale', flag: '--mel-scale', valueKind: 'choice', choices: MEL_SCALES, description: 'mel scale' },
  { key: 'melNorm', flag: '--mel-norm', valueKind: 'choice', choices: MEL_NORMS, description: 'filter normalisation' },
  { key: 'topDb', flag: '--top-db', valueKind: 'dbOrNone', description: "floor at the clip's max minus this many dB, or 'none'" },
  { key: 'center', flag: '--no-center', valueKind: 'negatedFlag', description: 'frame without centre padding' },
];

function flagOf(key: keyof FeatureConfig): string {
  return FEATURE_OPTION_SPECS.find((s) => s.key === key)?.flag ?? key;
}

function fail(key: keyof FeatureConfig, message: string): never {
  throw new FeatureConfigError(`${key} (${flagOf(key)}) ${message}`);
}

function checkInteger(config: FeatureConfig, key: keyof FeatureConfig, min: number, max: number): void {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(key, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

function checkChoice(config: FeatureConfig, key: keyof FeatureConfig, choices: readonly string[]): void {
  const value = config[key];
  if (typeof value !== 'string' || !choices.includes(value)) {
    fail(key, `must be one of ${choices.join(', ')}, got ${String(value)}`);
  }
}

// The limits come from the addon, which defines them once (native/dsp), so the messages here name the
// flag and agree with what the engine accepts.
const LIMITS = native.featureLimits;
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;
const FLOAT32_MAX = 3.4028234663852886e38;

function largestPrimeFactor(n: number): number {
  let largest = 1;
  let rest = n;
  for (let p = 2; p * p <= rest; p++) {
    while (rest % p === 0) {
      largest = p;
      rest /= p;
    }
  }
  return rest > 1 ? rest : largest;
}

/** Fills defaults and checks every field; throws FeatureConfigError naming the first bad option. */
export function resolveFeatureConfig(options: FeatureOptions = {}): FeatureConfig {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as FeatureOptions;
  const sampleRate = defined.sampleRate ?? DEFAULT_FEATURE_CONFIG.sampleRate;
  const config: FeatureConfig = { ...DEFAULT_FEATURE_CONFIG, fmax: sampleRate / 2, ...defined };
  checkChoice(config, 'kind', FEATURE_KINDS);
  checkInteger(config, 'sampleRate', 1, LIMITS.maxSampleRate);
  checkInteger(config, 'nFft', 2, LIMITS.maxFftSize);
  if (config.nFft % 2 !== 0) fail('nFft', `must be even, got ${config.nFft}`);
  const prime = largestPrimeFactor(config.nFft / 2);
  if (prime > LIMITS.maxFftPrimeFactor) {
    fail('nFft', `must be a size whose half has no prime factor above ${LIMITS.maxFftPrimeFactor} (e.g. a power of two); ${config.nFft} / 2 has ${prime}`);
  }
  checkInteger(config, 'winLength', 1, config.nFft);
  checkInteger(config, 'hopLength', 1, Number.MAX_SAFE_INTEGER);
  checkInteger(config, 'nMels', 1, LIMITS.maxMels);
  checkInteger(config, 'nMfcc', 1, config.nMels);
  if (config.nMels * (config.nFft / 2 + 1) > LIMITS.maxMelBasisFloats) {
    fail('nMels', `x (nFft/2 + 1) must be at most ${LIMITS.maxMelBasisFloats} (the mel basis), got ${config.nMels} x ${config.nFft / 2 + 1}`);
  }
  if (!Number.isFinite(config.fmin) || config.fmin < 0) fail('fmin', `must be a number >= 0, got ${config.fmin}`);
  if (!Number.isFinite(config.fmax) || config.fmax <= config.fmin || config.fmax > config.sampleRate / 2) {
    fail('fmax', `must be above fmin (${config.fmin}) and at most sampleRate/2 (${config.sampleRate / 2}), got ${config.fmax}`);
  }
  checkChoice(config, 'melScale', MEL_SCALES);
  checkChoice(config, 'melNorm', MEL_NORMS);
  if (config.topDb !== null && (!Number.isFinite(config.topDb) || config.topDb < 0)) {
    fail('topDb', `must be a number >= 0 or none, got ${String(config.topDb)}`);
  }
  if (typeof config.center !== 'boolean') fail('center', 'must be true or false');
  if (!Number.isFinite(config.power) || config.power <= 0) fail('power', `must be > 0, got ${config.power}`);
  // Decibels are taken in float32: both must be normal float32 numbers (an amin that rounds to 0 turns
  // silence into -Infinity).
  if (!Number.isFinite(config.ref) || config.ref < FLOAT32_MIN_NORMAL || config.ref > FLOAT32_MAX) {
    fail('ref', `must be from ${FLOAT32_MIN_NORMAL} to ${FLOAT32_MAX} (float32), got ${config.ref}`);
  }
  if (!Number.isFinite(config.amin) || config.amin < FLOAT32_MIN_NORMAL || config.amin > FLOAT32_MAX) {
    fail('amin', `must be from ${FLOAT32_MIN_NORMAL} to ${FLOAT32_MAX} (float32), got ${config.amin}`);
  }
  return config;
}

/** Coefficients per frame for a resolved config. */
export function coeffsPerFrame(config: FeatureConfig): number {
  if (config.kind === 'power') return config.nFft / 2 + 1;
  return config.kind === 'logmel' ? config.nMels : config.nMfcc;
}
