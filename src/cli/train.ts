// `ser train <cache> -o <run>`: parses the options and hands them to train().
import { Command, Option } from 'commander';

import {
  BACKENDS, DEFAULT_ONLINE_AUGMENT, DEFAULT_SPEC_AUGMENT, DEVICES, NORMALISE_MODES, parseSpecAugment, train, TRAIN_DEFAULTS,
  type AugmentKind, type BackendChoice, type DeviceChoice, type NormaliseMode,
} from '../index';
import { parseInteger, parseNumber, threadsOption } from './options';
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
  monitor: 'val_loss' | 'val_uar';
  normalize: NormaliseMode;
  seeds: number;
  weightAverage: number;
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
  fold?: number | 'auto';
  onlineAugment?: string | boolean;
  specAugment?: string | boolean;
  enrolClips?: number;
  workers?: number;
  cacheMemory?: number;
  backend: BackendChoice;
  device: DeviceChoice;
  threads?: number;
  resume?: boolean;
  json?: boolean;
}

function parseFold(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  return parseInteger(value);
}

/** "seed 2 fold 3 " as far as the run has seeds and folds. */
const unit = (fold: number, folds: number, seed: number, seeds: number): string => `${seeds > 1 ? `seed ${seed} ` : ''}${folds > 1 ? `fold ${fold} ` : ''}`;

const list = (value: string | undefined): string[] | undefined => (value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean));

export function trainCommand(): Command {
  return new Command('train')
    .description('train the CNN-BiLSTM-attention model on a ser prepare cache (speaker-independent by default)')
    .argument('[cache]', 'cache folder from ser prepare (not needed with --resume)')
    .requiredOption('-o, --output <run>', 'run folder: config, metrics, checkpoints, best model')
    .addOption(new Option('--model <preset>', 'model sizes').choices(['seed', 'small']).default(TRAIN_DEFAULTS.model))
    .option('--conv-filters <list>', 'filters of each Conv2D block, e.g. 32,64,128 (overrides the preset)')
    .option('--lstm-units <n>', 'BiLSTM units per direction', parseInteger)
    .option('--attention-units <n>', 'attention hidden units', parseInteger)
    .option('--dropout <rate>', 'dropout rate', parseNumber)
    .option('--epochs <n>', 'most epochs', parseInteger, TRAIN_DEFAULTS.epochs)
    .option('--batch-size <n>', 'rows per step', parseInteger, TRAIN_DEFAULTS.batchSize)
    .option('--lr <rate>', 'Adam learning rate', parseNumber, TRAIN_DEFAULTS.lr)
    .option('--mixup <alpha>', 'mixup Beta(alpha, alpha); 0 disables it', parseNumber, TRAIN_DEFAULTS.mixup)
    .option('--patience <n>', 'early stopping: epochs without improvement of the monitored metric', parseInteger, TRAIN_DEFAULTS.patience)
    .addOption(new Option('--monitor <metric>', 'what early stopping, the best epoch and the learning-rate cuts watch').choices(['val_loss', 'val_uar']).default(TRAIN_DEFAULTS.monitor))
    .addOption(new Option('--normalize <how>', 'per-coefficient standardisation: over the training rows (global), each speaker\'s own rows (speaker), or each clip (utterance)').choices([...NORMALISE_MODES]).default(TRAIN_DEFAULTS.normalize))
    .option('--weight-average <decay>', 'decay of a moving average of the weights that validation, early stopping and the saved model use; 0 disables it', parseNumber, TRAIN_DEFAULTS.weightAverage)
    .option('--seeds <n>', 'models per split, each from its own seed (seed-K/ folders; eval reports mean and std over them, predict averages them)', parseInteger, TRAIN_DEFAULTS.seeds)
    .option('--lr-patience <n>', 'epochs without improvement before the learning rate is cut', parseInteger, TRAIN_DEFAULTS.lrPatience)
    .option('--lr-factor <f>', 'learning-rate cut factor', parseNumber, TRAIN_DEFAULTS.lrFactor)
    .option('--min-lr <rate>', 'lowest learning rate', parseNumber, TRAIN_DEFAULTS.minLr)
    .option('--class-weights', 'weight the loss by inverse class frequency of the training rows')
    .option('--seed <n>', 'seed of the split, the initial weights, batch order, mixup and dropout', parseInteger, TRAIN_DEFAULTS.seed)
    .addOption(new Option('--split <kind>', 'speaker: no speaker in two partitions; random: by clip (optimistic)').choices(['speaker', 'random']).default(TRAIN_DEFAULTS.split))
    .option('--val-speakers <list>', 'validation speakers, e.g. ravdess:05,crema:1001')
    .option('--test-speakers <list>', 'test speakers')
    .option('--val-fraction <f>', 'share of speakers (or clips, with --split random) for validation', parseNumber, TRAIN_DEFAULTS.valFraction)
    .option('--test-fraction <f>', 'share of speakers (or clips) for test', parseNumber, TRAIN_DEFAULTS.testFraction)
    .option('--folds <k>', 'speaker-disjoint k-fold cross-validation', parseInteger)
    .option('--fold <i|auto>', 'with --folds: train only fold i (0-based) into the shared run folder, as one task of an array job; auto: JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID', parseFold)
    .option('--enrol-clips <k>', 'with --normalize speaker: standardise each training row by the statistics of k other clips of its speaker, drawn anew every epoch (default: all its clips)', parseInteger)
    .option('--spec-augment [masks]', `mask spans of frames and bands of coefficients of every training row, anew each epoch: timeMasks,maxFrames,coeffMasks,maxCoeffs (default ${Object.values(DEFAULT_SPEC_AUGMENT).join(',')})`)
    .option('--online-augment [kinds]', `augment every training clip afresh each epoch in workers (needs prepare --keep-audio; default ${DEFAULT_ONLINE_AUGMENT.join(',')})`)
    .option('--workers <n>', 'worker threads for online augmentation (default: one per core)', parseInteger)
    .option('--cache-memory <MiB>', 'memory for the training rows: within it they are loaded once, beyond it streamed shard by shard through a shuffle window of that many MiB (default: half of the available memory)', parseNumber)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default(TRAIN_DEFAULTS.backend))
    .addOption(new Option('--device <where>', "where training steps run: gpu (the engine's step on CUDA: an addon built with SER_CUDA=ON and a GPU), cpu, or auto (the GPU when there is one)").choices([...DEVICES]).default(TRAIN_DEFAULTS.device))
    .addOption(threadsOption())
    .option('--resume', 'continue the run in -o from its last checkpoint (its stored settings apply)')
    .option('--json', 'print the result as JSON')
    .action(async (cache: string | undefined, opts: TrainCliOptions) => {
      const tty = Boolean(process.stderr.isTTY);
      let bar: ProgressReporter | null = null;
      const onlineAugment = typeof opts.onlineAugment === 'string' ? (list(opts.onlineAugment) as AugmentKind[]) : opts.onlineAugment;
      const result = await train({
        cache, output: opts.output, resume: opts.resume,
        model: opts.model, convFilters: opts.convFilters === undefined ? undefined : (list(opts.convFilters) ?? []).map(Number),
        lstmUnits: opts.lstmUnits, attentionUnits: opts.attentionUnits, dropout: opts.dropout,
        epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, mixup: opts.mixup,
        patience: opts.patience, lrPatience: opts.lrPatience, lrFactor: opts.lrFactor, minLr: opts.minLr, monitor: opts.monitor,
        normalize: opts.normalize, seeds: opts.seeds, weightAverage: opts.weightAverage,
        classWeights: opts.classWeights, seed: opts.seed, split: opts.split,
        valSpeakers: list(opts.valSpeakers), testSpeakers: list(opts.testSpeakers),
        valFraction: opts.valFraction, testFraction: opts.testFraction, folds: opts.folds, fold: opts.fold,
        onlineAugment: Array.isArray(onlineAugment) && onlineAugment.length === 0 ? true : onlineAugment,
        enrolClips: opts.enrolClips,
        specAugment: typeof opts.specAugment === 'string' ? parseSpecAugment(opts.specAugment) : opts.specAugment,
        workers: opts.workers, cacheMemory: opts.cacheMemory, backend: opts.backend, device: opts.device, threads: opts.threads,
        log: (line) => process.stderr.write(`${line}\n`),
        onStep: ({ fold, folds, seed, seeds, progress: p }) => {
          if (!tty) return;
          if (p.batch === 1) bar = new ProgressReporter(`${unit(fold, folds, seed, seeds)}epoch ${p.epoch}/${p.epochs}`, 'batches');
          bar?.update({ done: p.batch, total: p.batches, elapsedSeconds: p.elapsedSeconds, detail: `loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(3)} ${p.samplesPerSecond.toFixed(1)} samples/s` }, p.batch === p.batches);
        },
        onEpoch: ({ fold, folds, seed, seeds, record: r }) => {
          process.stderr.write(
            `${unit(fold, folds, seed, seeds)}epoch ${r.epoch}: loss ${r.loss.toFixed(4)} acc ${r.accuracy.toFixed(3)} ` +
              `val_loss ${r.valLoss.toFixed(4)} val_acc ${r.valAccuracy.toFixed(3)} val_uar ${r.valUar.toFixed(3)} lr ${r.lr.toExponential(2)} ` +
              `${r.samplesPerSecond.toFixed(1)} samples/s, ${r.seconds.toFixed(1)} s, data wait ${(100 * r.dataWaitFraction).toFixed(1)}%\n`,
          );
        },
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ runDir: result.runDir, backend: result.backend.name, folds: result.folds, seconds: result.seconds })}\n`);
      } else {
        const folds = Math.max(...result.folds.map((f) => f.fold));
        const seeds = Math.max(...result.folds.map((f) => f.seed));
        for (const f of result.folds) {
          process.stdout.write(`${unit(f.fold, folds, f.seed, seeds).trim() || `fold ${f.fold}`}: ${f.epochs} epochs, best epoch ${f.bestEpoch} (val_loss ${f.bestValLoss.toFixed(4)}, val_uar ${f.bestValUar.toFixed(3)})\n`);
        }
        process.stdout.write(`trained on ${result.backend.name} in ${result.seconds.toFixed(1)} s; run folder ${result.runDir} (evaluate with: ser eval ${result.runDir})\n`);
      }
    });
}
