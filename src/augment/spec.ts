// AugmentSpec: which augmentations, their ranges and probabilities; drawn with a seed into a concrete
// plan (recorded in manifests), then applied by the native effects in a fixed order.
import { OptionsError } from '../errors';
import { native, type NoiseColor, type ShiftMode } from '../native';
import { seededUniform } from './random';

/** The names of the augmentations: speed, pitch, stretch, shift, noise. */
export type AugmentKind = 'speed' | 'pitch' | 'stretch' | 'shift' | 'noise';
/** Application order: resampling effects first, noise last so its SNR holds on the final signal. */
export const AUGMENT_KINDS: readonly AugmentKind[] = ['speed', 'pitch', 'stretch', 'shift', 'noise'];

export type Range = readonly [number, number];

/** What online augmentation in training draws when no effects are named. */
export const DEFAULT_ONLINE_AUGMENT: readonly AugmentKind[] = ['noise', 'shift', 'pitch', 'stretch'];

/** Which augmentations a prepare or an online-augmenting train draws, with their ranges and probability. */
export interface AugmentSpec {
  /** Probability that each listed augmentation is applied to a copy (default 0.5). */
  probability?: number;
  noise?: { snrDb: Range; color?: NoiseColor; probability?: number };
  shift?: { maxSeconds: number; mode?: ShiftMode; probability?: number };
  stretch?: { rate: Range; probability?: number };
  pitch?: { semitones: Range; probability?: number };
  speed?: { factor: Range; probability?: number };
}

/** Ranges used when an augmentation is named without its own (e.g. `--augment noise,pitch`). */
export const DEFAULT_AUGMENT_SPEC: Required<Omit<AugmentSpec, 'probability'>> = {
  noise: { snrDb: [10, 30], color: 'white' },
  shift: { maxSeconds: 0.2, mode: 'roll' },
  stretch: { rate: [0.85, 1.15] },
  pitch: { semitones: [-2, 2] },
  speed: { factor: [0.9, 1.1] },
};

/** One concrete effect, as written into manifests. */
export type AugmentStep =
  | { kind: 'speed'; factor: number }
  | { kind: 'pitch'; semitones: number }
  | { kind: 'stretch'; rate: number }
  | { kind: 'shift'; seconds: number; mode: ShiftMode }
  | { kind: 'noise'; snrDb: number; color: NoiseColor; seed: number };

/** Concrete augmentation steps with their values, as drawn for one copy and recorded in the manifest. */
export interface AugmentPlan {
  seed: number;
  steps: AugmentStep[];
}

/** A bad augmentation setting: an options error the message of which names the setting. */
export class AugmentSpecError extends OptionsError {
  override name = 'AugmentSpecError';
}

export { seededUniform };

/** Builds a spec from names like 'noise,pitch' with the default ranges. */
export function specFromNames(names: readonly string[], probability?: number): AugmentSpec {
  const spec: AugmentSpec = { probability };
  for (const name of names) {
    if (!AUGMENT_KINDS.includes(name as AugmentKind)) {
      throw new AugmentSpecError(`unknown augmentation '${name}' (known: ${AUGMENT_KINDS.join(', ')})`);
    }
    const kind = name as AugmentKind;
    (spec as Record<AugmentKind, unknown>)[kind] = DEFAULT_AUGMENT_SPEC[kind];
  }
  return spec;
}

function checkRange(name: string, range: Range, min: number, max: number): void {
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi || lo < min || hi > max) {
    throw new AugmentSpecError(`${name} range [${lo}, ${hi}] must lie within [${min}, ${max}] with min <= max`);
  }
}

function checkProbability(name: string, p: number | undefined): void {
  if (p !== undefined && !(p >= 0 && p <= 1)) throw new AugmentSpecError(`${name} probability must be in [0, 1], got ${p}`);
}

export function validateAugmentSpec(spec: AugmentSpec): void {
  const limits = native.augmentLimits;
  checkProbability('augment', spec.probability);
  if (spec.noise) {
    checkRange('noise snrDb', spec.noise.snrDb, limits.minSnrDb, limits.maxSnrDb);
    checkProbability('noise', spec.noise.probability);
  }
  if (spec.shift) {
    if (!(spec.shift.maxSeconds >= 0 && spec.shift.maxSeconds <= 10)) {
      throw new AugmentSpecError(`shift maxSeconds must be in [0, 10], got ${spec.shift.maxSeconds}`);
    }
    checkProbability('shift', spec.shift.probability);
  }
  if (spec.stretch) {
    checkRange('stretch rate', spec.stretch.rate, limits.minRate, limits.maxRate);
    checkProbability('stretch', spec.stretch.probability);
  }
  if (spec.pitch) {
    checkRange('pitch semitones', spec.pitch.semitones, -limits.maxSemitones, limits.maxSemitones);
    checkProbability('pitch', spec.pitch.probability);
  }
  if (spec.speed) {
    checkRange('speed factor', spec.speed.factor, limits.minRate, limits.maxRate);
    checkProbability('speed', spec.speed.probability);
  }
}

/**
 * Draws a concrete plan: each listed augmentation fires with its probability; when none fires, one
 * listed augmentation is applied anyway, so every augmented copy differs from its source.
 */
export function drawAugmentPlan(spec: AugmentSpec, seed: number): AugmentPlan {
  validateAugmentSpec(spec);
  const random = seededUniform(seed);
  const between = (range: Range) => range[0] + (range[1] - range[0]) * random();
  const listed = AUGMENT_KINDS.filter((kind) => spec[kind] !== undefined);
  const fired = listed.filter((kind) => random() < (spec[kind]?.probability ?? spec.probability ?? 0.5));
  if (fired.length === 0 && listed.length > 0) fired.push(listed[Math.floor(random() * listed.length)]);
  const steps: AugmentStep[] = [];
  for (const kind of AUGMENT_KINDS) {
    if (!fired.includes(kind)) continue;
    if (kind === 'speed' && spec.speed) steps.push({ kind, factor: between(spec.speed.factor) });
    if (kind === 'pitch' && spec.pitch) steps.push({ kind, semitones: between(spec.pitch.semitones) });
    if (kind === 'stretch' && spec.stretch) steps.push({ kind, rate: between(spec.stretch.rate) });
    if (kind === 'shift' && spec.shift) {
      steps.push({ kind, seconds: (2 * random() - 1) * spec.shift.maxSeconds, mode: spec.shift.mode ?? 'roll' });
    }
    if (kind === 'noise' && spec.noise) {
      steps.push({ kind, snrDb: between(spec.noise.snrDb), color: spec.noise.color ?? 'white', seed: Math.floor(random() * 2 ** 32) });
    }
  }
  return { seed, steps };
}

/** Applies the steps in order; the result is bit-identical for the same plan on every run and thread. */
export function applyAugmentPlan(samples: Float32Array, sampleRate: number, plan: AugmentPlan): Float32Array {
  let audio = samples;
  for (const step of plan.steps) {
    switch (step.kind) {
      case 'speed':
        audio = native.changeSpeed(audio, step.factor);
        break;
      case 'pitch':
        audio = native.pitchShift(audio, step.semitones, sampleRate);
        break;
      case 'stretch':
        audio = native.timeStretch(audio, step.rate, sampleRate);
        break;
      case 'shift':
        audio = native.timeShift(audio, Math.round(step.seconds * sampleRate), step.mode);
        break;
      case 'noise':
        audio = native.addNoise(audio, step.snrDb, step.seed, step.color);
        break;
    }
  }
  return audio;
}

/** drawAugmentPlan + applyAugmentPlan. */
export function augment(
  samples: Float32Array,
  sampleRate: number,
  spec: AugmentSpec,
  seed: number,
): { samples: Float32Array; plan: AugmentPlan } {
  const plan = drawAugmentPlan(spec, seed);
  return { samples: applyAugmentPlan(samples, sampleRate, plan), plan };
}
