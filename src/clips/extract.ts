// Features of one clip: a file, WAV bytes or samples in, a time-major Float32 matrix out. The async
// form runs a clip file as the addon's async work on libuv's threads, and anything else in the
// library's worker pool; the sync form runs on the calling thread (for small clips and inside workers).
import * as os from 'os';

import { AbortError, InputFileError, throwIfAborted, untilAborted } from '../errors';
import { native, type FeatureMatrix } from '../native';
import { apiPool } from '../workers/pool';
import type { ApiResult, AudioSource } from '../workers/api-task';
import { resolveFeatureConfig, type FeatureConfig, type FeatureOptions } from '../features/config';
import { BLOCK_BYTES, OutputWriteError } from '../features/stream';
import { writeFileAtomicAsync } from '../io/atomic';
import { npyHeader } from '../io/npy';

/** Features of one clip: `data` holds `frames` x `coeffs` float32 values, time-major, with the configuration used. */
export interface ClipFeatures extends FeatureMatrix {
  config: FeatureConfig;
  /** Rate of the audio that came in (before resampling to config.sampleRate). */
  sourceSampleRate: number;
  seconds: number;
}

/** Mono audio in memory, with its sample rate. */
export interface SamplesInput {
  /** Mono samples, nominally in [-1, 1]. */
  samples: Float32Array;
  /** Rate of `samples`; resampled to config.sampleRate when different. Defaults to config.sampleRate. */
  sampleRate?: number;
}

/** Audio the library accepts: a WAV file path ('-' for standard input), WAV file bytes, or mono samples. */
export type AudioInput = string | Uint8Array | SamplesInput;

/** The path that stands for standard input. */
export const STDIN = '-';

/** Options every long-running library call takes. */
export interface CallOptions {
  /** Stops the work; the promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/** A typed array of that kind from any realm (vm contexts and test runners have their own constructors). */
function isTyped(value: unknown, tag: 'Uint8Array' | 'Float32Array'): boolean {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === `[object ${tag}]`;
}

/** How an input is named in errors: the file, or what kind of in-memory input it was. */
export function inputName(input: AudioInput): string {
  if (input === STDIN) return '<stdin>';
  return typeof input === 'string' ? input : isTyped(input, 'Uint8Array') ? '<wav buffer>' : '<samples>';
}

/** The input as a worker task's source (a path is read in the worker, not here). */
export function audioSource(input: AudioInput, defaultRate: number): AudioSource {
  if (typeof input === 'string') return { file: input };
  if (isTyped(input, 'Uint8Array')) return { wav: input as Uint8Array };
  if (!isTyped((input as SamplesInput | undefined)?.samples, 'Float32Array')) {
    throw new InputFileError('<samples>', 'expected a file path, a Uint8Array of WAV bytes, or { samples: Float32Array, sampleRate }');
  }
  const { samples, sampleRate } = input as SamplesInput;
  return { samples, sampleRate: sampleRate ?? defaultRate };
}

/** A worker result, or the typed error its failure stands for. */
export async function runClipTask(input: AudioInput, task: Promise<ApiResult>, signal?: AbortSignal): Promise<ApiResult & { ok: true }> {
  let result: ApiResult;
  try {
    result = await task;
  } catch (error) {
    if (signal?.aborted || (error as Error).name === 'AbortError') throw new AbortError(`${inputName(input)}: aborted`);
    throw error;
  }
  if (!result.ok) throw new InputFileError(result.file ?? inputName(input), result.reason);
  return result;
}

// Clip files in the addon's async work at once: one per core, and never every thread of libuv's pool
// (4 unless UV_THREADPOOL_SIZE says otherwise), which also serves the process's file system calls.
// More would only queue there and take the CPU from the caller's thread: with 600 calls at once and no
// limit, a 5 ms timer waited up to 85 ms, against 17-20 ms through the worker pool (by hand, 2 cores);
// the rest wait here, in order.
const libuvThreads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const clipSlots = Math.max(1, Math.min(os.availableParallelism(), libuvThreads - 1));
let clipsRunning = 0;
const clipsWaiting: (() => void)[] = [];

async function inClipSlot<T>(work: () => Promise<T>): Promise<T> {
  if (clipsRunning >= clipSlots) await new Promise<void>((resolve) => clipsWaiting.push(resolve));
  else clipsRunning += 1;
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter, if any.
    const next = clipsWaiting.shift();
    if (next) next();
    else clipsRunning -= 1;
  }
}

/** Features of a file of at most one read block through native.wavFileToFeatures; null for a longer one. */
async function wholeFileFeatures(file: string, config: FeatureConfig, signal: AbortSignal | undefined): Promise<Omit<ClipFeatures, 'config'> | null> {
  try {
    const work = inClipSlot(() => {
      throwIfAborted(signal, file);
      return native.wavFileToFeatures(file, config, BLOCK_BYTES);
    });
    return await untilAborted(work, signal, `${file}: aborted`);
  } catch (error) {
    if (error instanceof AbortError) throw error;
    throw new InputFileError(file, (error as Error).message);
  }
}

/**
 * Features of a WAV file, WAV bytes or samples, computed off the caller's thread: a file of up to
 * 1 MiB (a clip) as the addon's async work on libuv's thread pool, a longer file, standard input, bytes
 * and samples in the worker pool. A longer file is read in blocks of 1 MiB, so a recording of any
 * length needs memory for its features only. Options are those of `ser features`; a bad option throws
 * an OptionsError, a bad input an InputFileError naming the file.
 */
export async function extractFeatures(input: AudioInput, options: FeatureOptions & CallOptions = {}): Promise<ClipFeatures> {
  const { signal, ...featureOptions } = options;
  const config = resolveFeatureConfig(featureOptions);
  throwIfAborted(signal, 'extractFeatures');
  if (typeof input === 'string' && input !== STDIN) {
    // A file that fits in one read block (a clip) is read and computed as the addon's async work: no
    // hop to a worker thread and back. A longer file (or a pipe) streams in a worker, in bounded memory.
    const whole = await wholeFileFeatures(input, config, signal);
    if (whole) return { ...whole, config };
  }
  const task = typeof input === 'string'
    ? apiPool.run({ kind: 'stream-features', input: input === STDIN ? null : input, output: null, keep: true, config }, signal)
    : apiPool.run({ kind: 'features', source: audioSource(input, config.sampleRate), config }, signal);
  const result = await runClipTask(input, task, signal);
  if (!('data' in result) || !result.data) throw new Error('features task returned no matrix');
  const { data, frames, coeffs, sourceSampleRate, seconds } = result;
  return { data, frames, coeffs, sourceSampleRate, seconds, config };
}

/** What featuresToFile wrote. */
export interface FeaturesFileSummary {
  /** The NPY written, or null when only the summary was asked for. */
  output: string | null;
  frames: number;
  coeffs: number;
  /** Rate of the input (before resampling to the configured rate). */
  sourceSampleRate: number;
  seconds: number;
  config: FeatureConfig;
}

/**
 * Features of a WAV file ('-': standard input, e.g. from sox, ffmpeg or arecord) written as a float32
 * NPY [frames, coeffs] (temporary file, then rename), in memory bounded whatever the recording's length:
 * a clip (up to 1 MiB) as the addon's async work, a longer file streamed in a worker. With output null,
 * only the summary is computed.
 */
export async function featuresToFile(input: string, output: string | null, options: FeatureOptions & CallOptions = {}): Promise<FeaturesFileSummary> {
  const { signal, ...featureOptions } = options;
  const config = resolveFeatureConfig(featureOptions);
  throwIfAborted(signal, 'featuresToFile');
  if (input !== STDIN) {
    // A clip file as the addon's async work, as extractFeatures does (no worker thread to start for one
    // clip), and the NPY written without blocking the event loop.
    const whole = await wholeFileFeatures(input, config, signal);
    if (whole) {
      const { data, frames, coeffs, sourceSampleRate, seconds } = whole;
      if (output !== null) {
        try {
          await writeFileAtomicAsync(output, [npyHeader([frames, coeffs]), data]);
        } catch (error) {
          const failure = new OutputWriteError(output, error);
          throw new InputFileError(failure.file, failure.reason);
        }
      }
      return { output, frames, coeffs, sourceSampleRate, seconds, config };
    }
  }
  const task = apiPool.run({ kind: 'stream-features', input: input === STDIN ? null : input, output, keep: false, config }, signal);
  const result = await runClipTask(input, task, signal);
  if (!('frames' in result)) throw new Error('features task returned no summary');
  const { frames, coeffs, sourceSampleRate, seconds } = result;
  return { output, frames, coeffs, sourceSampleRate, seconds, config };
}

/** extractFeatures on the calling thread, for WAV bytes or samples. */
export function extractFeaturesSync(input: Uint8Array | SamplesInput, options: FeatureOptions = {}): ClipFeatures {
  const config = resolveFeatureConfig(options);
  if (input instanceof Uint8Array) {
    const result = native.wavToFeatures(input, config);
    return { ...result, config };
  }
  const sourceRate = input.sampleRate ?? config.sampleRate;
  const samples =
    sourceRate === config.sampleRate ? input.samples : native.resample(input.samples, sourceRate, config.sampleRate);
  const matrix = native.computeFeatures(samples, config);
  return { ...matrix, config, sourceSampleRate: sourceRate, seconds: input.samples.length / sourceRate };
}
