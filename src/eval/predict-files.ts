// `ser predict`: WAV files through the training features into every fold's best model; with several
// folds their probabilities are averaged. A file that cannot be read is reported and the rest go on.
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { selectBackend, type BackendChoice } from '../backend';
import { loadModelFolder, MODEL_JSON, normalisationFromJson, type LoadedModel } from '../train/checkpoint';
import { readFolds } from '../train/run';
import { fileFeatures, predictFeatures } from './predict';

export type Prediction =
  | { file: string; emotion: string; confidence: number; probabilities: Record<string, number> }
  | { file: string; error: string };

/** The model folders of a run (one per fold), or the folder itself when it is a model folder. */
export function modelFolders(run: string): string[] {
  if (fs.existsSync(path.join(run, MODEL_JSON))) return [run];
  if (!fs.existsSync(path.join(run, 'folds.json'))) throw new Error(`${run}: neither a run folder (folds.json) nor a model folder (${MODEL_JSON})`);
  const folders = readFolds(run).map((f) => path.join(run, f.dir, 'model'));
  const missing = folders.filter((f) => !fs.existsSync(path.join(f, MODEL_JSON)));
  if (missing.length > 0) throw new Error(`${run}: no trained model in ${missing.join(', ')} (has training finished an epoch?)`);
  return folders;
}

function predictOne(models: LoadedModel[], file: string): Prediction {
  const { preprocessing } = models[0];
  let features: Float32Array;
  try {
    features = fileFeatures(file, preprocessing);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { file, error: code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message };
  }
  const classes = preprocessing.labels.length;
  const mean = new Float64Array(classes);
  for (const { model, preprocessing: p } of models) {
    const probabilities = predictFeatures(model, features, 1, normalisationFromJson(p.normalisation), p.frames, p.coeffs);
    probabilities.forEach((v, c) => {
      mean[c] += v / models.length;
    });
  }
  let best = 0;
  for (let c = 1; c < classes; c++) if (mean[c] > mean[best]) best = c;
  const probabilities = Object.fromEntries(preprocessing.labels.map((label, c) => [label, Number(mean[c].toFixed(6))]));
  return { file, emotion: preprocessing.labels[best], confidence: Number(mean[best].toFixed(6)), probabilities };
}

export interface PredictOptions {
  backend: BackendChoice;
  /** Threads of the backend (default: every core). */
  threads?: number;
}

export async function predictFiles(run: string, files: readonly string[], options: PredictOptions, onResult?: (p: Prediction) => void): Promise<Prediction[]> {
  const folders = modelFolders(run);
  await selectBackend(options.backend, { threads: options.threads });
  const models: LoadedModel[] = [];
  try {
    for (const folder of folders) models.push(await loadModelFolder(folder));
    const first = JSON.stringify(models[0].preprocessing.featureConfig);
    if (models.some((m) => JSON.stringify(m.preprocessing.featureConfig) !== first)) throw new Error(`${run}: its fold models disagree on the features`);
    return files.map((file) => {
      const result = predictOne(models, file);
      onResult?.(result);
      return result;
    });
  } finally {
    for (const { model } of models) model.dispose();
    tf.disposeVariables();
  }
}
