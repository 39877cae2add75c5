// Model and checkpoint files of a run (DESIGN section 7). The best model is a tfjs LayersModel folder
// (model.json + weights.bin) plus what prediction needs to reproduce training's input; checkpoints
// hold weights, Adam's state and the loop's state, and are written as a folder renamed into place.
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { InputFileError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import type { CropSpec, FeatureConfig } from '../features/config';
import type { EarlyStoppingState, PlateauState } from './callbacks';
import type { Moments, NormaliseMode } from '../features/normalise';
import { normalisationOf, type Normalisation } from './dataset';
import type { ModelSizes } from './model';
import './attention';
import './dropout';
import './initializers';

import { MODEL_JSON } from './run-folder';

export { MODEL_JSON };
export const WEIGHTS_BIN = 'weights.bin';
export const PREPROCESSING_JSON = 'preprocessing.json';

/** What turns a WAV file into this model's input. */
export interface Preprocessing {
  featureConfig: FeatureConfig;
  crop: CropSpec;
  frames: number;
  coeffs: number;
  labels: string[];
  /** mode: how rows are standardised (absent in models from before it: global); mean and std: global's. */
  normalisation: { mode?: NormaliseMode; mean: number[]; std: number[] };
  sizes: ModelSizes;
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8'));
}

async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  if (!saved) throw new Error('the model did not produce its artifacts');
  return saved;
}

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  const buffers = Array.isArray(data) ? data : [data];
  return Buffer.concat(buffers.map((b) => new Uint8Array(b)));
}

// Classes of this package whose saved form a stock class reads the same way for inference: dropout is
// the identity there, and an initializer only matters before weights are loaded.
const STOCK_CLASSES: Readonly<Record<string, string>> = { StepDropout: 'Dropout', SeededOrthogonal: 'Orthogonal' };

/** The topology with this package's classes named by their stock equivalents, so plain tfjs loads it. */
export function withStockClasses(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withStockClasses);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key === 'class_name' && typeof v === 'string' && v in STOCK_CLASSES ? STOCK_CLASSES[v] : withStockClasses(v);
  }
  return out;
}

/**
 * Writes the model folder. Each file is replaced atomically; between saves of one run only weights.bin
 * changes (topology and preprocessing are fixed), so a reader never sees a mixed set.
 */
export async function saveModelFolder(dir: string, model: tf.LayersModel, preprocessing: Preprocessing): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const artifacts = await modelArtifacts(model);
  writeFileAtomic(path.join(dir, WEIGHTS_BIN), weightBytes(artifacts.weightData));
  writeJson(path.join(dir, MODEL_JSON), {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology: withStockClasses(artifacts.modelTopology),
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
  });
  writeJson(path.join(dir, PREPROCESSING_JSON), preprocessing);
}

export interface LoadedModel {
  model: tf.LayersModel;
  preprocessing: Preprocessing;
}

export async function loadModelFolder(dir: string): Promise<LoadedModel> {
  const modelJson = path.join(dir, MODEL_JSON);
  if (!fs.existsSync(modelJson)) throw new InputFileError(dir, `no ${MODEL_JSON} (not a trained model folder)`);
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const bytes = Buffer.concat(json.weightsManifest.flatMap((group) => group.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: ownBuffer(bytes),
  }));
  const preprocessing = JSON.parse(fs.readFileSync(path.join(dir, PREPROCESSING_JSON), 'utf8')) as Preprocessing;
  return { model, preprocessing };
}

/** The stored normalisation; speaker moments, when the mode wants them, come from the rows being scored. */
export function normalisationFromJson(json: Preprocessing['normalisation'], speakers: ReadonlyMap<string, Moments> = new Map()): Normalisation {
  return normalisationOf(json.mode ?? 'global', { mean: Float32Array.from(json.mean), std: Float32Array.from(json.std) }, speakers);
}

/** One epoch's line of metrics.jsonl. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  valUar: number;
  lr: number;
  seconds: number;
  samplesPerSecond: number;
  /** Share of the epoch's wall time spent waiting for the next batch. */
  dataWaitFraction: number;
}

/** The loop's state after an epoch: with the weights and Adam's state, all a resume needs. */
export interface LoopState {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken: seeds the dropout masks. */
  step: number;
  lr: number;
  early: EarlyStoppingState;
  plateau: PlateauState;
  history: EpochRecord[];
  finished: boolean;
  /**
   * The shuffle window the run's batches were drawn with: null when every training row was in memory
   * (runs from before it: null). The epoch order depends on it, so a resume keeps it.
   */
  shuffleWindowRows?: number | null;
}

/** Adam keeps its bias-correction powers in variables it builds up by products; tfjs's setWeights
 * recomputes them with pow, which rounds differently, so they are saved and put back as they were. */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

function adamInternals(optimizer: tf.Optimizer): AdamInternals {
  const internals = optimizer as unknown as Partial<AdamInternals>;
  if (!(internals.accBeta1 instanceof tf.Variable) || !(internals.accBeta2 instanceof tf.Variable)) {
    throw new Error(`checkpoints need tfjs ${tf.version_core}'s Adam internals (accBeta1, accBeta2), which are missing`);
  }
  return internals as AdamInternals;
}

interface CheckpointIndex {
  weights: tf.io.WeightsManifestEntry[];
  optimizer: tf.io.WeightsManifestEntry[];
  accBeta: [number, number];
  state: LoopState;
  /** The weight averages (averages.bin), when the run averages its weights. */
  averages?: tf.io.WeightsManifestEntry[];
}

const AVERAGES_BIN = 'averages.bin';

export const checkpointName = (epoch: number) => `epoch-${String(epoch).padStart(4, '0')}`;
const CHECKPOINT_PATTERN = /^epoch-(\d{4,})$/;

function writeSynced(file: string, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * checkpoints/epoch-NNNN/{weights.bin, optimizer.bin, checkpoint.json}: written into a temporary
 * folder and renamed, so a checkpoint folder is complete or absent. Older checkpoints beyond `keep`
 * are removed after the new one is in place.
 */
export async function saveCheckpoint(
  dir: string, model: tf.LayersModel, optimizer: tf.Optimizer, state: LoopState, keep = 2, averages: { name: string; tensor: tf.Tensor }[] = [],
): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const weights = await tf.io.encodeWeights(model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })));
  const optimizerWeights = await tf.io.encodeWeights(await optimizer.getWeights());
  const averageWeights = averages.length > 0 ? await tf.io.encodeWeights(averages) : null;
  const { accBeta1, accBeta2 } = adamInternals(optimizer);
  const index: CheckpointIndex = {
    weights: weights.specs,
    optimizer: optimizerWeights.specs,
    accBeta: [accBeta1.dataSync()[0], accBeta2.dataSync()[0]],
    state,
    ...(averageWeights ? { averages: averageWeights.specs } : {}),
  };
  const final = path.join(dir, checkpointName(state.epoch));
  const tmp = `${final}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  writeSynced(path.join(tmp, WEIGHTS_BIN), weightBytes(weights.data));
  writeSynced(path.join(tmp, 'optimizer.bin'), weightBytes(optimizerWeights.data));
  if (averageWeights) writeSynced(path.join(tmp, AVERAGES_BIN), weightBytes(averageWeights.data));
  writeSynced(path.join(tmp, 'checkpoint.json'), Buffer.from(JSON.stringify(index), 'utf8'));
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } catch {
    // Directory fsync is refused on some file systems; the rename is atomic regardless.
  } finally {
    fs.closeSync(fd);
  }
  const epochs = listCheckpoints(dir);
  for (const epoch of epochs.slice(0, Math.max(0, epochs.length - keep))) fs.rmSync(path.join(dir, checkpointName(epoch)), { recursive: true, force: true });
}

/** Completed checkpoints, oldest first; leftover temporary folders are ignored. */
export function listCheckpoints(dir: string): number[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir)
    .map((name) => CHECKPOINT_PATTERN.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function ownBuffer(bytes: Buffer): ArrayBuffer {
  return Uint8Array.from(bytes).buffer;
}

function decode(bytes: Buffer, specs: tf.io.WeightsManifestEntry[]): tf.NamedTensorMap {
  return tf.io.decodeWeights(ownBuffer(bytes), specs);
}

/**
 * Restores the newest checkpoint into a freshly built model and optimizer; null when there is none.
 * Weights are matched by name, so a checkpoint of another architecture is refused, not misloaded.
 */
export async function restoreLatestCheckpoint(dir: string, model: tf.LayersModel, optimizer: tf.Optimizer): Promise<LoopState | null> {
  const epochs = listCheckpoints(dir);
  if (epochs.length === 0) return null;
  const folder = path.join(dir, checkpointName(epochs[epochs.length - 1]));
  const index = JSON.parse(fs.readFileSync(path.join(folder, 'checkpoint.json'), 'utf8')) as CheckpointIndex;
  const weights = decode(fs.readFileSync(path.join(folder, WEIGHTS_BIN)), index.weights);
  const values = model.weights.map((w) => {
    const value = weights[w.originalName];
    if (!value) throw new Error(`${folder}: the checkpoint has no weight ${w.originalName} (was the run's model changed?)`);
    if (value.shape.join('x') !== w.shape.join('x')) throw new Error(`${folder}: weight ${w.originalName} is [${value.shape}], the model has [${w.shape}]`);
    return value;
  });
  model.setWeights(values);
  tf.dispose(values);
  const optimizerWeights = decode(fs.readFileSync(path.join(folder, 'optimizer.bin')), index.optimizer);
  await optimizer.setWeights(index.optimizer.map((spec) => ({ name: spec.name, tensor: optimizerWeights[spec.name] })));
  tf.dispose(Object.values(optimizerWeights));
  const { accBeta1, accBeta2 } = adamInternals(optimizer);
  tf.tidy(() => {
    accBeta1.assign(tf.scalar(index.accBeta[0]));
    accBeta2.assign(tf.scalar(index.accBeta[1]));
  });
  return index.state;
}

/** The weight averages of the newest checkpoint, or null (no checkpoint, or one saved without them). */
export function readCheckpointAverages(dir: string): tf.NamedTensorMap | null {
  const epochs = listCheckpoints(dir);
  if (epochs.length === 0) return null;
  const folder = path.join(dir, checkpointName(epochs[epochs.length - 1]));
  const index = JSON.parse(fs.readFileSync(path.join(folder, 'checkpoint.json'), 'utf8')) as CheckpointIndex;
  if (!index.averages) return null;
  return decode(fs.readFileSync(path.join(folder, AVERAGES_BIN)), index.averages);
}
