// The worker thread of a loaded model: it selects the backend, loads the run's models and answers
// forward passes, a clip's features and prediction, and timelines, so none of them runs on the caller's
// event loop.
import { selectBackend, type BackendChoice } from '../backend';
import { InputFileError, inputFailureReason } from '../errors';
import { PREDICT_BATCH_ROWS } from '../train/defaults';
import type { AudioInput } from '../clips/extract';
import type { Moments } from '../features/normalise';
import { loadModelFolder, type LoadedModel, type Preprocessing } from '../train/checkpoint';
import { readFileReusing } from '../io/read';
import type { AudioSource } from '../workers/api-task';
import { clipRowInto } from '../workers/feature-task';
import { serveThread, type ThreadReply } from '../workers/thread';
import { ModelEngine } from './model-engine';
import type { TimelineOptions } from './timeline';

/** The requests model.ts sends. */
export type ModelRequest =
  | { kind: 'load'; source: string; folders: string[]; backend: BackendChoice; threads?: number }
  | { kind: 'rows'; features: Float32Array; rows: number; speakers?: (string | undefined)[]; speakerMoments?: Map<string, Moments> }
  /** One clip (a file, WAV bytes or samples) to its row of features and the probabilities of that row. */
  | { kind: 'clip'; source: AudioSource; name: string }
  | { kind: 'timeline'; input: AudioInput; options: Omit<TimelineOptions, 'signal' | 'onProgress'> };

/** The answer to 'load'. */
export interface LoadedRun {
  backend: string;
  preprocessing: Preprocessing[];
}

let engine: ModelEngine | null = null;

type ClipRequest = Extract<ModelRequest, { kind: 'clip' }>;

interface WaitingClip {
  request: ClipRequest;
  resolve: (reply: ThreadReply) => void;
  reject: (error: unknown) => void;
}

/**
 * Clips that arrived while the thread was busy, scored together: a server's concurrent predict() calls
 * share one forward pass of up to PREDICT_BATCH_ROWS rows, where one at a time each paid a whole pass
 * for one row (the serve bench: 8 callers at once 1.99x the clips/s of one, AMD EPYC; a lone caller's
 * latency unchanged). A row's probabilities do not
 * depend on the rows beside it (tested), and a lone clip waits only for the next turn of the event loop.
 */
const waitingClips: WaitingClip[] = [];
let batchScheduled = false;
let batchRows: Float32Array | null = null;

function scoreWithOthers(request: ClipRequest): Promise<ThreadReply> {
  return new Promise<ThreadReply>((resolve, reject) => {
    waitingClips.push({ request, resolve, reject });
    if (!batchScheduled) {
      batchScheduled = true;
      // After the messages already queued for this thread have been taken in.
      setImmediate(scoreWaitingClips);
    }
  });
}

function scoreWaitingClips(): void {
  batchScheduled = false;
  const batch = waitingClips.splice(0, PREDICT_BATCH_ROWS);
  if (waitingClips.length > 0) {
    batchScheduled = true;
    setImmediate(scoreWaitingClips);
  }
  try {
    const model = loaded();
    const { featureConfig: config, crop, frames, coeffs } = model.preprocessing;
    const rowSize = frames * coeffs;
    // One buffer for every batch: the rows are written in place, with no fresh memory a clip.
    if (!batchRows || batchRows.length !== PREDICT_BATCH_ROWS * rowSize) batchRows = new Float32Array(PREDICT_BATCH_ROWS * rowSize);
    const scored: WaitingClip[] = [];
    for (const clip of batch) {
      const { source, name } = clip.request;
      try {
        // The features are computed here, next to the model: one hop for the caller instead of two (to
        // the worker pool and back, then here), and no copy of the row between threads.
        clipRowInto('file' in source ? { wav: readFileReusing(source.file) } : source, { config, crop, frames, coeffs },
          batchRows.subarray(scored.length * rowSize, (scored.length + 1) * rowSize));
        scored.push(clip);
      } catch (error) {
        clip.reject(new InputFileError(name, inputFailureReason(error)));
      }
    }
    if (scored.length === 0) return;
    const probabilities = model.predictRows(batchRows.subarray(0, scored.length * rowSize), scored.length);
    const classes = probabilities.length / scored.length;
    scored.forEach((clip, r) => {
      const own = probabilities.slice(r * classes, (r + 1) * classes);
      clip.resolve({ result: own, transfer: [own.buffer as ArrayBuffer] });
    });
  } catch (error) {
    for (const clip of batch) clip.reject(error);
  }
}

function loaded(): ModelEngine {
  if (!engine) throw new Error('the model thread has no model loaded');
  return engine;
}

serveThread(async (message, context) => {
  const request = message as ModelRequest;
  if (request.kind === 'load') {
    const backend = await selectBackend(request.backend, { threads: request.threads });
    const models: LoadedModel[] = [];
    try {
      for (const folder of request.folders) models.push(await loadModelFolder(folder));
    } catch (error) {
      for (const { model } of models) model.dispose();
      throw new InputFileError(request.source, `cannot load its model: ${(error as Error).message}`);
    }
    engine = new ModelEngine(models);
    return { result: { backend: backend.name, preprocessing: models.map((m) => m.preprocessing) } satisfies LoadedRun };
  }
  if (request.kind === 'rows') {
    const probabilities = loaded().predictRows(request.features, request.rows, request.speakers, request.speakerMoments);
    return { result: probabilities, transfer: [probabilities.buffer as ArrayBuffer] };
  }
  if (request.kind === 'clip') return scoreWithOthers(request);
  const timeline = await loaded().timeline(request.input, {
    ...request.options, signal: context.signal,
    onProgress: (progress) => context.emit(progress),
  }, context.stream());
  return { result: timeline };
});
