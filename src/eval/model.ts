// loadModel(): a trained run (every fold's best model, probabilities averaged) or one model folder,
// loaded once and kept for any number of predictions. Features are computed exactly as prepare computed
// the training cache; the model runs in a worker thread of its own (model-worker.ts) on its own
// TensorFlow.js backend, where predict() also computes its clip's features, so neither blocks the
// caller's event loop.
import * as fs from 'fs';
import * as path from 'path';

import { BACKENDS, checkThreadCount, type BackendChoice } from '../backend/names';
import { InputFileError, OptionsError, throwIfAborted, untilAborted } from '../errors';
import { audioSource, inputName, runClipTask, STDIN, type AudioInput, type CallOptions } from '../clips/extract';
import type { Preprocessing } from '../train/checkpoint';
import { PREDICT_BATCH_ROWS } from '../train/defaults';
import { MODEL_JSON, readFolds, readRunConfig, runMembers } from '../train/run-folder';
import { compiledEntry } from '../workers/entry';
import { apiPool } from '../workers/pool';
import { WorkerThread } from '../workers/thread';
import { MomentAccumulator, type Moments, type NormaliseMode } from '../features/normalise';
import type { LoadedRun, ModelRequest } from './model-worker';
import type { Timeline, TimelineOptions } from './timeline';

export { readSpeakerMap } from './speaker-map';

/** A prediction: the most probable emotion, its probability, and every emotion's probability. */
export interface EmotionPrediction {
  /** The most probable emotion. */
  emotion: string;
  /** Its probability. */
  confidence: number;
  /** Every emotion's probability (averaged over the run's folds), rounded to 6 decimals. */
  probabilities: Record<string, number>;
}

/** One line of `ser predict`: a prediction, or why the file could not be predicted. */
export type Prediction = ({ file: string } & EmotionPrediction) | { file: string; error: string };

/** loadModel() options. */
export interface LoadModelOptions {
  /** TensorFlow.js backend; default 'auto'. Each loaded model has its own thread, and its own backend in it. */
  backend?: BackendChoice;
  /** Threads of the backend; default every core. */
  threads?: number;
}

/**
 * The model folders of a run (one per fold), the folder itself when it is a model folder, or the model
 * folder of one fold's folder (a run's fold-N/, to use that fold alone).
 */
export function modelFolders(run: string): string[] {
  if (fs.existsSync(path.join(run, MODEL_JSON))) return [run];
  if (!fs.existsSync(path.join(run, 'folds.json'))) {
    if (fs.existsSync(path.join(run, 'model', MODEL_JSON))) return [path.join(run, 'model')];
    throw new InputFileError(run, `neither a run folder (folds.json), a fold's folder (model/${MODEL_JSON}) nor a model folder (${MODEL_JSON})`);
  }
  const folders = runMembers(readRunConfig(run).settings, readFolds(run)).map((m) => path.join(run, m.dir, 'model'));
  const missing = folders.filter((f) => !fs.existsSync(path.join(f, MODEL_JSON)));
  if (missing.length > 0) throw new InputFileError(run, `no trained model in ${missing.join(', ')} (has training finished an epoch?)`);
  return folders;
}

/** The most probable label of one row of probabilities, with every probability rounded to 6 decimals. */
function toPrediction(probabilities: ArrayLike<number>, labels: readonly string[]): EmotionPrediction {
  let best = 0;
  for (let c = 1; c < labels.length; c++) if (probabilities[c] > probabilities[best]) best = c;
  return {
    emotion: labels[best], confidence: Number(probabilities[best].toFixed(6)),
    probabilities: Object.fromEntries(labels.map((label, c) => [label, Number(probabilities[c].toFixed(6))])),
  };
}

/** A loaded run: predict() as often as needed, then dispose(). */
export class EmotionModel {
  private disposed = false;

  /** Use loadModel(). */
  constructor(
    /** The folder it was loaded from. */
    readonly source: string,
    private readonly thread: WorkerThread,
    private readonly memberPreprocessing: readonly Preprocessing[],
    /** The backend the model runs on (in its own worker thread). */
    readonly backend: string,
  ) {}

  /** The emotions, in the order of the probabilities. */
  get labels(): readonly string[] {
    return this.preprocessing.labels;
  }

  /** How input becomes features: the feature configuration, crop and row shape of the training cache. */
  get preprocessing(): Preprocessing {
    return this.memberPreprocessing[0];
  }

  /** How many models are averaged (the run's folds, times its seeds). */
  get folds(): number {
    return this.memberPreprocessing.length;
  }

  /**
   * How the run standardised its rows. 'speaker': rows given with a speaker are standardised by the
   * moments of that speaker's rows in the same call (predictRows, predictFiles with a speaker map);
   * any other row, and every predict(), by its own moments (per recording); timeline() takes its
   * recording as one speaker.
   */
  get normalisation(): NormaliseMode {
    return this.preprocessing.normalisation.mode ?? 'global';
  }

  private checkLive(): void {
    if (this.disposed) throw new OptionsError(`the model of ${this.source} was disposed`);
  }

  /**
   * The emotion of a WAV file, WAV bytes or samples; a bad input throws an InputFileError naming it. The
   * clip's features and its forward pass run in the model's thread; calls made while it is busy are
   * scored together in one batch (a server's concurrent requests), each with its own clip's result.
   */
  async predict(input: AudioInput, options: CallOptions = {}): Promise<EmotionPrediction> {
    this.checkLive();
    throwIfAborted(options.signal, 'predict');
    if (input === STDIN) {
      // Standard input belongs to the caller's process: read in the worker pool, as featureRow does.
      const row = await this.featureRow(input, options);
      throwIfAborted(options.signal, 'predict');
      return this.predictRow(row);
    }
    // Features and forward pass in the model's thread: one hop (featureRow, then predictRow, took two,
    // about 0.7 ms more a clip on these hosts), the same row as featureRow gives. The thread cannot stop
    // a clip midway, so an abort rejects at once and the clip's late result is dropped.
    const request: ModelRequest = { kind: 'clip', source: audioSource(input, this.preprocessing.featureConfig.sampleRate), name: inputName(input) };
    const probabilities = await untilAborted(this.thread.call<Float32Array>(request), options.signal, `${inputName(input)}: aborted`);
    return toPrediction(probabilities, this.labels);
  }

  /** The input's row of features as prepare computed the training cache's (not normalised). */
  async featureRow(input: AudioInput, options: CallOptions = {}): Promise<Float32Array> {
    this.checkLive();
    throwIfAborted(options.signal, 'features');
    const { featureConfig: config, crop, frames, coeffs } = this.preprocessing;
    const source = audioSource(input, config.sampleRate);
    const result = await runClipTask(input, apiPool.run({ kind: 'row', source, geometry: { config, crop, frames, coeffs } }, options.signal), options.signal);
    if (!('data' in result)) throw new Error('row task returned no features');
    return result.data;
  }

  /**
   * The emotion over time of a recording of any length ('-': standard input), read a block at a time in
   * the model's thread: the model's window slides by hopSeconds, windows are scored in batches, silence
   * is marked. With speaker normalisation the recording is taken as one speaker: a first pass over its
   * windows (features only) measures the moments of its non-silent windows, and the second scores them
   * with those; standard input cannot be read twice, so there each window is standardised on its own.
   */
  async timeline(input: AudioInput, options: TimelineOptions = {}): Promise<Timeline> {
    this.checkLive();
    throwIfAborted(options.signal, `the timeline of ${inputName(input)}`);
    const { signal, onProgress, ...rest } = options;
    const request: ModelRequest = { kind: 'timeline', input, options: rest };
    return this.thread.call<Timeline>(request, {
      signal,
      onEvent: onProgress && ((event) => onProgress(event as { seconds: number; windows: number })),
      stream: input === STDIN ? process.stdin : undefined,
    });
  }

  /**
   * Probabilities [rows, labels] of rows of features as the training cache holds them (not normalised),
   * averaged over the folds and seeds, computed in the model's thread (the caller's rows are copied, not
   * changed). `speakers` names each row's speaker (see `normalisation`); `speakerMoments`, when given,
   * are their moments (otherwise those of their rows among these).
   */
  async predictRows(features: Float32Array, rows: number, speakers?: readonly (string | undefined)[], speakerMoments?: ReadonlyMap<string, Moments>): Promise<Float32Array> {
    this.checkLive();
    const request: ModelRequest = {
      kind: 'rows', features, rows, speakers: speakers && [...speakers], speakerMoments: speakerMoments && new Map(speakerMoments),
    };
    return this.thread.call<Float32Array>(request);
  }

  /** The emotion of one row of features as the training cache holds them (frames x coeffs, not normalised). */
  async predictRow(features: Float32Array): Promise<EmotionPrediction> {
    const { labels, frames, coeffs } = this.preprocessing;
    if (features.length !== frames * coeffs) throw new OptionsError(`a feature row has ${frames}x${coeffs} values, got ${features.length}`);
    return toPrediction(await this.predictRows(features, 1), labels);
  }

  /** Frees the weights and ends the model's thread. Predictions after this throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.thread.terminate();
  }
}

/** Loads a run folder from train (every fold) or one model folder, on the chosen backend, in a thread of its own. */
export async function loadModel(runOrModelDir: string, options: LoadModelOptions = {}): Promise<EmotionModel> {
  if (options.threads !== undefined) checkThreadCount(options.threads);
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && !BACKENDS.includes(backend)) throw new OptionsError(`backend (--backend) must be auto or one of ${BACKENDS.join(', ')}, got '${backend}'`);
  const folders = modelFolders(runOrModelDir);
  const thread = new WorkerThread(compiledEntry('eval', 'model-worker', __dirname));
  let run: LoadedRun;
  try {
    const request: ModelRequest = { kind: 'load', source: runOrModelDir, folders, backend, threads: options.threads };
    run = await thread.call<LoadedRun>(request);
  } catch (error) {
    void thread.terminate();
    throw error;
  }
  const first = JSON.stringify(run.preprocessing[0].featureConfig);
  if (run.preprocessing.some((p) => JSON.stringify(p.featureConfig) !== first)) {
    void thread.terminate();
    throw new InputFileError(runOrModelDir, 'its fold models disagree on the features');
  }
  return new EmotionModel(runOrModelDir, thread, run.preprocessing, run.backend);
}

/** predictFiles() options. */
export interface PredictFilesOptions extends CallOptions {
  /**
   * Each file's speaker (readSpeakerMap reads one from a file), for a run trained with speaker
   * normalisation: a speaker's files are standardised together by their own moments. Without it, or
   * for a file it does not name, a file is standardised by its own moments (per recording).
   */
  speakers?: ReadonlyMap<string, string>;
  /**
   * A few clips of the speaker of every file (enrolment), for a run trained with speaker
   * normalisation: each file is standardised by these clips' statistics. Not with `speakers`.
   */
  enroll?: readonly AudioInput[];
  /** Told what falls back to per-recording normalisation; default: nothing is said. */
  warn?: (message: string) => void;
}

const ENROLLED = '\u0000enrolled';

/**
 * Predicts files; a file that fails is reported in its place and the rest go on. With speaker
 * normalisation and a speaker map, every file's features are computed first, then predicted together.
 */
export async function predictFiles(model: EmotionModel, files: readonly string[], onResult?: (p: Prediction) => void, options: PredictFilesOptions = {}): Promise<Prediction[]> {
  if (options.enroll !== undefined && options.speakers !== undefined) throw new OptionsError('enroll (--enroll) and speakers (--speaker-map) are two ways to give speaker statistics: give one');
  if (options.enroll !== undefined && options.enroll.length === 0) throw new OptionsError('enroll (--enroll) needs at least one clip');
  if (options.enroll !== undefined && model.normalisation !== 'speaker') {
    options.warn?.(`${model.source} was trained with ${model.normalisation} normalisation: the enrolment clips are not needed and are not used`);
  } else if (options.enroll !== undefined) {
    return predictEnrolled(model, files, options.enroll, onResult, options);
  }
  if (model.normalisation === 'speaker') {
    if (!options.speakers) {
      options.warn?.(`${model.source} was trained with speaker normalisation; without a speaker map each file is standardised by its own statistics (per recording), which may cost accuracy`);
    } else {
      return predictBySpeaker(model, files, options.speakers, onResult, options);
    }
  }
  return eachFile(files, onResult, (file) => model.predict(file, options));
}

/**
 * Predicts the files with up to PREDICT_BATCH_ROWS of them in flight, results reported in the files'
 * order: predict() calls waiting for the model's thread are scored in one forward pass; with enrolment
 * the rows are computed in the worker pool meanwhile and scored one a pass. A file that fails with an
 * InputFileError is reported in its place; any other failure rejects the whole call.
 */
async function eachFile(files: readonly string[], onResult: ((p: Prediction) => void) | undefined, predictOne: (file: string) => Promise<EmotionPrediction>): Promise<Prediction[]> {
  // Each call settles to a value, never a rejection left unawaited while earlier files are awaited.
  type Settled = { prediction: Prediction } | { failure: unknown };
  const start = (file: string): Promise<Settled> => predictOne(file).then(
    (prediction) => ({ prediction: { file, ...prediction } }),
    (error: unknown) => (error instanceof InputFileError ? { prediction: { file: inputName(file), error: error.reason } } : { failure: error }),
  );
  const inFlight: Promise<Settled>[] = [];
  let started = 0;
  const results: Prediction[] = [];
  for (let i = 0; i < files.length; i++) {
    while (started < files.length && started < i + PREDICT_BATCH_ROWS) inFlight.push(start(files[started++]));
    const settled = await (inFlight.shift() as Promise<Settled>);
    if ('failure' in settled) throw settled.failure;
    results.push(settled.prediction);
    onResult?.(settled.prediction);
  }
  return results;
}

/** Every file standardised by the statistics of the enrolment clips (one speaker's). */
async function predictEnrolled(
  model: EmotionModel, files: readonly string[], enroll: readonly AudioInput[], onResult: ((p: Prediction) => void) | undefined, options: PredictFilesOptions,
): Promise<Prediction[]> {
  const accumulator = new MomentAccumulator(model.preprocessing.coeffs);
  for (const clip of enroll) accumulator.add(await model.featureRow(clip, options));
  const moments = new Map([[ENROLLED, accumulator.moments()]]);
  return eachFile(files, onResult, async (file) => toPrediction(await model.predictRows(await model.featureRow(file, options), 1, [ENROLLED], moments), model.labels));
}

async function predictBySpeaker(
  model: EmotionModel, files: readonly string[], speakerMap: ReadonlyMap<string, string>, onResult: ((p: Prediction) => void) | undefined, options: PredictFilesOptions,
): Promise<Prediction[]> {
  const rows: ({ features: Float32Array } | { error: string })[] = [];
  for (const file of files) {
    try {
      rows.push({ features: await model.featureRow(file, options) });
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      rows.push({ error: error.reason });
    }
  }
  const good = rows.flatMap((row, i) => ('features' in row ? [{ row: row.features, i }] : []));
  const speakers = good.map(({ i }) => speakerMap.get(path.resolve(files[i])));
  const unnamed = good.filter((_, g) => speakers[g] === undefined).map(({ i }) => files[i]);
  if (unnamed.length > 0) {
    const shown = unnamed.slice(0, 5).join(', ');
    options.warn?.(`the speaker map names no speaker for ${unnamed.length} file(s) (${shown}${unnamed.length > 5 ? ', ...' : ''}): each is standardised by its own statistics`);
  }
  const rowSize = model.preprocessing.frames * model.preprocessing.coeffs;
  const features = new Float32Array(good.length * rowSize);
  good.forEach(({ row }, g) => features.set(row, g * rowSize));
  const probabilities = good.length > 0 ? await model.predictRows(features, good.length, speakers) : new Float32Array(0);
  const labels = model.labels;
  const results: Prediction[] = [];
  let g = 0;
  rows.forEach((row, i) => {
    let result: Prediction;
    if ('features' in row) {
      result = { file: files[i], ...toPrediction(probabilities.subarray(g * labels.length, (g + 1) * labels.length), labels) };
      g++;
    } else {
      result = { file: inputName(files[i]), error: row.error };
    }
    results.push(result);
    onResult?.(result);
  });
  return results;
}
