// The worker thread of a loaded model: it selects the backend, loads the run's models and answers
// forward passes, a clip's features and prediction, and timelines, so none of them runs on the caller's
// event loop.
import { selectBackend, type BackendChoice } from '../backend';
import { InputFileError, inputFailureReason } from '../errors';
import type { AudioInput } from '../clips/extract';
import type { Moments } from '../features/normalise';
import { loadModelFolder, type LoadedModel, type Preprocessing } from '../train/checkpoint';
import { readFileReusing } from '../io/read';
import type { AudioSource } from '../workers/api-task';
import { clipRow, type ClipRow } from '../workers/feature-task';
import { serveThread } from '../workers/thread';
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
  if (request.kind === 'clip') {
    // The features are computed here, next to the model: one hop for the caller instead of two (to
    // the worker pool and back, then here), and no copy of the row between threads.
    const model = loaded();
    const { featureConfig: config, crop, frames, coeffs } = model.preprocessing;
    const { source } = request;
    let row: ClipRow;
    try {
      row = clipRow('file' in source ? { wav: readFileReusing(source.file) } : source, { config, crop, frames, coeffs });
    } catch (error) {
      throw new InputFileError(request.name, inputFailureReason(error));
    }
    const probabilities = model.predictRows(row.data, 1);
    return { result: probabilities, transfer: [probabilities.buffer as ArrayBuffer] };
  }
  const timeline = await loaded().timeline(request.input, {
    ...request.options, signal: context.signal,
    onProgress: (progress) => context.emit(progress),
  }, context.stream());
  return { result: timeline };
});
