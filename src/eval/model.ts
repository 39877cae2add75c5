// loadModel(): a trained run (every fold's best model, probabilities averaged) or one model folder,
// loaded once and kept for any number of predictions. Features are computed in the worker pool exactly
// as prepare computed the training cache; the model runs on the process's TensorFlow.js backend.
import * as fs from 'fs';
import * as path from 'path';

import { checkThreadCount, selectBackend, type BackendChoice } from '../backend';
import { InputFileError, OptionsError, throwIfAborted } from '../errors';
import { audioSource, inputName, runClipTask, type AudioInput, type CallOptions } from '../features/extract';
import { loadModelFolder, MODEL_JSON, normalisationFromJson, type LoadedModel, type Preprocessing } from '../train/checkpoint';
import { readFolds } from '../train/run';
import { apiPool } from '../workers/pool';
import { predictFeatures } from './predict';
import { computeTimeline, type Timeline, type TimelineOptions } from './timeline';

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
  /** TensorFlow.js backend; default 'auto'. The backend is process-wide: the last one chosen serves every model. */
  backend?: BackendChoice;
  /** Threads of the backend; default every core. */
  threads?: number;
}

/** The model folders of a run (one per fold), or the folder itself when it is a model folder. */
export function modelFolders(run: string): string[] {
  if (fs.existsSync(path.join(run, MODEL_JSON))) return [run];
  if (!fs.existsSync(path.join(run, 'folds.json'))) throw new InputFileError(run, `neither a run folder (folds.json) nor a model folder (${MODEL_JSON})`);
  const folders = readFolds(run).map((f) => path.join(run, f.dir, 'model'));
  const missing = folders.filter((f) => !fs.existsSync(path.join(f, MODEL_JSON)));
  if (missing.length > 0) throw new InputFileError(run, `no trained model in ${missing.join(', ')} (has training finished an epoch?)`);
  return folders;
}

/** A loaded run: predict() as often as needed, then dispose(). */
export class EmotionModel {
  private disposed = false;

  /** Use loadModel(). */
  constructor(
    /** The folder it was loaded from. */
    readonly source: string,
    private readonly models: LoadedModel[],
    /** The backend the model runs on. */
    readonly backend: string,
  ) {}

  /** The emotions, in the order of the probabilities. */
  get labels(): readonly string[] {
    return this.preprocessing.labels;
  }

  /** How input becomes features: the feature configuration, crop and row shape of the training cache. */
  get preprocessing(): Preprocessing {
    return this.models[0].preprocessing;
  }

  /** How many models are averaged (the run's folds). */
  get folds(): number {
    return this.models.length;
  }

  /** The emotion of a WAV file, WAV bytes or samples; a bad input throws an InputFileError naming it. */
  async predict(input: AudioInput, options: CallOptions = {}): Promise<EmotionPrediction> {
    if (this.disposed) throw new OptionsError(`the model of ${this.source} was disposed`);
    throwIfAborted(options.signal, 'predict');
    const { featureConfig: config, crop, frames, coeffs } = this.preprocessing;
    const source = audioSource(input, config.sampleRate);
    const result = await runClipTask(input, apiPool.run({ kind: 'row', source, geometry: { config, crop, frames, coeffs } }, options.signal), options.signal);
    if (!('data' in result)) throw new Error('row task returned no features');
    if (this.disposed) throw new OptionsError(`the model of ${this.source} was disposed`);
    return this.predictRow(result.data);
  }

  /**
   * The emotion over time of a recording of any length ('-': standard input), read a block at a time:
   * the model's window slides by hopSeconds, windows are scored in batches, silence is marked.
   */
  async timeline(input: AudioInput, options: TimelineOptions = {}): Promise<Timeline> {
    if (this.disposed) throw new OptionsError(`the model of ${this.source} was disposed`);
    return computeTimeline((features, rows) => this.predictRows(features, rows), this.preprocessing, input, options);
  }

  /** Probabilities [rows, labels] of rows of features as the training cache holds them (not normalised), averaged over the folds. */
  predictRows(features: Float32Array, rows: number): Float32Array {
    const { labels, frames, coeffs } = this.preprocessing;
    if (features.length !== rows * frames * coeffs) throw new OptionsError(`${rows} feature rows have ${rows}x${frames}x${coeffs} values, got ${features.length}`);
    const mean = new Float32Array(rows * labels.length);
    const sums = new Float64Array(rows * labels.length);
    for (const { model, preprocessing: p } of this.models) {
      const probabilities = predictFeatures(model, features, rows, normalisationFromJson(p.normalisation), frames, coeffs);
      probabilities.forEach((v, i) => {
        sums[i] += v / this.models.length;
      });
    }
    mean.set(sums);
    return mean;
  }

  /** The emotion of one row of features as the training cache holds them (frames x coeffs, not normalised). */
  predictRow(features: Float32Array): EmotionPrediction {
    const { labels, frames, coeffs } = this.preprocessing;
    if (features.length !== frames * coeffs) throw new OptionsError(`a feature row has ${frames}x${coeffs} values, got ${features.length}`);
    const mean = new Float64Array(labels.length);
    for (const { model, preprocessing: p } of this.models) {
      const probabilities = predictFeatures(model, features, 1, normalisationFromJson(p.normalisation), frames, coeffs);
      probabilities.forEach((v, c) => {
        mean[c] += v / this.models.length;
      });
    }
    let best = 0;
    for (let c = 1; c < labels.length; c++) if (mean[c] > mean[best]) best = c;
    const probabilities = Object.fromEntries(labels.map((label, c) => [label, Number(mean[c].toFixed(6))]));
    return { emotion: labels[best], confidence: Number(mean[best].toFixed(6)), probabilities };
  }

  /** Frees the weights. Predictions after this throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { model } of this.models) model.dispose();
  }
}

/** Loads a run folder from train (every fold) or one model folder, on the chosen backend. */
export async function loadModel(runOrModelDir: string, options: LoadModelOptions = {}): Promise<EmotionModel> {
  if (options.threads !== undefined) checkThreadCount(options.threads);
  const folders = modelFolders(runOrModelDir);
  const backend = await selectBackend(options.backend ?? 'auto', { threads: options.threads });
  const models: LoadedModel[] = [];
  try {
    for (const folder of folders) models.push(await loadModelFolder(folder));
  } catch (error) {
    for (const { model } of models) model.dispose();
    throw new InputFileError(runOrModelDir, `cannot load its model: ${(error as Error).message}`);
  }
  const first = JSON.stringify(models[0].preprocessing.featureConfig);
  if (models.some((m) => JSON.stringify(m.preprocessing.featureConfig) !== first)) {
    for (const { model } of models) model.dispose();
    throw new InputFileError(runOrModelDir, 'its fold models disagree on the features');
  }
  return new EmotionModel(runOrModelDir, models, backend.name);
}

/** Predicts files one after another; a file that fails is reported in its place and the rest go on. */
export async function predictFiles(model: EmotionModel, files: readonly string[], onResult?: (p: Prediction) => void, options: CallOptions = {}): Promise<Prediction[]> {
  const results: Prediction[] = [];
  for (const file of files) {
    let result: Prediction;
    try {
      result = { file, ...(await model.predict(file, options)) };
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      result = { file: inputName(file), error: error.reason };
    }
    results.push(result);
    onResult?.(result);
  }
  return results;
}
