// prepare(): the options as a caller gives them (defaults and names of `ser prepare`), checked and
// resolved into the job prepareCache runs. Every bad value is an OptionsError naming the option.
import { specFromNames, validateAugmentSpec, type AugmentKind, type AugmentSpec } from '../augment/spec';
import { OptionsError } from '../errors';
import { resolveFeatureConfig, type FeatureOptions } from '../features/config';
import type { CallOptions } from '../features/extract';
import { defaultWorkerCount } from '../workers/pool';
import { arrayTaskIndex } from './array-task';
import type { SliceSpec } from './cache';
import { CORPORA, type CorpusChoice } from './corpora';
import { prepareCache, type PrepareJob, type PrepareProgress, type PrepareSummary } from './prepare';

/** prepare() options: the `ser prepare` flags in camelCase, with progress and an AbortSignal. */
export interface PrepareOptions extends CallOptions {
  /** Folder of clips (RAVDESS, CREMA-D, TESS, SAVEE or the Kaggle bundle). */
  dataset: string;
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
  const spec = Array.isArray(augment) ? specFromNames(augment as readonly string[], options.augmentProbability ?? 0.5) : (augment as AugmentSpec);
  validateAugmentSpec(spec);
  return spec;
}

/** Checks the caller's options and fills the defaults; `env` gives the job index for `shards`. */
export function resolvePrepareOptions(options: PrepareOptions, env: NodeJS.ProcessEnv = process.env): PrepareJob {
  if (typeof options?.dataset !== 'string' || options.dataset === '') throw new OptionsError('dataset must be a folder path');
  if (typeof options.output !== 'string' || options.output === '') throw new OptionsError('output (-o) must be a folder path');
  const corpus = options.corpus ?? 'auto';
  if (corpus !== 'auto' && !CORPORA.includes(corpus)) throw new OptionsError(`corpus (--corpus) must be auto or one of ${CORPORA.join(', ')}, got '${corpus}'`);
  const features = resolveFeatureConfig(options.features ?? {});
  const durationSeconds = options.durationSeconds ?? 3;
  const offsetSeconds = options.offsetSeconds ?? 0.5;
  if (!(durationSeconds > 0 && durationSeconds <= 600)) throw new OptionsError(`durationSeconds (--duration) must be in (0, 600] s, got ${durationSeconds}`);
  if (!(offsetSeconds >= 0 && Number.isFinite(offsetSeconds))) throw new OptionsError(`offsetSeconds (--offset) must be >= 0 s, got ${offsetSeconds}`);
  if (options.copies !== undefined && !options.augment) throw new OptionsError('copies (--copies) needs augment (--augment)');
  const augment = augmentSpecOf(options);
  const copies = augment ? integerAtLeast('copies (--copies)', options.copies ?? 1, 1) : 0;
  return {
    dataset: options.dataset, out: options.output, corpus, features,
    crop: { offsetSeconds, durationSeconds },
    augment, copies,
    seed: integerAtLeast('seed (--seed)', options.seed ?? 1, 0),
    workers: integerAtLeast('workers (--workers)', options.workers ?? defaultWorkerCount(), 1),
    slice: resolveSlice(options.shard, options.shards, env),
    shardRows: integerAtLeast('shardRows (--shard-rows)', options.shardRows ?? 512, 1),
    clipsPerTask: integerAtLeast('clipsPerTask (--clips-per-task)', options.clipsPerTask ?? 8, 1),
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
