// `ser prepare <dataset> -o <cache>` and `ser merge <cache>... -o <cache>`.
import { Command, Option } from 'commander';

import { CORPORA, merge, OptionsError, prepare, PREPARE_DEFAULTS, type AugmentKind, type CorpusChoice } from '../index';
import { parseInteger, parseNumber, addFeatureOptions, featureOptionsFrom } from './options';
import { ProgressReporter } from './progress';

interface PrepareCliOptions extends Record<string, unknown> {
  output: string;
  manifest?: string;
  corpus: CorpusChoice;
  duration: number;
  offset: number;
  augment?: string;
  copies?: number;
  augmentProbability: number;
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

export function prepareCommand(): Command {
  const command = new Command('prepare')
    .description('compute features of every clip in a dataset folder (or a clip list) into an NPY cache (all cores, resumable)')
    .argument('[dataset]', 'folder of clips (RAVDESS, CREMA-D, TESS, SAVEE or the Kaggle bundle); not with --manifest')
    .requiredOption('-o, --output <cache>', 'cache folder')
    .option('--manifest <clips.csv>', 'a clip list instead of a folder: CSV with a header of path,label,speaker[,gender,corpus], paths relative to it; any labels')
    .addOption(new Option('--corpus <name>', 'naming convention of the files').choices(['auto', ...CORPORA]).default(PREPARE_DEFAULTS.corpus))
    .option('--duration <seconds>', 'length of every clip after cropping / zero padding', parseNumber, PREPARE_DEFAULTS.durationSeconds)
    .option('--offset <seconds>', 'where the crop starts', parseNumber, PREPARE_DEFAULTS.offsetSeconds)
    .option('--augment <list>', 'augmented copies with these effects: noise,shift,stretch,pitch,speed')
    .option('--copies <n>', `augmented copies per clip (with --augment; default ${PREPARE_DEFAULTS.copies})`, parseInteger)
    .option('--augment-probability <p>', 'chance each listed effect is applied to a copy', parseNumber, PREPARE_DEFAULTS.augmentProbability)
    .option('--seed <n>', 'seed of the augmentation draws', parseInteger, PREPARE_DEFAULTS.seed)
    .option('--workers <n>', 'worker threads (default: one per core)', parseInteger)
    .option('--shard <K/N>', 'process only slice K of N (for many machines; join with ser merge)')
    .option('--shards <n>', 'slice count; K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID', parseInteger)
    .option('--shard-rows <n>', 'rows per NPY shard file', parseInteger, PREPARE_DEFAULTS.shardRows)
    .option('--clips-per-task <n>', 'clips per worker task', parseInteger, PREPARE_DEFAULTS.clipsPerTask)
    .option('--keep-audio', 'also store the cropped 16 kHz audio (audio-*.npy) for online augmentation')
    .option('--overwrite', 'replace an existing cache in the output folder')
    .option('--strict', 'exit 1 when any clip fails')
    .option('--json', 'print the summary as JSON');
  addFeatureOptions(command);
  return command.action(async (dataset: string | undefined, opts: PrepareCliOptions) => {
    if (dataset === undefined && opts.manifest === undefined) throw new OptionsError('ser prepare needs a dataset folder or --manifest <clips.csv>');
    const progress = new ProgressReporter('prepare', 'clips');
    const summary = await prepare({
      dataset, manifest: opts.manifest, output: opts.output, corpus: opts.manifest !== undefined && opts.corpus === 'auto' ? undefined : opts.corpus, features: featureOptionsFrom(opts),
      durationSeconds: opts.duration, offsetSeconds: opts.offset,
      augment: opts.augment === undefined ? null : (opts.augment.split(',').map((s) => s.trim()).filter(Boolean) as AugmentKind[]),
      copies: opts.copies, augmentProbability: opts.augmentProbability, seed: opts.seed, workers: opts.workers,
      shard: opts.shard, shards: opts.shards, shardRows: opts.shardRows, clipsPerTask: opts.clipsPerTask,
      keepAudio: opts.keepAudio, overwrite: opts.overwrite,
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
    .action(async (caches: string[], opts: { output: string; overwrite?: boolean; json?: boolean }) => {
      const summary = await merge(caches, { output: opts.output, overwrite: opts.overwrite });
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(summary)}\n`
          : `merged ${summary.inputs} caches: ${summary.rows} rows in ${summary.shards} shards, ${summary.failures} failures; cache: ${summary.out}\n`,
      );
    });
}
