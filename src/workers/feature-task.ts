// Piscina worker: WAV bytes in (transferred), cropped Float32 feature rows out (moved, not cloned).
// decode -> mono -> resample -> [augment] -> crop to the fixed duration -> features.
import { move, transferableSymbol, valueSymbol } from 'piscina';

import { applyAugmentPlan, type AugmentPlan } from '../augment/spec';
import type { FeatureConfig } from '../features/config';
import { native } from '../native';

export interface CropSpec {
  offsetSeconds: number;
  durationSeconds: number;
}

export interface TaskClip {
  /** The file's bytes (transferred), or null when the main thread could not read it. */
  bytes: ArrayBuffer | null;
  readError?: string;
  plan: AugmentPlan | null;
}

export interface FeatureTask {
  config: FeatureConfig;
  crop: CropSpec;
  frames: number;
  coeffs: number;
  keepAudio: boolean;
  clips: TaskClip[];
}

export type ClipOutcome = { ok: true; seconds: number } | { ok: false; reason: string };

export interface FeatureTaskResult {
  /** clips.length rows of frames * coeffs; rows of failed clips are zero. */
  features: Float32Array;
  /** clips.length rows of the cropped audio at config.sampleRate, when keepAudio. */
  audio: Float32Array | null;
  outcomes: ClipOutcome[];
}

export function cropSamples(crop: CropSpec, sampleRate: number): { start: number; length: number } {
  return { start: Math.round(crop.offsetSeconds * sampleRate), length: Math.round(crop.durationSeconds * sampleRate) };
}

/** One clip, start to finish; throws with a readable reason. */
export function clipFeatures(
  bytes: Uint8Array,
  plan: AugmentPlan | null,
  task: Pick<FeatureTask, 'config' | 'crop' | 'frames' | 'coeffs'>,
  featuresOut: Float32Array,
  audioOut: Float32Array | null,
): number {
  const { config } = task;
  const wav = native.decodeWav(bytes);
  const seconds = wav.samples.length / wav.sampleRate;
  let audio = wav.sampleRate === config.sampleRate ? wav.samples : native.resample(wav.samples, wav.sampleRate, config.sampleRate);
  if (plan) audio = applyAugmentPlan(audio, config.sampleRate, plan);
  const { start, length } = cropSamples(task.crop, config.sampleRate);
  if (audio.length <= start) {
    throw new Error(`clip is ${(audio.length / config.sampleRate).toFixed(3)} s long, not longer than the offset ${task.crop.offsetSeconds} s`);
  }
  const cropped = new Float32Array(length);
  cropped.set(audio.subarray(start, Math.min(audio.length, start + length)));
  const matrix = native.computeFeatures(cropped, config);
  if (matrix.frames !== task.frames || matrix.coeffs !== task.coeffs) {
    throw new Error(`features are ${matrix.frames}x${matrix.coeffs}, expected ${task.frames}x${task.coeffs}`);
  }
  featuresOut.set(matrix.data);
  audioOut?.set(cropped);
  return seconds;
}

export default function featureTask(task: FeatureTask) {
  const rowSize = task.frames * task.coeffs;
  const audioLength = cropSamples(task.crop, task.config.sampleRate).length;
  const features = new Float32Array(task.clips.length * rowSize);
  const audio = task.keepAudio ? new Float32Array(task.clips.length * audioLength) : null;
  const outcomes: ClipOutcome[] = task.clips.map((clip, i) => {
    if (!clip.bytes) return { ok: false, reason: clip.readError ?? 'could not be read' };
    try {
      const seconds = clipFeatures(
        new Uint8Array(clip.bytes),
        clip.plan,
        task,
        features.subarray(i * rowSize, (i + 1) * rowSize),
        audio ? audio.subarray(i * audioLength, (i + 1) * audioLength) : null,
      );
      return { ok: true, seconds };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  });
  const result: FeatureTaskResult = { features, audio, outcomes };
  return move({
    get [transferableSymbol]() {
      return audio ? [features.buffer, audio.buffer] : [features.buffer];
    },
    get [valueSymbol]() {
      return result;
    },
  });
}
