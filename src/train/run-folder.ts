// A run folder's records, readable without TensorFlow.js: config.json (the settings a run trains with),
// folds.json (its splits) and the members (fold x seed) it trains. loadModel() and train() read them on
// the caller's thread; the training and the models live in worker threads.
import * as fs from 'fs';
import * as path from 'path';

import type { AugmentSpec } from '../augment/spec';
import type { SpecAugmentSpec } from '../augment/spec-augment';
import type { Split, SplitKind } from '../data/splits';
import { InputFileError } from '../errors';
import type { NormaliseMode } from '../features/normalise';
import type { ModelSizes, Monitor } from './defaults';

export const RUN_VERSION = 1;
export const CONFIG_JSON = 'config.json';
export const FOLDS_JSON = 'folds.json';
/** A fold trained on its own (--fold) records its starts here, not in the shared config.json. */
export const STARTS_JSON = 'starts.json';
/** A saved model's topology and weights manifest (tfjs's layers-model format). */
export const MODEL_JSON = 'model.json';

/** Everything that decides what a run trains; stored in config.json and read back by --resume. */
export interface TrainSettings {
  cache: string;
  modelPreset: string;
  sizes: ModelSizes;
  epochs: number;
  batchSize: number;
  lr: number;
  mixupAlpha: number;
  patience: number;
  lrPatience: number;
  lrFactor: number;
  minLr: number;
  classWeights: boolean;
  seed: number;
  split: SplitKind;
  valSpeakers: string[] | null;
  testSpeakers: string[] | null;
  valFraction: number;
  testFraction: number;
  folds: number | null;
  onlineAugment: AugmentSpec | null;
  /** What early stopping, the best epoch and the learning-rate cuts watch (runs from before it: val_loss). */
  monitor?: Monitor;
  /** How rows are standardised (runs from before it: global). */
  normalize?: NormaliseMode;
  /**
   * Models trained per split, each with its own initial weights, batch order, mixup and dropout (seed
   * K trains with seed + K - 1; the split stays that of `seed`). Runs from before it: 1.
   */
  seeds?: number;
  /** Decay of the moving average of the weights that validation and the best model use; 0: none (runs from before it). */
  weightAverage?: number;
  /** SpecAugment masks on every training row (runs from before it: none). */
  specAugment?: SpecAugmentSpec | null;
  /**
   * With speaker normalisation: train on statistics from this many other clips of each row's speaker,
   * drawn anew every epoch, as a user with a few clips of a speaker has them (absent or 0: all its clips).
   */
  enrolClips?: number;
}

export interface RunConfig {
  version: number;
  createdBy: string;
  created: string;
  settings: TrainSettings;
  /** The backend, thread count and training device of each start or resume of the run, in order. */
  backends: { backend: string; threads?: number; device?: 'cpu' | 'gpu'; step?: 'engine' | 'tfjs'; gpu?: string; fromEpoch: number; date: string }[];
}

export interface FoldRecord {
  fold: number;
  /** The fold's folder relative to the run ('.' for a single split). */
  dir: string;
  kind: SplitKind;
  optimistic: boolean;
  speakers: Split['speakers'];
  counts: { train: number; val: number; test: number };
  /** Clip ids (source clips) of validation and test: evaluation selects the cache's rows by them. */
  valIds: string[];
  testIds: string[];
}

export function readRunConfig(runDir: string): RunConfig {
  const file = path.join(runDir, CONFIG_JSON);
  if (!fs.existsSync(file)) throw new InputFileError(runDir, `no ${CONFIG_JSON} (not a ser train run folder)`);
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as RunConfig;
  if (config.version !== RUN_VERSION) throw new InputFileError(file, `run version ${config.version}, this ser reads ${RUN_VERSION}`);
  return config;
}

export function readFolds(runDir: string): FoldRecord[] {
  return JSON.parse(fs.readFileSync(path.join(runDir, FOLDS_JSON), 'utf8')) as FoldRecord[];
}

export interface RunMember {
  fold: FoldRecord;
  /** 1-based. */
  seed: number;
  /** Its folder relative to the run: the fold's, or seed-K/ and the fold's below it with several seeds. */
  dir: string;
}

/** Every model a run trains, seed by seed, fold by fold. */
export function runMembers(settings: TrainSettings, folds: readonly FoldRecord[]): RunMember[] {
  const seeds = settings.seeds ?? 1;
  return Array.from({ length: seeds }, (_, s) => folds.map((fold) => ({
    fold, seed: s + 1, dir: seeds === 1 ? fold.dir : path.join(`seed-${s + 1}`, fold.dir),
  }))).flat();
}
