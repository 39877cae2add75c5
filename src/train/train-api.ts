// train(): the options of `ser train` as a caller gives them, checked and resolved into the settings
// a run records, then handed to trainRun. Every bad value is an OptionsError naming the option.
import * as path from 'path';

import { DEFAULT_ONLINE_AUGMENT, specFromNames, validateAugmentSpec, type AugmentKind, type AugmentSpec } from '../augment/spec';
import { DEFAULT_SPEC_AUGMENT, validateSpecAugment, type SpecAugmentSpec } from '../augment/spec-augment';

export { DEFAULT_ONLINE_AUGMENT };
import { BACKENDS, checkThreadCount, DEVICES, type BackendChoice, type DeviceChoice } from '../backend/names';
import { OptionsError } from '../errors';
import { NORMALISE_MODES, type NormaliseMode } from '../features/normalise';
import type { CallOptions } from '../clips/extract';
import { compiledEntry, defaultWorkerCount } from '../workers/entry';
import type { EpochRecord } from './checkpoint';
import type { EpochProgress, Monitor } from './loop';
import { MODEL_PRESETS, type ModelSizes } from './defaults';
import { arrayTaskIndex } from '../data/array-task';
import { TRAIN_DEFAULTS as D } from './defaults';
import type { TrainRunResult } from './run';
import type { TrainSettings } from './run-folder';
import type { TrainEvent, TrainRequest } from './train-worker';
import { WorkerThread } from '../workers/thread';

/** Model sizes by name: `seed` (about 800k parameters) or `small` (fast, for tests and the demo). */
export type ModelPreset = keyof typeof MODEL_PRESETS;

/** train() options: the `ser train` flags in camelCase, with callbacks and an AbortSignal. */
export interface TrainOptions extends CallOptions {
  /** Cache folder from prepare (not needed with resume). */
  cache?: string;
  /** Run folder: config, metrics, checkpoints, best model. */
  output: string;
  /** Continue the run in `output` from its last checkpoint (its stored settings apply). */
  resume?: boolean;
  /** Model sizes; default 'seed'. */
  model?: ModelPreset;
  /** Filters of each Conv2D block, overriding the preset. */
  convFilters?: number[];
  lstmUnits?: number;
  attentionUnits?: number;
  dropout?: number;
  /** Most epochs; default 100. */
  epochs?: number;
  /** Rows per step; default 32. */
  batchSize?: number;
  /** Adam learning rate; default 1e-3. */
  lr?: number;
  /** Mixup Beta(alpha, alpha); 0 disables it; default 0.2. */
  mixup?: number;
  /** Early stopping: epochs without improvement of the monitored metric; default 15. */
  patience?: number;
  /** Epochs without improvement before the learning rate is cut; default 5. */
  lrPatience?: number;
  /** Learning-rate cut factor; default 0.5. */
  lrFactor?: number;
  /** Lowest learning rate; default 1e-5. */
  minLr?: number;
  /** What early stopping, the best-epoch choice and the learning-rate cuts watch; default 'val_loss'. */
  monitor?: Monitor;
  /**
   * How rows are standardised per coefficient: 'global' over the training rows, 'speaker' over each
   * speaker's own rows (prediction then wants a speaker map or enrolment clips, or falls back to each
   * recording's own), 'utterance' over each clip; default 'global' (chosen on real speech: a lone clip
   * scores best under it).
   */
  normalize?: NormaliseMode;
  /**
   * Decay of an exponential moving average of the weights, which validation, early stopping and the
   * saved model use (it steadies results from seed to seed); 0 disables it; default 0.99.
   */
  weightAverage?: number;
  /** Models per split, each from its own seed (seed-K/ folders); evaluation reports mean and std over them; default 1. */
  seeds?: number;
  /**
   * With normalize 'speaker': standardise each training row by the statistics of this many other clips
   * of its speaker, drawn anew every epoch (the statistics a user with k clips of a speaker has), instead
   * of all the speaker's clips. Default: all.
   */
  enrolClips?: number;
  /** Weight the loss by inverse class frequency of the training rows. */
  classWeights?: boolean;
  /** Seed of the split, initial weights, batch order, mixup and dropout; default 1. */
  seed?: number;
  /** 'speaker' (default): no speaker in two partitions; 'random': by clip (optimistic). */
  split?: 'speaker' | 'random';
  /** Validation speakers, e.g. ['ravdess:05', 'crema:1001']. */
  valSpeakers?: string[];
  testSpeakers?: string[];
  /** Share of speakers (or clips with a random split) for validation; default 0.15. */
  valFraction?: number;
  testFraction?: number;
  /** Speaker-disjoint k-fold cross-validation (k >= 3). */
  folds?: number;
  /**
   * With folds: train only this fold, 0-based, into the shared run folder (one task of an array job on
   * many machines; join them with evaluate). 'auto' takes it from JOB_COMPLETION_INDEX (Kubernetes) or
   * SLURM_ARRAY_TASK_ID (Slurm). The fold resumes from its own checkpoints when it has them.
   */
  fold?: number | 'auto';
  /**
   * SpecAugment: mask a few spans of frames and bands of coefficients of every training row, drawn
   * anew each epoch; true for DEFAULT_SPEC_AUGMENT (two spans of up to 20 frames, two bands of up to 4
   * coefficients). Default: off.
   */
  specAugment?: boolean | SpecAugmentSpec;
  /** Augment every training clip afresh each epoch (needs a cache with kept audio): true for the default effects. */
  onlineAugment?: boolean | readonly AugmentKind[] | AugmentSpec;
  /** Worker threads for online augmentation; default one per core. */
  workers?: number;
  /**
   * Memory budget for the training rows in MiB: rows that fit are loaded once into memory, a larger
   * training set is streamed shard by shard through a shuffle window of this size. Default: half of
   * the memory the system reports available (or of the process's cgroup limit, when lower).
   */
  cacheMemory?: number;
  /** TensorFlow.js backend; default 'auto'. */
  backend?: BackendChoice;
  /**
   * Where training steps run: 'gpu' (the engine's whole-model step on CUDA; needs an addon built with
   * SER_CUDA=ON, a usable GPU and the native backend, else an error says why), 'cpu' (the same step on
   * the native CPU engine; the tfjs step on other backends), or 'auto' (the GPU when gpuInfo() says one
   * is available and the run is on native; a GPU that fails the run's sizes falls back to the CPU).
   * Validation and prediction run on the CPU. Default 'auto'.
   */
  device?: DeviceChoice;
  /** Threads to train on; default every core. */
  threads?: number;
  /** Lines worth showing a person (backend chosen, split sizes); default: none. */
  log?: (line: string) => void;
  /** After every step. */
  onStep?: (event: { fold: number; folds: number; seed: number; seeds: number; progress: EpochProgress }) => void;
  /** After every epoch, with the record appended to metrics.jsonl. */
  onEpoch?: (event: { fold: number; folds: number; seed: number; seeds: number; record: EpochRecord }) => void;
}

const positiveInteger = (name: string, v: number): void => {
  if (!Number.isSafeInteger(v) || v < 1) throw new OptionsError(`${name} must be a positive integer, got ${v}`);
};

function modelSizes(options: TrainOptions): { preset: ModelPreset; sizes: ModelSizes } {
  const preset = options.model ?? D.model;
  if (!(preset in MODEL_PRESETS)) throw new OptionsError(`model (--model) must be one of ${Object.keys(MODEL_PRESETS).join(', ')}, got '${preset}'`);
  const sizes: ModelSizes = { ...MODEL_PRESETS[preset], convFilters: [...MODEL_PRESETS[preset].convFilters] };
  if (options.convFilters !== undefined) {
    const filters = options.convFilters;
    if (!Array.isArray(filters) || filters.length === 0 || filters.some((f) => !Number.isSafeInteger(f) || f < 1)) {
      throw new OptionsError(`convFilters (--conv-filters) must be positive integers like 8,16, got '${String(filters)}'`);
    }
    sizes.convFilters = [...filters];
  }
  if (options.lstmUnits !== undefined) positiveInteger('lstmUnits (--lstm-units)', options.lstmUnits);
  if (options.attentionUnits !== undefined) positiveInteger('attentionUnits (--attention-units)', options.attentionUnits);
  sizes.lstmUnits = options.lstmUnits ?? sizes.lstmUnits;
  sizes.attentionUnits = options.attentionUnits ?? sizes.attentionUnits;
  if (options.dropout !== undefined) {
    if (!(options.dropout >= 0 && options.dropout < 1)) throw new OptionsError(`dropout (--dropout) must be in [0, 1), got ${options.dropout}`);
    sizes.dropout = options.dropout;
  }
  return { preset, sizes };
}

function onlineAugmentSpec(value: TrainOptions['onlineAugment']): AugmentSpec | null {
  if (value === undefined || value === false) return null;
  const spec = value === true ? specFromNames(DEFAULT_ONLINE_AUGMENT) : Array.isArray(value) ? specFromNames(value as readonly string[]) : (value as AugmentSpec);
  try {
    validateAugmentSpec(spec);
  } catch (error) {
    throw new OptionsError(`onlineAugment (--online-augment): ${(error as Error).message}`);
  }
  return spec;
}

function checkSettings(s: TrainSettings): void {
  positiveInteger('epochs (--epochs)', s.epochs);
  positiveInteger('batchSize (--batch-size)', s.batchSize);
  positiveInteger('patience (--patience)', s.patience);
  positiveInteger('lrPatience (--lr-patience)', s.lrPatience);
  if (!(s.lr > 0)) throw new OptionsError(`lr (--lr) must be > 0, got ${s.lr}`);
  if (!(s.minLr >= 0)) throw new OptionsError(`minLr (--min-lr) must be >= 0, got ${s.minLr}`);
  if (!(s.lrFactor > 0 && s.lrFactor < 1)) throw new OptionsError(`lrFactor (--lr-factor) must be in (0, 1), got ${s.lrFactor}`);
  if (!(s.mixupAlpha >= 0)) throw new OptionsError(`mixup (--mixup) must be >= 0 (0 disables it), got ${s.mixupAlpha}`);
  if (!Number.isSafeInteger(s.seed) || s.seed < 0) throw new OptionsError(`seed (--seed) must be a non-negative integer, got ${s.seed}`);
  if (!NORMALISE_MODES.includes(s.normalize as NormaliseMode)) throw new OptionsError(`normalize (--normalize) must be one of ${NORMALISE_MODES.join(', ')}, got '${String(s.normalize)}'`);
  if (!(typeof s.weightAverage === 'number' && s.weightAverage >= 0 && s.weightAverage < 1)) throw new OptionsError(`weightAverage (--weight-average) must be in [0, 1) (0 disables it), got ${s.weightAverage}`);
  if (!Number.isSafeInteger(s.seeds) || (s.seeds as number) < 1) throw new OptionsError(`seeds (--seeds) must be a positive integer, got ${s.seeds}`);
  if (s.monitor !== 'val_loss' && s.monitor !== 'val_uar') throw new OptionsError(`monitor (--monitor) must be val_loss or val_uar, got '${String(s.monitor)}'`);
  if (s.split !== 'speaker' && s.split !== 'random') throw new OptionsError(`split (--split) must be speaker or random, got '${String(s.split)}'`);
  for (const [name, v] of [['valFraction (--val-fraction)', s.valFraction], ['testFraction (--test-fraction)', s.testFraction]] as const) {
    if (!(v >= 0 && v < 1)) throw new OptionsError(`${name} must be in [0, 1), got ${v}`);
  }
  if (s.folds !== null && (!Number.isSafeInteger(s.folds) || s.folds < 3)) throw new OptionsError(`folds (--folds) must be an integer >= 3, got ${s.folds}`);
  if (s.folds !== null && (s.valSpeakers || s.testSpeakers)) throw new OptionsError('folds (--folds) assigns every speaker itself; drop valSpeakers / testSpeakers');
  if (s.folds !== null && s.split === 'random') throw new OptionsError('folds (--folds) is speaker-disjoint; it cannot be combined with a random split');
}

const speakerList = (value: string[] | undefined): string[] | null => {
  const items = (value ?? []).map((s) => s.trim()).filter(Boolean);
  return items.length > 0 ? items : null;
};

/** The 0-based fold of --fold i|auto, from the environment of an array task for auto. */
export function resolveFold(fold: number | 'auto' | undefined, env: NodeJS.ProcessEnv): number | null {
  if (fold === undefined) return null;
  const index = fold === 'auto' ? arrayTaskIndex(env) : fold;
  if (index === null) throw new OptionsError('fold (--fold) auto needs JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm) set');
  if (!Number.isSafeInteger(index) || index < 0) throw new OptionsError(`fold (--fold) must be a non-negative integer or auto, got ${fold === 'auto' ? `${index} from the environment` : fold}`);
  return index;
}

/** The settings a new run records, from the caller's options (defaults filled, every value checked). */
export function resolveTrainSettings(options: TrainOptions): TrainSettings {
  if (!options.cache) throw new OptionsError('train needs a cache folder (or resume)');
  const { preset, sizes } = modelSizes(options);
  const settings: TrainSettings = {
    cache: path.resolve(options.cache), modelPreset: preset, sizes,
    epochs: options.epochs ?? D.epochs, batchSize: options.batchSize ?? D.batchSize, lr: options.lr ?? D.lr, mixupAlpha: options.mixup ?? D.mixup,
    patience: options.patience ?? D.patience, lrPatience: options.lrPatience ?? D.lrPatience, lrFactor: options.lrFactor ?? D.lrFactor, minLr: options.minLr ?? D.minLr,
    classWeights: Boolean(options.classWeights), seed: options.seed ?? D.seed, split: options.split ?? D.split,
    valSpeakers: speakerList(options.valSpeakers), testSpeakers: speakerList(options.testSpeakers),
    valFraction: options.valFraction ?? D.valFraction, testFraction: options.testFraction ?? D.testFraction, folds: options.folds ?? null,
    onlineAugment: onlineAugmentSpec(options.onlineAugment), monitor: options.monitor ?? D.monitor,
    normalize: options.normalize ?? D.normalize, seeds: options.seeds ?? D.seeds, weightAverage: options.weightAverage ?? D.weightAverage,
    ...(options.specAugment ? { specAugment: options.specAugment === true ? { ...DEFAULT_SPEC_AUGMENT } : { ...options.specAugment } } : {}),
  };
  if (settings.specAugment) validateSpecAugment(settings.specAugment);
  if (options.enrolClips !== undefined) {
    positiveInteger('enrolClips (--enrol-clips)', options.enrolClips);
    if (settings.normalize !== 'speaker') throw new OptionsError('enrolClips (--enrol-clips) goes with speaker normalisation (--normalize speaker)');
    settings.enrolClips = options.enrolClips;
  }
  checkSettings(settings);
  return settings;
}

/**
 * Trains the CNN-BiLSTM-attention model on a prepare cache into a run folder (speaker-independent by
 * default), with mixup, early stopping and learning-rate cuts. Aborting (options.signal) rejects with
 * an AbortError after the running step; `resume: true` then continues from the last finished epoch and
 * ends with the same weights as an uninterrupted run.
 */
export async function train(options: TrainOptions): Promise<TrainRunResult> {
  if (typeof options?.output !== 'string' || options.output === '') throw new OptionsError('output (-o) must be a folder path');
  const backend = options.backend ?? D.backend;
  if (backend !== 'auto' && !BACKENDS.includes(backend)) throw new OptionsError(`backend (--backend) must be auto or one of ${BACKENDS.join(', ')}, got '${backend}'`);
  const device = options.device ?? D.device;
  if (!DEVICES.includes(device)) throw new OptionsError(`device (--device) must be one of ${DEVICES.join(', ')}, got '${device}'`);
  const workers = options.workers ?? defaultWorkerCount();
  positiveInteger('workers (--workers)', workers);
  if (options.threads !== undefined) checkThreadCount(options.threads);
  if (options.cacheMemory !== undefined && !(typeof options.cacheMemory === 'number' && Number.isFinite(options.cacheMemory) && options.cacheMemory > 0)) {
    throw new OptionsError(`cacheMemory (--cache-memory) must be a positive number of MiB, got ${options.cacheMemory}`);
  }
  const settings = options.resume ? null : resolveTrainSettings(options);
  const fold = resolveFold(options.fold, process.env);
  if (fold !== null && settings && settings.folds === null) throw new OptionsError('fold (--fold) needs folds (--folds K)');
  const request: TrainRequest = {
    runDir: options.output, backend, device, threads: options.threads, workers, cacheMemoryMiB: options.cacheMemory, resume: Boolean(options.resume), settings, fold,
    wantSteps: options.onStep !== undefined, wantEpochs: options.onEpoch !== undefined,
  };
  // The run trains in a worker thread of its own: a step is a quarter of a second of synchronous
  // kernels with the seed preset, which would otherwise stall the caller's timers and I/O.
  const thread = new WorkerThread(compiledEntry('train', 'train-worker', __dirname));
  try {
    return await thread.call<TrainRunResult>(request, {
      signal: options.signal,
      onEvent: (message) => {
        const event = message as TrainEvent;
        if (event.kind === 'log') options.log?.(event.line);
        else if (event.kind === 'step') options.onStep?.({ fold: event.fold, folds: event.folds, seed: event.seed, seeds: event.seeds, progress: event.progress });
        else options.onEpoch?.({ fold: event.fold, folds: event.folds, seed: event.seed, seeds: event.seeds, record: event.record });
      },
    });
  } finally {
    await thread.terminate();
  }
}
