// prepare(): the options as a caller gives them (defaults and names of `ser prepare`), checked and
// resolved into the job prepareCache runs. Every bad value is an OptionsError naming the option.
import * as path from 'path';

import { specFromNames, validateAugmentSpec, type AugmentKind, type AugmentSpec } from '../augment/spec';
import { OptionsError } from '../errors';
import { resolveFeatureConfig, type FeatureOptions } from '../features/config';
import type { CallOptions } from './extract';
import { defaultWorkerCount } from '../workers/pool';
import { arrayTaskIndex } from '../data/array-task';
import type { SliceSpec } from '../data/cache';
import { CORPORA, type CorpusChoice } from '../data/corpora';
import { prepareCache, type PrepareJob, type PrepareProgress, type PrepareSummary } from './prepare';

/** prepare() options: the `ser prepare` flags in camelCase, with progress and an AbortSignal. */
export interface PrepareOptions extends CallOptions {
  /** Folder of clips (RAVDESS, CREMA-D, TESS, SAVEE or the Kaggle bundle); not with manifest. */
  dataset?: string;
  /**
   * A clip list instead of a folder: a CSV file with a header naming the columns path, label, speaker
   * and optionally gender and corpus (paths relative to the list). Any labels: the cache records them
   * and a model trained on it predicts them. Bad rows are recorded in the cache manifest and skipped.
   */
  manifest?: string;
  /** Cache folder to write (or resume). */
  output: string;
  /** Naming convention of the files; default 'auto'. */
  corpus?: CorpusChoice;
  /** Feature options of `ser features` (defaults: DESIGN section 3). */
  features?: FeatureOptions;
  /** Length of every row after cropping or zero padding; default 3 s. */
  durationSeconds?: number;
  /** Where the crop starts; default 0.5 s. */
  offsetSeconds?: number;
  /** Augmented copies with these effects (names, or a full spec); default none. */
  augment?: readonly AugmentKind[] | AugmentSpec | null;
  /** Augmented copies per clip (with augment); default 1. */
  copies?: number;
  /** Chance each listed effect is applied to a copy (with augment names); default 0.5. */
  augmentProbability?: number;
  /** Seed of the augmentation draws; default 1. */
  seed?: number;
  /** Worker threads; default one per core. */
  workers?: number;
  /** Only slice `index` of `count` (many machines; join with merge), as { index, count } or 'K/N'. */
  shard?: SliceSpec | string;
  /** Slice count, with the index taken from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID. */
  shards?: number;
  /** Rows per NPY shard file; default 512. */
  shardRows?: number;
  /** Clips per worker task; default 8. */
  clipsPerTask?: number;
  /** Also keep the cropped 16 kHz audio (for online augmentation in training). */
  keepAudio?: boolean;
  /** Replace a cache of other settings in the output folder instead of refusing. */
  overwrite?: boolean;
  onProgress?: (progress: PrepareProgress) => void;
}

/** Every default of prepare() that has a value (workers default to one per core). */
export const PREPARE_DEFAULTS = {
  corpus: 'auto',
  durationSeconds: 3,
  offsetSeconds: 0.5,
  copies: 1,
  augmentProbability: 0.5,
  seed: 1,
  shardRows: 512,
  clipsPerTask: 8,
} as const;

const D = PREPARE_DEFAULTS;

function integerAtLeast(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new OptionsError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

/** The slice of a --shard K/N or of --shards N with the index from a Kubernetes Indexed Job or a Slurm array. */
export function resolveSlice(shard: SliceSpec | string | undefined, shards: number | undefined, env: NodeJS.ProcessEnv): SliceSpec | null {
  if (shard !== undefined) {
    let index: number;
    let count: number;
    if (typeof shard === 'string') {
      const m = /^(\d+)\/(\d+)$/.exec(shard);
      if (!m) throw new OptionsError(`shard (--shard) must look like K/N (e.g. 0/4), got '${shard}'`);
      [index, count] = [Number(m[1]), Number(m[2])];
    } else {
      ({ index, count } = shard);
    }
    const text = `${index}/${count}`;
    if (!Number.isSafeInteger(count) || !Number.isSafeInteger(index) || count < 1 || index < 0 || index >= count) {
      throw new OptionsError(`shard (--shard) ${text}: K must be 0..N-1`);
    }
    if (shards !== undefined && shards !== count) throw new OptionsError(`shard (--shard) ${text} disagrees with shards (--shards) ${shards}`);
    return { index, count };
  }
  if (shards === undefined) return null;
  integerAtLeast('shards (--shards)', shards, 1);
  const index = arrayTaskIndex(env);
  if (index === null) throw new OptionsError('shards (--shards) N needs shard (--shard K/N), or JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm) set');
  if (!Number.isInteger(index) || index < 0 || index >= shards) {
    throw new OptionsError(`the job index ${index} from the environment is outside 0..${shards - 1}`);
  }
  return { index, count: shards };
}

function augmentSpecOf(options: PrepareOptions): AugmentSpec | null {
  const { augment } = options;
  if (augment === undefined || augment === null) return null;
  const spec = Array.isArray(augment) ? specFromNames(augment as readonly string[], options.augmentProbability ?? D.augmentProbability) : (augment as AugmentSpec);
  validateAugmentSpec(spec);
  return spec;
}

/** Checks the caller's options and fills the defaults; `env` gives the job index for `shards`. */
export function resolvePrepareOptions(options: PrepareOptions, env: NodeJS.ProcessEnv = process.env): PrepareJob {
  const manifest = options?.manifest;
  if (manifest !== undefined && (typeof manifest !== 'string' || manifest === '')) throw new OptionsError('manifest (--manifest) must be a CSV file path');
  if (manifest !== undefined && options.dataset !== undefined) throw new OptionsError('give a dataset folder or a clip list (--manifest), not both');
  if (manifest !== undefined && options.corpus !== undefined && options.corpus !== 'auto') throw new OptionsError('corpus (--corpus) names a file-name convention; a clip list (--manifest) labels its clips itself');
  if (manifest === undefined && (typeof options?.dataset !== 'string' || options.dataset === '')) throw new OptionsError('dataset must be a folder path (or give a clip list with manifest / --manifest)');
  if (typeof options.output !== 'string' || options.output === '') throw new OptionsError('output (-o) must be a folder path');
  const corpus = options.corpus ?? D.corpus;
  if (corpus !== 'auto' && !CORPORA.includes(corpus)) throw new OptionsError(`corpus (--corpus) must be auto or one of ${CORPORA.join(', ')}, got '${corpus}'`);
  const features = resolveFeatureConfig(options.features ?? {});
  const durationSeconds = options.durationSeconds ?? D.durationSeconds;
  const offsetSeconds = options.offsetSeconds ?? D.offsetSeconds;
  if (!(durationSeconds > 0 && durationSeconds <= 600)) throw new OptionsError(`durationSeconds (--duration) must be in (0, 600] s, got ${durationSeconds}`);
  if (!(offsetSeconds >= 0 && Number.isFinite(offsetSeconds))) throw new OptionsError(`offsetSeconds (--offset) must be >= 0 s, got ${offsetSeconds}`);
  if (options.copies !== undefined && !options.augment) throw new OptionsError('copies (--copies) needs augment (--augment)');
  const augment = augmentSpecOf(options);
  const copies = augment ? integerAtLeast('copies (--copies)', options.copies ?? D.copies, 1) : 0;
  return {
    dataset: manifest === undefined ? (options.dataset as string) : path.dirname(path.resolve(manifest)),
    manifest: manifest ?? null, out: options.output, corpus, features,
    crop: { offsetSeconds, durationSeconds },
    augment, copies,
    seed: integerAtLeast('seed (--seed)', options.seed ?? D.seed, 0),
    workers: integerAtLeast('workers (--workers)', options.workers ?? defaultWorkerCount(), 1),
    slice: resolveSlice(options.shard, options.shards, env),
    shardRows: integerAtLeast('shardRows (--shard-rows)', options.shardRows ?? D.shardRows, 1),
    clipsPerTask: integerAtLeast('clipsPerTask (--clips-per-task)', options.clipsPerTask ?? D.clipsPerTask, 1),
    keepAudio: Boolean(options.keepAudio), overwrite: Boolean(options.overwrite),
    signal: options.signal, onProgress: options.onProgress,
  };
}

/**
 * Computes the features of every clip of a dataset folder into a cache folder, on every core, shard
 * by shard. A cache of the same settings is resumed; aborting (options.signal) rejects with an
 * AbortError once the running tasks end, keeping every finished shard, so running it again resumes.
 */
export async function prepare(options: PrepareOptions): Promise<PrepareSummary> {
  return prepareCache(resolvePrepareOptions(options));
}
