// `ser train <cache> -o <run>`: parses the options and hands them to trainRun.
import * as path from 'path';

import { Command, Option } from 'commander';

import { AugmentSpecError, specFromNames, validateAugmentSpec, type AugmentSpec } from '../augment/spec';
import { BACKENDS, type BackendChoice } from '../backend';
import { MODEL_PRESETS, type ModelSizes } from '../train/model';
import { trainRun, type TrainSettings } from '../train/run';
import { defaultWorkerCount } from '../workers/pool';
import { UsageError } from './errors';
import { checkedThreads, parseInteger, parseNumber, threadsOption } from './options';
import { ProgressReporter } from './progress';

interface TrainCliOptions {
  output: string;
  model: 'seed' | 'small';
  convFilters?: string;
  lstmUnits?: number;
  attentionUnits?: number;
  dropout?: number;
  epochs: number;
  batchSize: number;
  lr: number;
  mixup: number;
  patience: number;
  lrPatience: number;
  lrFactor: number;
  minLr: number;
  classWeights?: boolean;
  seed: number;
  split: 'speaker' | 'random';
  valSpeakers?: string;
  testSpeakers?: string;
  valFraction: number;
  testFraction: number;
  folds?: number;
  onlineAugment?: string | boolean;
  workers?: number;
  backend: BackendChoice;
  threads?: number;
  resume?: boolean;
  json?: boolean;
}

export const DEFAULT_ONLINE_AUGMENT = ['noise', 'shift', 'pitch', 'stretch'];

function list(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  return items.length > 0 ? items : null;
}

function modelSizes(opts: TrainCliOptions): ModelSizes {
  const sizes: ModelSizes = { ...MODEL_PRESETS[opts.model], convFilters: [...MODEL_PRESETS[opts.model].convFilters] };
  if (opts.convFilters !== undefined) {
    const filters = (list(opts.convFilters) ?? []).map(Number);
    if (filters.length === 0 || filters.some((f) => !Number.isInteger(f) || f < 1)) {
      throw new UsageError(`--conv-filters must be positive integers like 8,16, got '${opts.convFilters}'`);
    }
    sizes.convFilters = filters;
  }
  for (const [flag, key] of [['--lstm-units', 'lstmUnits'], ['--attention-units', 'attentionUnits']] as const) {
    const value = opts[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer, got ${value}`);
    sizes[key] = value;
  }
  if (opts.dropout !== undefined) {
    if (!(opts.dropout >= 0 && opts.dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got ${opts.dropout}`);
    sizes.dropout = opts.dropout;
  }
  return sizes;
}

function onlineAugmentSpec(value: string | boolean | undefined): AugmentSpec | null {
  if (value === undefined || value === false) return null;
  const names = value === true ? DEFAULT_ONLINE_AUGMENT : list(value) ?? DEFAULT_ONLINE_AUGMENT;
  try {
    const spec = specFromNames(names);
    validateAugmentSpec(spec);
    return spec;
  } catch (error) {
    if (error instanceof AugmentSpecError) throw new UsageError(`--online-augment: ${error.message}`);
    throw error;
  }
}

function checkSettings(s: TrainSettings): void {
  const positiveInteger = (flag: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${flag} must be a positive integer, got ${v}`);
  };
  positiveInteger('--epochs', s.epochs);
  positiveInteger('--batch-size', s.batchSize);
  positiveInteger('--patience', s.patience);
  positiveInteger('--lr-patience', s.lrPatience);
  if (!(s.lr > 0)) throw new UsageError(`--lr must be > 0, got ${s.lr}`);
  if (!(s.minLr >= 0)) throw new UsageError(`--min-lr must be >= 0, got ${s.minLr}`);
  if (!(s.lrFactor > 0 && s.lrFactor < 1)) throw new UsageError(`--lr-factor must be in (0, 1), got ${s.lrFactor}`);
  if (!(s.mixupAlpha >= 0)) throw new UsageError(`--mixup must be >= 0 (0 disables it), got ${s.mixupAlpha}`);
  if (!Number.isSafeInteger(s.seed) || s.seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${s.seed}`);
  for (const [flag, v] of [['--val-fraction', s.valFraction], ['--test-fraction', s.testFraction]] as const) {
    if (!(v >= 0 && v < 1)) throw new UsageError(`${flag} must be in [0, 1), got ${v}`);
  }
  if (s.folds !== null && (!Number.isInteger(s.folds) || s.folds < 3)) throw new UsageError(`--folds must be an integer >= 3, got ${s.folds}`);
  if (s.folds !== null && (s.valSpeakers || s.testSpeakers)) throw new UsageError('--folds assigns every speaker itself; drop --val-speakers / --test-speakers');
  if (s.folds !== null && s.split === 'random') throw new UsageError('--folds is speaker-disjoint; it cannot be combined with --split random');
}

export function trainCommand(): Command {
  return new Command('train')
    .description('train the CNN-BiLSTM-attention model on a ser prepare cache (speaker-independent by default)')
    .argument('[cache]', 'cache folder from ser prepare (not needed with --resume)')
    .requiredOption('-o, --output <run>', 'run folder: config, metrics, checkpoints, best model')
    .addOption(new Option('--model <preset>', 'model sizes').choices(['seed', 'small']).default('seed'))
    .option('--conv-filters <list>', 'filters of each Conv2D block, e.g. 32,64,128 (overrides the preset)')
    .option('--lstm-units <n>', 'BiLSTM units per direction', parseInteger)
    .option('--attention-units <n>', 'attention hidden units', parseInteger)
    .option('--dropout <rate>', 'dropout rate', parseNumber)
    .option('--epochs <n>', 'most epochs', parseInteger, 50)
    .option('--batch-size <n>', 'rows per step', parseInteger, 32)
    .option('--lr <rate>', 'Adam learning rate', parseNumber, 1e-3)
    .option('--mixup <alpha>', 'mixup Beta(alpha, alpha); 0 disables it', parseNumber, 0.2)
    .option('--patience <n>', 'early stopping: epochs without validation-loss improvement', parseInteger, 8)
    .option('--lr-patience <n>', 'epochs without improvement before the learning rate is cut', parseInteger, 3)
    .option('--lr-factor <f>', 'learning-rate cut factor', parseNumber, 0.5)
    .option('--min-lr <rate>', 'lowest learning rate', parseNumber, 1e-5)
    .option('--class-weights', 'weight the loss by inverse class frequency of the training rows')
    .option('--seed <n>', 'seed of the split, the initial weights, batch order, mixup and dropout', parseInteger, 1)
    .addOption(new Option('--split <kind>', 'speaker: no speaker in two partitions; random: by clip (optimistic)').choices(['speaker', 'random']).default('speaker'))
    .option('--val-speakers <list>', 'validation speakers, e.g. ravdess:05,crema:1001')
    .option('--test-speakers <list>', 'test speakers')
    .option('--val-fraction <f>', 'share of speakers (or clips, with --split random) for validation', parseNumber, 0.15)
    .option('--test-fraction <f>', 'share of speakers (or clips) for test', parseNumber, 0.15)
    .option('--folds <k>', 'speaker-disjoint k-fold cross-validation', parseInteger)
    .option('--online-augment [kinds]', `augment every training clip afresh each epoch in workers (needs prepare --keep-audio; default ${DEFAULT_ONLINE_AUGMENT.join(',')})`)
    .option('--workers <n>', 'worker threads for online augmentation (default: one per core)', parseInteger)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default('auto'))
    .addOption(threadsOption())
    .option('--resume', 'continue the run in -o from its last checkpoint (its stored settings apply)')
    .option('--json', 'print the result as JSON')
    .action(async (cache: string | undefined, opts: TrainCliOptions) => {
      const workers = opts.workers ?? defaultWorkerCount();
      if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, got ${workers}`);
      let settings: TrainSettings | null = null;
      if (!opts.resume) {
        if (!cache) throw new UsageError('train needs a cache folder (or --resume)');
        settings = {
          cache: path.resolve(cache), modelPreset: opts.model, sizes: modelSizes(opts),
          epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, mixupAlpha: opts.mixup,
          patience: opts.patience, lrPatience: opts.lrPatience, lrFactor: opts.lrFactor, minLr: opts.minLr,
          classWeights: Boolean(opts.classWeights), seed: opts.seed, split: opts.split,
          valSpeakers: list(opts.valSpeakers), testSpeakers: list(opts.testSpeakers),
          valFraction: opts.valFraction, testFraction: opts.testFraction, folds: opts.folds ?? null,
          onlineAugment: onlineAugmentSpec(opts.onlineAugment),
        };
        checkSettings(settings);
      }
      const tty = Boolean(process.stderr.isTTY);
      let bar: ProgressReporter | null = null;
      const result = await trainRun({
        runDir: opts.output, backend: opts.backend, threads: checkedThreads(opts.threads), workers, resume: Boolean(opts.resume), settings,
        log: (line) => process.stderr.write(`${line}\n`),
        onStep: (fold, folds, p) => {
          if (!tty) return;
          if (p.batch === 1) bar = new ProgressReporter(`${folds > 1 ? `fold ${fold} ` : ''}epoch ${p.epoch}/${p.epochs}`, 'batches');
          bar?.update({ done: p.batch, total: p.batches, elapsedSeconds: p.elapsedSeconds, detail: `loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(3)} ${p.samplesPerSecond.toFixed(1)} samples/s` }, p.batch === p.batches);
        },
        onEpoch: (fold, folds, r) => {
          process.stderr.write(
            `${folds > 1 ? `fold ${fold} ` : ''}epoch ${r.epoch}: loss ${r.loss.toFixed(4)} acc ${r.accuracy.toFixed(3)} ` +
              `val_loss ${r.valLoss.toFixed(4)} val_acc ${r.valAccuracy.toFixed(3)} val_uar ${r.valUar.toFixed(3)} lr ${r.lr.toExponential(2)} ` +
              `${r.samplesPerSecond.toFixed(1)} samples/s, ${r.seconds.toFixed(1)} s, data wait ${(100 * r.dataWaitFraction).toFixed(1)}%\n`,
          );
        },
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ runDir: result.runDir, backend: result.backend.name, folds: result.folds, seconds: result.seconds })}\n`);
      } else {
        for (const f of result.folds) {
          process.stdout.write(`fold ${f.fold}: ${f.epochs} epochs, best epoch ${f.bestEpoch} (val_loss ${f.bestValLoss.toFixed(4)}, val_uar ${f.bestValUar.toFixed(3)})\n`);
        }
        process.stdout.write(`trained on ${result.backend.name} in ${result.seconds.toFixed(1)} s; run folder ${result.runDir} (evaluate with: ser eval ${result.runDir})\n`);
      }
    });
}
