// `ser prepare <dataset> -o <cache>` and `ser merge <cache>... -o <cache>`.
import { Command, Option } from 'commander';

import { AugmentSpecError, specFromNames, validateAugmentSpec } from '../augment/spec';
import { CORPORA, type CorpusChoice } from '../data/corpora';
import { mergeCaches } from '../data/merge';
import { prepareCache } from '../data/prepare';
import type { SliceSpec } from '../data/cache';
import { defaultWorkerCount } from '../workers/pool';
import { UsageError } from './errors';
import { addFeatureOptions, featureConfigFrom, parseInteger, parseNumber } from './options';
import { ProgressReporter } from './progress';

interface PrepareCliOptions extends Record<string, unknown> {
  output: string;
  corpus: CorpusChoice;
  duration: number;
  offset: number;
  augment?: string;
  copies?: number;
  augmentProbability?: number;
  seed: number;
  workers?: number;
  shard?: string;
  shards?: number;
  shardRows: number;
  clipsPerTask: number;
  keepAudio?: boolean;
  overwrite?: boolean;
  strict?: boolean;
  json?: boolean;
}

/** --shard K/N, or --shards N with K from a Kubernetes Indexed Job or a Slurm array. */
export function resolveSlice(shard: string | undefined, shards: number | undefined, env: NodeJS.ProcessEnv): SliceSpec | null {
  if (shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(shard);
    if (!m) throw new UsageError(`--shard must look like K/N (e.g. 0/4), got '${shard}'`);
    const [index, count] = [Number(m[1]), Number(m[2])];
    if (count < 1 || index >= count) throw new UsageError(`--shard ${shard}: K must be 0..N-1`);
    if (shards !== undefined && shards !== count) throw new UsageError(`--shard ${shard} disagrees with --shards ${shards}`);
    return { index, count };
  }
  if (shards === undefined) return null;
  if (shards < 1) throw new UsageError('--shards must be at least 1');
  let index: number;
  if (env.JOB_COMPLETION_INDEX !== undefined) index = Number(env.JOB_COMPLETION_INDEX);
  else if (env.SLURM_ARRAY_TASK_ID !== undefined) index = Number(env.SLURM_ARRAY_TASK_ID) - Number(env.SLURM_ARRAY_TASK_MIN ?? 0);
  else throw new UsageError('--shards N needs --shard K/N, or JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm) set');
  if (!Number.isInteger(index) || index < 0 || index >= shards) {
    throw new UsageError(`the job index ${index} from the environment is outside 0..${shards - 1}`);
  }
  return { index, count: shards };
}

function positive(flag: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${flag} must be an integer >= ${min}, got ${value}`);
}

export function prepareCommand(): Command {
  const command = new Command('prepare')
    .description('compute features of every clip in a dataset folder into an NPY cache (all cores, resumable)')
    .argument('<dataset>', 'folder of clips (RAVDESS, CREMA-D, TESS, SAVEE or the Kaggle bundle)')
    .requiredOption('-o, --output <cache>', 'cache folder')
    .addOption(new Option('--corpus <name>', 'naming convention of the files').choices(['auto', ...CORPORA]).default('auto'))
    .option('--duration <seconds>', 'length of every clip after cropping / zero padding', parseNumber, 3)
    .option('--offset <seconds>', 'where the crop starts', parseNumber, 0.5)
    .option('--augment <list>', 'augmented copies with these effects: noise,shift,stretch,pitch,speed')
    .option('--copies <n>', 'augmented copies per clip (with --augment; default 1)', parseInteger)
    .option('--augment-probability <p>', 'chance each listed effect is applied to a copy', parseNumber, 0.5)
    .option('--seed <n>', 'seed of the augmentation draws', parseInteger, 1)
    .option('--workers <n>', 'worker threads (default: one per core)', parseInteger)
    .option('--shard <K/N>', 'process only slice K of N (for many machines; join with ser merge)')
    .option('--shards <n>', 'slice count; K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID', parseInteger)
    .option('--shard-rows <n>', 'rows per NPY shard file', parseInteger, 512)
    .option('--clips-per-task <n>', 'clips per worker task', parseInteger, 8)
    .option('--keep-audio', 'also store the cropped 16 kHz audio (audio-*.npy) for online augmentation')
    .option('--overwrite', 'replace an existing cache in the output folder')
    .option('--strict', 'exit 1 when any clip fails')
    .option('--json', 'print the summary as JSON');
  addFeatureOptions(command);
  return command.action(async (dataset: string, opts: PrepareCliOptions) => {
    const features = featureConfigFrom(opts);
    if (!(opts.duration > 0 && opts.duration <= 600)) throw new UsageError(`--duration must be in (0, 600] s, got ${opts.duration}`);
    if (!(opts.offset >= 0)) throw new UsageError(`--offset must be >= 0 s, got ${opts.offset}`);
    if (opts.copies !== undefined && !opts.augment) throw new UsageError('--copies needs --augment');
    let augment = null;
    if (opts.augment) {
      try {
        augment = specFromNames(opts.augment.split(',').map((s) => s.trim()).filter(Boolean), opts.augmentProbability);
        validateAugmentSpec(augment);
      } catch (error) {
        if (error instanceof AugmentSpecError) throw new UsageError(error.message);
        throw error;
      }
    }
    const copies = opts.copies ?? (augment ? 1 : 0);
    if (augment) positive('--copies', copies);
    const workers = opts.workers ?? defaultWorkerCount();
    positive('--workers', workers);
    positive('--shard-rows', opts.shardRows);
    positive('--clips-per-task', opts.clipsPerTask);
    if (opts.seed < 0 || !Number.isSafeInteger(opts.seed)) throw new UsageError('--seed must be a non-negative integer');
    const slice = resolveSlice(opts.shard, opts.shards, process.env);

    const progress = new ProgressReporter('prepare', 'clips');
    const summary = await prepareCache({
        dataset, out: opts.output, corpus: opts.corpus, features,
        crop: { offsetSeconds: opts.offset, durationSeconds: opts.duration },
        augment, copies, seed: opts.seed, workers, slice, shardRows: opts.shardRows, clipsPerTask: opts.clipsPerTask,
        keepAudio: Boolean(opts.keepAudio), overwrite: Boolean(opts.overwrite),
      onProgress: (state) => progress.update(state),
    });
    progress.update({ done: summary.units, total: summary.units, failed: summary.failed, elapsedSeconds: summary.elapsedSeconds }, true);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write(
        `prepared ${summary.rows} rows in ${summary.shards} shards (${summary.resumedShards} resumed) from ` +
          `${summary.audioSeconds.toFixed(1)} s of audio in ${summary.elapsedSeconds.toFixed(1)} s ` +
          `(${summary.realTimeFactor.toFixed(0)}x real time, ${summary.workers} workers); ` +
          `${summary.failed} failed, ${summary.skipped} skipped (see manifest.json); cache: ${summary.out}\n`,
      );
    }
    if (summary.failed > 0) {
      const where = `their reasons are in ${summary.out}/manifest.json "failures"`;
      if (opts.strict) throw new Error(`${summary.failed} clip(s) failed (--strict); ${where}`);
      process.stderr.write(`ser prepare: ${summary.failed} clip(s) failed; ${where}\n`);
    }
  });
}

export function mergeCommand(): Command {
  return new Command('merge')
    .description('join caches made with --shard K/N into one cache (shard files are copied and checked)')
    .argument('<caches...>', 'cache folders to join, in order')
    .requiredOption('-o, --output <cache>', 'merged cache folder')
    .option('--overwrite', 'replace an existing cache in the output folder')
    .option('--json', 'print the summary as JSON')
    .action((caches: string[], opts: { output: string; overwrite?: boolean; json?: boolean }) => {
      const summary = mergeCaches(caches, opts.output, Boolean(opts.overwrite));
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(summary)}\n`
          : `merged ${summary.inputs} caches: ${summary.rows} rows in ${summary.shards} shards, ${summary.failures} failures; cache: ${summary.out}\n`,
      );
    });
}
