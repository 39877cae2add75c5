// Piscina worker: reads its clips and writes their feature rows straight into the shard's shared
// buffer, so no audio or feature data crosses threads (only paths in, outcomes out).
// decode -> mono -> resample -> [augment] -> crop to the fixed duration -> features.

import { applyAugmentPlan, type AugmentPlan } from '../augment/spec';
import { inputFailureReason } from '../errors';
import type { CropSpec, FeatureConfig } from '../features/config';
import { readFileReusing } from '../io/read';
import { native } from '../native';
import { runInBackground } from './thread';


export interface TaskClip {
  path: string;
  plan: AugmentPlan | null;
}

export interface FeatureTask {
  config: FeatureConfig;
  crop: CropSpec;
  frames: number;
  coeffs: number;
  clips: TaskClip[];
  /** The shard's rows (SharedArrayBuffer); clip i of this task fills row firstRow + i. */
  features: SharedArrayBuffer;
  /** The shard's cropped audio rows, when the cache keeps audio. */
  audio: SharedArrayBuffer | null;
  firstRow: number;
}

export type ClipOutcome = { ok: true; seconds: number } | { ok: false; reason: string };

export function cropSamples(crop: CropSpec, sampleRate: number): { start: number; length: number } {
  return { start: Math.round(crop.offsetSeconds * sampleRate), length: Math.round(crop.durationSeconds * sampleRate) };
}

export type RowGeometry = Pick<FeatureTask, 'config' | 'crop' | 'frames' | 'coeffs'>;

/** One clip, start to finish; throws with a readable reason. Returns the clip's length in seconds. */
export function clipFeatures(
  bytes: Uint8Array,
  plan: AugmentPlan | null,
  task: RowGeometry,
  featuresOut: Float32Array,
  audioOut: Float32Array | null,
): number {
  if (!plan) return clipRowFromWav(bytes, task, featuresOut, audioOut).seconds;
  const wav = native.decodeWav(bytes);
  return clipFeaturesFromSamples(wav.samples, wav.sampleRate, plan, task, featuresOut, audioOut);
}

/**
 * A clip's row without augmentation: one native call from the file's bytes to the row (no decoded,
 * resampled or cropped arrays on the way). Throws with a readable reason when the clip ends before the crop.
 */
export function clipRowFromWav(
  bytes: Uint8Array,
  task: RowGeometry,
  featuresOut: Float32Array,
  audioOut: Float32Array | null,
): { seconds: number; sourceSampleRate: number } {
  const { start, length } = cropSamples(task.crop, task.config.sampleRate);
  const row = native.clipRowInto(bytes, task.config, start, length, featuresOut, audioOut);
  if (!row.written) throw tooShortError(row.resampledLength, task);
  return { seconds: row.seconds, sourceSampleRate: row.sourceSampleRate };
}

function tooShortError(resampledLength: number, task: RowGeometry): Error {
  return new Error(
    `clip is ${(resampledLength / task.config.sampleRate).toFixed(3)} s long, not longer than the offset ${task.crop.offsetSeconds} s`,
  );
}

/** A clip's row and what it came from. */
export interface ClipRow {
  data: Float32Array;
  frames: number;
  coeffs: number;
  sourceSampleRate: number;
  seconds: number;
}

/**
 * The row of a clip given as WAV bytes or as mono samples at their rate, without augmentation. WAV
 * bytes take prepare's own call (clipRowInto), so the row is the training cache's bit for bit, with no
 * decoded, resampled or cropped arrays on the way (each was fresh memory a clip).
 */
export function clipRow(source: ClipSource, task: RowGeometry): ClipRow {
  const { frames, coeffs } = task;
  const data = new Float32Array(frames * coeffs);
  return { data, frames, coeffs, ...clipRowInto(source, task, data) };
}

/** A clip as WAV bytes or as mono samples at their rate. */
export type ClipSource = { wav: Uint8Array } | { samples: Float32Array; sampleRate: number };

/** clipRow into the caller's frames x coeffs floats (a batch's row), with the same values. */
export function clipRowInto(source: ClipSource, task: RowGeometry, out: Float32Array): { seconds: number; sourceSampleRate: number } {
  if ('samples' in source) {
    const seconds = clipFeaturesFromSamples(source.samples, source.sampleRate, null, task, out, null);
    return { seconds, sourceSampleRate: source.sampleRate };
  }
  return clipRowFromWav(source.wav, task, out, null);
}

/** clipFeatures for decoded mono samples at their own rate. */
export function clipFeaturesFromSamples(
  samples: Float32Array,
  sampleRate: number,
  plan: AugmentPlan | null,
  task: RowGeometry,
  featuresOut: Float32Array,
  audioOut: Float32Array | null,
): number {
  const { config } = task;
  const seconds = samples.length / sampleRate;
  const { start, length } = cropSamples(task.crop, config.sampleRate);
  const tooShort = (resampled: number) => tooShortError(resampled, task);
  // Known from the header, before any resampling is planned or done (resample_poly's length, ceil(n * to / from)).
  const resampledLength = sampleRate === config.sampleRate ? samples.length : Math.ceil((samples.length * config.sampleRate) / sampleRate);
  if (!plan && resampledLength <= start) throw tooShort(resampledLength);
  let audio = sampleRate === config.sampleRate ? samples : native.resample(samples, sampleRate, config.sampleRate);
  if (plan) audio = applyAugmentPlan(audio, config.sampleRate, plan);
  if (audio.length <= start) throw tooShort(audio.length);
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

export default function featureTask(task: FeatureTask): ClipOutcome[] {
  // Prepare's work is background work: the thread that started it keeps its timers on time.
  runInBackground();
  const rowSize = task.frames * task.coeffs;
  const audioLength = cropSamples(task.crop, task.config.sampleRate).length;
  const features = new Float32Array(task.features);
  const audio = task.audio ? new Float32Array(task.audio) : null;
  return task.clips.map((clip, i) => {
    const row = task.firstRow + i;
    let bytes: Buffer;
    try {
      bytes = readFileReusing(clip.path);
    } catch (error) {
      return { ok: false, reason: inputFailureReason(error) };
    }
    try {
      const seconds = clipFeatures(
        bytes,
        clip.plan,
        task,
        features.subarray(row * rowSize, (row + 1) * rowSize),
        audio ? audio.subarray(row * audioLength, (row + 1) * audioLength) : null,
      );
      return { ok: true, seconds };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  });
}
