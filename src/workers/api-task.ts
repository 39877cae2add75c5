// Piscina worker behind the library's async functions: one clip (or one batch of synthetic clips) per
// task, so the caller's thread only posts the task and receives the result. Results come back as
// transferred ArrayBuffers; a failure comes back as a reason, and the caller turns it into a typed error.

import { move, transferableSymbol, valueSymbol } from 'piscina';

import { applyAugmentPlan, type AugmentPlan } from '../augment/spec';
import type { FeatureConfig } from '../features/config';
import { inputFailureReason } from '../errors';
import { readFileReusing } from '../io/read';
import { native } from '../native';
import { writeSynthClip, type SynthClip } from '../synth/corpus';
import { OutputWriteError, streamFeatures } from '../features/stream';
import { clipRow, type RowGeometry } from './feature-task';
import { runInBackground } from './thread';


/** Audio to work on: a file path (read in the worker), WAV bytes, or mono samples at their rate. */
export type AudioSource =
  | { file: string }
  | { wav: Uint8Array }
  | { samples: Float32Array; sampleRate: number };

export type ApiTask =
  | { kind: 'features'; source: AudioSource; config: FeatureConfig }
  /** A file (null: standard input) streamed in bounded memory; with output, written there as NPY. */
  | { kind: 'stream-features'; input: string | null; output: string | null; keep: boolean; config: FeatureConfig }
  | { kind: 'row'; source: AudioSource; geometry: RowGeometry }
  /** The source at its own rate, or resampled to `sampleRate` first. */
  | { kind: 'augment'; source: AudioSource; sampleRate: number | null; plan: AugmentPlan }
  | { kind: 'synth'; root: string; clips: SynthClip[]; seed: number };

export type ApiResult =
  | { ok: true; data: Float32Array; frames: number; coeffs: number; sourceSampleRate: number; seconds: number }
  | { ok: true; frames: number; coeffs: number; sourceSampleRate: number; seconds: number }
  | { ok: true; audio: Float32Array; sampleRate: number; inputSeconds: number }
  | { ok: true; written: number }
  | { ok: false; reason: string; file?: string };

/** A file's bytes (a view valid until the next read on this thread); '-' is standard input, read to its end. */
function readSource(file: string): Buffer {
  return readFileReusing(file === '-' ? 0 : file);
}

function decoded(source: AudioSource): { samples: Float32Array; sampleRate: number } {
  if ('samples' in source) return source;
  return native.decodeWav('wav' in source ? source.wav : readSource(source.file));
}

function run(task: ApiTask): ApiResult {
  switch (task.kind) {
    case 'features': {
      const { source } = task;
      if (!('samples' in source)) return { ok: true, ...native.wavToFeatures('wav' in source ? source.wav : readSource(source.file), task.config) };
      const { samples, sampleRate } = source;
      const resampled = sampleRate === task.config.sampleRate ? samples : native.resample(samples, sampleRate, task.config.sampleRate);
      const matrix = native.computeFeatures(resampled, task.config);
      return { ok: true, ...matrix, sourceSampleRate: sampleRate, seconds: samples.length / sampleRate };
    }
    case 'stream-features': {
      const result = streamFeatures(task.input, task.config, task.output);
      if (!task.keep) delete result.data;
      return { ok: true, ...result };
    }
    case 'row': {
      const { source } = task;
      return { ok: true, ...clipRow('file' in source ? { wav: readSource(source.file) } : source, task.geometry) };
    }
    case 'augment': {
      const { samples, sampleRate } = decoded(task.source);
      const rate = task.sampleRate ?? sampleRate;
      const audio = rate === sampleRate ? samples : native.resample(samples, sampleRate, rate);
      return { ok: true, audio: applyAugmentPlan(audio, rate, task.plan), sampleRate: rate, inputSeconds: samples.length / sampleRate };
    }
    case 'synth':
      for (const clip of task.clips) writeSynthClip(task.root, clip, task.seed);
      return { ok: true, written: task.clips.length };
  }
}

export default function apiTask(task: ApiTask): ApiResult {
  // Audio work is background work: the thread that asked for it keeps its timers on time.
  runInBackground();
  try {
    const result = run(task);
    const buffers: ArrayBufferLike[] = [];
    if ('data' in result && result.data) buffers.push(result.data.buffer);
    if ('audio' in result) buffers.push(result.audio.buffer);
    // Piscina moves what a returned wrapper lists: the result arrives whole, its buffers transferred.
    return move({ [transferableSymbol]: buffers, [valueSymbol]: result }) as unknown as ApiResult;
  } catch (error) {
    // A failure to write the output names the output; any other names the input.
    if (error instanceof OutputWriteError) return { ok: false, reason: error.reason, file: error.file };
    return { ok: false, reason: inputFailureReason(error) };
  }
}
