// The effects of `ser augment` as library options: checked against the native limits, turned into a
// plan in the library's application order, and applied in the worker pool.
import { OptionsError, throwIfAborted } from '../errors';
import { audioSource, runClipTask, type AudioInput, type CallOptions } from './extract';
import { native, type NoiseColor, type ShiftMode } from '../native';
import { apiPool } from '../workers/pool';
import type { AugmentPlan, AugmentStep } from '../augment/spec';

/** The effects of `ser augment`; each given one is applied, in the order speed, pitch, stretch, shift, noise. */
export interface AugmentEffects {
  /** Add noise at this SNR (dB) against the clip's RMS. */
  noiseSnrDb?: number;
  /** Default 'white'. */
  noiseColor?: NoiseColor;
  /** Move the audio later (negative: earlier), seconds. */
  shiftSeconds?: number;
  /** Default 'roll' (wrap around); 'zero' fills with silence. */
  shiftMode?: ShiftMode;
  /** Tempo factor without pitch change (> 1 faster). */
  stretchRate?: number;
  /** Pitch shift without tempo change, semitones. */
  pitchSemitones?: number;
  /** Speed perturbation: tempo and pitch together. */
  speedFactor?: number;
  /** Seed of the noise (default 0). */
  seed?: number;
}

/** augment() options: the effects, an optional resampling first, and an AbortSignal. */
export interface AugmentOptions extends AugmentEffects, CallOptions {
  /** Resample to this rate (Hz) before the effects; default: keep the input's rate. */
  sampleRate?: number;
}

/** The result of augment(): the new samples at their rate, and the effects applied. */
export interface AugmentedAudio {
  samples: Float32Array;
  sampleRate: number;
  /** Length of the input. */
  inputSeconds: number;
  /** The effects applied, in order. */
  steps: AugmentStep[];
}

function within(name: string, flag: string, value: number, min: number, max: number): void {
  if (!(value >= min && value <= max)) throw new OptionsError(`${name} (${flag}) must be from ${min} to ${max}, got ${value}`);
}

/** The plan the effects ask for, in the library's application order; a bad value throws an OptionsError. */
export function planFromEffects(effects: AugmentEffects): AugmentPlan {
  const limits = native.augmentLimits;
  const seed = effects.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new OptionsError(`seed (--seed) must be a non-negative integer, got ${seed}`);
  const steps: AugmentStep[] = [];
  if (effects.speedFactor !== undefined) {
    within('speedFactor', '--speed', effects.speedFactor, limits.minRate, limits.maxRate);
    steps.push({ kind: 'speed', factor: effects.speedFactor });
  }
  if (effects.pitchSemitones !== undefined) {
    within('pitchSemitones', '--pitch', effects.pitchSemitones, -limits.maxSemitones, limits.maxSemitones);
    steps.push({ kind: 'pitch', semitones: effects.pitchSemitones });
  }
  if (effects.stretchRate !== undefined) {
    within('stretchRate', '--stretch', effects.stretchRate, limits.minRate, limits.maxRate);
    steps.push({ kind: 'stretch', rate: effects.stretchRate });
  }
  if (effects.shiftSeconds !== undefined) {
    if (!Number.isFinite(effects.shiftSeconds)) throw new OptionsError(`shiftSeconds (--shift) must be a number, got ${effects.shiftSeconds}`);
    steps.push({ kind: 'shift', seconds: effects.shiftSeconds, mode: effects.shiftMode ?? 'roll' });
  }
  if (effects.noiseSnrDb !== undefined) {
    within('noiseSnrDb', '--noise-snr', effects.noiseSnrDb, limits.minSnrDb, limits.maxSnrDb);
    steps.push({ kind: 'noise', snrDb: effects.noiseSnrDb, color: effects.noiseColor ?? 'white', seed });
  }
  if (steps.length === 0) throw new OptionsError('choose at least one effect: noiseSnrDb, shiftSeconds, stretchRate, pitchSemitones, speedFactor (--noise-snr, --shift, --stretch, --pitch, --speed)');
  return { seed, steps };
}

/** Applies the effects to a WAV file, WAV bytes or samples in the worker pool. */
export async function augment(input: AudioInput, options: AugmentOptions): Promise<AugmentedAudio> {
  const plan = planFromEffects(options);
  const { sampleRate, signal } = options;
  if (sampleRate !== undefined && !(Number.isInteger(sampleRate) && sampleRate > 0)) {
    throw new OptionsError(`sampleRate (--sample-rate) must be a positive integer, got ${sampleRate}`);
  }
  throwIfAborted(signal, 'augment');
  const source = audioSource(input, sampleRate ?? 0);
  if ('samples' in source && !(source.sampleRate > 0)) throw new OptionsError('samples need their sampleRate');
  const result = await runClipTask(input, apiPool.run({ kind: 'augment', source, sampleRate: sampleRate ?? null, plan }, signal), signal);
  if (!('audio' in result)) throw new Error('augment task returned no audio');
  return { samples: result.audio, sampleRate: result.sampleRate, inputSeconds: result.inputSeconds, steps: plan.steps };
}
