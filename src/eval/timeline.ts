// The emotion timeline of a recording of any length: the model's window slides over the audio (read
// and resampled a block at a time), each window's features are computed as prepare computes a clip's
// row, windows are scored in batches, and windows much quieter than the recording are marked silence.
import * as fs from 'fs';

import { InputFileError, inputFailureReason, OptionsError, throwIfAborted } from '../errors';
import { inputName, STDIN, type AudioInput, type CallOptions, type SamplesInput } from '../clips/extract';
import { native } from '../native';
import type { Preprocessing } from '../train/checkpoint';

/** The timeline's defaults: a window every second, silence 35 dB below the recording's loudness (the window defaults to the training crop). */
export const TIMELINE_DEFAULTS = { hopSeconds: 1, silenceDb: 35 } as const;

/** model.timeline() options: the window, the hop, the silence level, batches, progress and an AbortSignal. */
export interface TimelineOptions extends CallOptions {
  /** Window length, seconds; default the training duration (longer windows are refused). */
  windowSeconds?: number;
  /** Step between window starts, seconds; default 1. */
  hopSeconds?: number;
  /** A window whose level is this far below the recording's loudness (the 95th percentile of window levels) is silence; default 35 dB. */
  silenceDb?: number;
  /** Windows scored per model call; default 16. */
  batchSize?: number;
  /** After every batch: seconds of audio read so far. */
  onProgress?: (progress: { seconds: number; windows: number }) => void;
}

/** One window of the timeline. */
export interface TimelineWindow {
  start: number;
  end: number;
  /** Quieter than the recording by more than silenceDb: not classified. */
  silent: boolean;
  /** The most probable emotion, or null for silence. */
  emotion: string | null;
  confidence: number | null;
  probabilities: Record<string, number> | null;
  /** RMS level of the window's audio, dB re full scale. */
  levelDb: number;
}

/** A run of windows with the same dominant emotion (or silence), on the time axis. */
export interface TimelineSegment {
  start: number;
  end: number;
  /** The emotion, or 'silence'. */
  label: string;
  windows: number;
}

/** The emotion of a recording over time. */
export interface Timeline {
  file: string;
  seconds: number;
  windowSeconds: number;
  hopSeconds: number;
  silenceDb: number;
  labels: readonly string[];
  windows: TimelineWindow[];
  segments: TimelineSegment[];
}

/** Scores rows of features (frames x coeffs each, not normalised) into averaged class probabilities. */
export type RowScorer = (features: Float32Array, rows: number) => Float32Array;

const BLOCK_BYTES = 1 << 20;

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new OptionsError(`${name} must be a positive number of seconds, got ${value}`);
  return value;
}

/** The recording as blocks of mono samples at `rate`; standard input is read from `stdin`. */
async function* audioBlocks(input: AudioInput, rate: number, stdin: AsyncIterable<Uint8Array>): AsyncGenerator<Float32Array> {
  if (typeof input !== 'string' && !ArrayBuffer.isView(input)) {
    const { samples, sampleRate } = input as SamplesInput;
    const from = sampleRate ?? rate;
    yield from === rate ? samples : native.resample(samples, from, rate);
    return;
  }
  const stream = new native.AudioStream(rate);
  try {
    if (typeof input === 'string' && input !== STDIN) {
      const handle = await fs.promises.open(input, 'r');
      try {
        const buffer = Buffer.allocUnsafe(BLOCK_BYTES);
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) break;
          yield stream.push(buffer.subarray(0, bytesRead));
        }
      } finally {
        await handle.close();
      }
    } else if (input === STDIN) {
      for await (const chunk of stdin) yield stream.push(chunk);
    } else {
      const bytes = input as Uint8Array;
      for (let at = 0; at < bytes.length; at += BLOCK_BYTES) yield stream.push(bytes.subarray(at, at + BLOCK_BYTES));
    }
    yield stream.finish();
  } finally {
    // Its buffers go now, not whenever V8 collects the stream (V8 does not see native memory).
    stream.release();
  }
}

function levelDb(samples: Float32Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i] * samples[i];
  return 10 * Math.log10(sum / Math.max(1, to - from) + 1e-20);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return -Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Consecutive windows with one label become a segment; each window owns hop seconds around its centre. */
export function segmentsOf(windows: readonly TimelineWindow[], seconds: number, hopSeconds: number): TimelineSegment[] {
  const segments: TimelineSegment[] = [];
  windows.forEach((w, i) => {
    const label = w.emotion ?? 'silence';
    const centre = (w.start + w.end) / 2;
    const start = i === 0 ? 0 : Math.max(0, centre - hopSeconds / 2);
    const end = i === windows.length - 1 ? seconds : Math.min(seconds, centre + hopSeconds / 2);
    const last = segments[segments.length - 1];
    if (last && last.label === label) {
      last.end = end;
      last.windows++;
    } else {
      segments.push({ start, end, label, windows: 1 });
    }
  });
  return segments;
}

/**
 * Slides the model's window over the input; see TimelineOptions. A bad input throws an InputFileError
 * naming it. Standard input ('-') is read from `stdin` (a worker thread gets the caller's through it).
 */
export async function computeTimeline(
  score: RowScorer, preprocessing: Preprocessing, input: AudioInput, options: TimelineOptions = {}, stdin: AsyncIterable<Uint8Array> = process.stdin,
): Promise<Timeline> {
  const { featureConfig: config, crop, frames, coeffs, labels } = preprocessing;
  const rate = config.sampleRate;
  const windowSeconds = positive('windowSeconds (--window)', options.windowSeconds ?? crop.durationSeconds);
  const hopSeconds = positive('hopSeconds (--hop)', options.hopSeconds ?? TIMELINE_DEFAULTS.hopSeconds);
  const silenceDb = positive('silenceDb (--silence-db)', options.silenceDb ?? TIMELINE_DEFAULTS.silenceDb);
  const batchSize = Math.floor(options.batchSize ?? 16);
  if (!(batchSize >= 1)) throw new OptionsError(`batchSize must be a positive integer, got ${options.batchSize}`);
  // The model sees rows of the training crop's length: a shorter window is zero-padded to it, as
  // prepare pads a short clip; a longer one cannot be seen whole.
  const rowSamples = Math.round(crop.durationSeconds * rate);
  const windowSamples = Math.round(windowSeconds * rate);
  if (windowSamples > rowSamples) {
    throw new OptionsError(`windowSeconds (--window) ${windowSeconds} is longer than the ${crop.durationSeconds} s the model was trained on`);
  }
  const hopSamples = Math.max(1, Math.round(hopSeconds * rate));
  const name = inputName(input);

  const rowSize = frames * coeffs;
  const batch = new Float32Array(batchSize * rowSize);
  const pending: { start: number; end: number; levelDb: number }[] = [];
  const windows: TimelineWindow[] = [];
  const probabilities: Float32Array[] = [];
  const crop1 = new Float32Array(rowSamples);
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    probabilities.push(score(batch.subarray(0, pending.length * rowSize), pending.length));
    for (const w of pending.splice(0)) windows.push({ ...w, silent: false, emotion: null, confidence: null, probabilities: null });
    options.onProgress?.({ seconds: buffered.end / rate, windows: windows.length });
    // Scoring a batch is one synchronous run of the model: let messages (an abort) and timers in between.
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfAborted(options.signal, `the timeline of ${name}`);
  };
  const addWindow = async (audio: Float32Array, offset: number, start: number, available: number): Promise<void> => {
    const real = Math.min(windowSamples, available);
    crop1.fill(0);
    crop1.set(audio.subarray(offset, offset + real));
    const matrix = native.computeFeatures(crop1, config);
    if (matrix.frames !== frames || matrix.coeffs !== coeffs) throw new Error(`window features are ${matrix.frames}x${matrix.coeffs}, the model takes ${frames}x${coeffs}`);
    batch.set(matrix.data, pending.length * rowSize);
    pending.push({ start: start / rate, end: (start + real) / rate, levelDb: levelDb(audio, offset, offset + real) });
    if (pending.length === batchSize) await flush();
  };

  // Samples from `buffered.start` on; windows start every hop samples.
  const buffered = { start: 0, end: 0, samples: new Float32Array(0) };
  let nextWindow = 0;
  throwIfAborted(options.signal, `the timeline of ${name}`);
  try {
    for await (const block of audioBlocks(input, rate, stdin)) {
      const joined = new Float32Array(buffered.samples.length + block.length);
      joined.set(buffered.samples);
      joined.set(block, buffered.samples.length);
      buffered.samples = joined;
      buffered.end += block.length;
      while (nextWindow * hopSamples + windowSamples <= buffered.end) {
        const start = nextWindow * hopSamples;
        await addWindow(buffered.samples, start - buffered.start, start, windowSamples);
        nextWindow++;
      }
      // Keep what the next window reads on.
      const keepFrom = Math.min(nextWindow * hopSamples, buffered.end);
      if (keepFrom > buffered.start) {
        buffered.samples = buffered.samples.slice(keepFrom - buffered.start);
        buffered.start = keepFrom;
      }
    }
  } catch (error) {
    if (error instanceof OptionsError || (error as Error).name === 'AbortError') throw error;
    throw new InputFileError(name, inputFailureReason(error));
  }
  const total = buffered.end;
  if (total === 0) throw new InputFileError(name, 'the recording has no samples');
  // The last window covers the end: a recording shorter than a window, or a tail after the last full one.
  if (nextWindow === 0 || (nextWindow - 1) * hopSamples + windowSamples < total) {
    const start = nextWindow * hopSamples < total ? nextWindow * hopSamples : (nextWindow - 1) * hopSamples;
    if (start >= buffered.start) await addWindow(buffered.samples, start - buffered.start, start, total - start);
  }
  await flush();

  const classes = labels.length;
  const flat = new Float32Array(windows.length * classes);
  let at = 0;
  for (const p of probabilities) {
    flat.set(p, at);
    at += p.length;
  }
  const loudness = percentile(windows.map((w) => w.levelDb), 0.95);
  windows.forEach((w, i) => {
    w.levelDb = Number(w.levelDb.toFixed(2));
    w.silent = w.levelDb < loudness - silenceDb || w.levelDb < -90;
    if (w.silent) return;
    let best = 0;
    for (let c = 1; c < classes; c++) if (flat[i * classes + c] > flat[i * classes + best]) best = c;
    w.emotion = labels[best];
    w.confidence = Number(flat[i * classes + best].toFixed(6));
    w.probabilities = Object.fromEntries(labels.map((label, c) => [label, Number(flat[i * classes + c].toFixed(6))]));
  });
  const seconds = total / rate;
  return { file: name, seconds, windowSeconds, hopSeconds, silenceDb, labels, windows, segments: segmentsOf(windows, seconds, hopSeconds) };
}
