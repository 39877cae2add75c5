// `ser train`: a run folder (DESIGN section 7) from a cache: config.json, folds.json, and per split
// its metrics.jsonl, checkpoints/ and model/. One split lives in the run folder itself, K folds in
// fold-1 ... fold-K. A run resumes from its own config.json, so a resumed run trains what it began.
import * as fs from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../io/atomic';
import { CacheConflictError, OptionsError, throwIfAborted } from '../errors';
import { speakerFolds, splitBySpeaker, splitRandom, type Split } from '../data/splits';
import { native } from '../native';
import { CREATED_BY } from '../version';
import {
  CONFIG_JSON, FOLDS_JSON, readFolds, readRunConfig, RUN_VERSION, runMembers, STARTS_JSON,
  type FoldRecord, type RunConfig, type RunMember, type TrainSettings,
} from './run-folder';

import { fusedTrainingForward, selectBackend, type BackendChoice, type SelectedBackend } from '../backend';
import type { DeviceChoice } from '../backend/names';
import { EngineStep, resolveStepDevice, type EngineStepSpec, type StepDevice } from './engine-step';
import { checkpointName, listCheckpoints, type EpochRecord, type LoopState } from './checkpoint';
import { CacheReader, fitNormalisation, type Normalisation } from './dataset';
import type { RowResidence } from './batch-assembler';
import { stepDropoutMaskOf } from './dropout';
import { foldPaths, inverseFrequencyWeights, trainFold, type EpochProgress } from './loop';
import { buildModel } from './model';
import { CacheSource, chooseResidence, defaultCacheMemoryMiB, OnlineAugmentSource, recordedWindow, type BatchSource } from './sources';

export {
  CONFIG_JSON, FOLDS_JSON, readFolds, readRunConfig, RUN_VERSION, runMembers, STARTS_JSON,
  type FoldRecord, type RunConfig, type RunMember, type TrainSettings,
};

export interface TrainRunOptions {
  runDir: string;
  backend: BackendChoice;
  /** Where training steps run (default 'auto'). */
  device?: DeviceChoice;
  /** Threads to train on (default: every core). A run repeats bit for bit at the same count. */
  threads?: number;
  workers: number;
  /**
   * Memory budget in MiB for the training rows: within it they are loaded once, beyond it streamed
   * through a shuffle window of that size (default: defaultCacheMemoryMiB()).
   */
  cacheMemoryMiB?: number;
  /** Where new members keep their training rows, overriding the budget's choice (tests and benchmarks). */
  residence?: RowResidence;
  resume: boolean;
  /** Required unless resuming. */
  settings: TrainSettings | null;
  /** Stops training after the running step (the last finished epoch's checkpoint is what resumes). */
  signal?: AbortSignal;
  /**
   * With folds: train only this fold (0-based), as one task of an array job. The run's config.json and
   * folds.json are written once by whichever task starts first and checked by the others; the fold
   * resumes from its own checkpoints when they exist.
   */
  fold?: number | null;
  log: (line: string) => void;
  onStep?: (fold: number, folds: number, progress: EpochProgress, seed: number, seeds: number) => void;
  onEpoch?: (fold: number, folds: number, record: EpochRecord, seed: number, seeds: number) => void;
}

/** How one fold (of one seed) of a training run ended. */
export interface FoldResult {
  fold: number;
  /** 1-based; always 1 unless the run trains several seeds. */
  seed: number;
  epochs: number;
  bestEpoch: number;
  bestValLoss: number;
  bestValUar: number;
}

/** What train() produced: the run folder, the backend it trained on, each fold's result. */
export interface TrainRunResult {
  runDir: string;
  backend: SelectedBackend;
  folds: FoldResult[];
  seconds: number;
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8'));
}

/** The run's splits of the cache (deterministic: training and evaluation make the same ones). */
export function makeSplits(reader: CacheReader, settings: TrainSettings): Split[] {
  const rows = reader.manifest.items;
  if (settings.folds !== null) {
    if (settings.split === 'random') throw new Error('--folds makes speaker-disjoint folds; it cannot be combined with --split random');
    return speakerFolds(rows, settings.folds, settings.seed);
  }
  if (settings.split === 'random') return [splitRandom(rows, settings.valFraction, settings.testFraction, settings.seed)];
  return [splitBySpeaker(rows, {
    valSpeakers: settings.valSpeakers ?? undefined,
    testSpeakers: settings.testSpeakers ?? undefined,
    valFraction: settings.valFraction,
    testFraction: settings.testFraction,
    seed: settings.seed,
  })];
}

function foldRecords(reader: CacheReader, splits: Split[]): FoldRecord[] {
  const ids = (indices: number[]) => [...new Set(indices.map((i) => reader.manifest.items[i].id))].sort();
  return splits.map((split, i) => ({
    fold: i + 1,
    dir: splits.length === 1 ? '.' : `fold-${i + 1}`,
    kind: split.kind,
    optimistic: split.optimistic,
    speakers: split.speakers,
    counts: { train: split.train.length, val: split.val.length, test: split.test.length },
    valIds: ids(split.val),
    testIds: ids(split.test),
  }));
}

/** Starts the run folder, or reads it back for --resume; refuses to train over another run. */
function openRun(options: TrainRunOptions): RunConfig {
  const configFile = path.join(options.runDir, CONFIG_JSON);
  const oneFold = options.fold !== undefined && options.fold !== null;
  if (options.resume || (oneFold && !options.settings)) {
    if (!fs.existsSync(configFile)) throw new OptionsError(`${options.runDir}: nothing to resume (no ${CONFIG_JSON})`);
    return readRunConfig(options.runDir);
  }
  if (!options.settings) throw new OptionsError('training needs a cache and settings');
  const fresh: RunConfig = { version: RUN_VERSION, createdBy: CREATED_BY, created: new Date().toISOString(), settings: options.settings, backends: [] };
  if (oneFold) {
    // Tasks of one array job start together on other machines: the first writes config.json, the
    // others find it and must agree with it.
    fs.mkdirSync(options.runDir, { recursive: true });
    const existing = writeOnce(configFile, fresh);
    if (existing) {
      const config = JSON.parse(existing) as RunConfig;
      if (JSON.stringify(config.settings) !== JSON.stringify(options.settings)) {
        throw new CacheConflictError(`${configFile} holds a run with other settings than this fold's; every task of the run must be given the same options`);
      }
      return config;
    }
    return fresh;
  }
  if (fs.existsSync(configFile)) throw new CacheConflictError(`${options.runDir} already holds a run; resume it with --resume or train into a new folder`);
  fs.mkdirSync(options.runDir, { recursive: true });
  return fresh;
}

/**
 * Creates `file` with `value` unless it exists (a hard link of a complete temporary file: atomic, and
 * exclusive on local and NFS file systems alike). Returns the existing text, or null when this call wrote it.
 */
function writeOnce(file: string, value: unknown): string | null {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileAtomic(tmp, Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8'));
  try {
    fs.linkSync(tmp, file);
    return null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** One model of a run: a fold's split trained with one seed. */
/** The loop state of a member's newest checkpoint, or null (none yet, or unreadable). */
export function memberState(runDir: string, member: Pick<RunMember, 'dir'>): LoopState | null {
  const paths = foldPaths(path.join(runDir, member.dir));
  const epochs = listCheckpoints(paths.checkpoints);
  if (epochs.length === 0) return null;
  const index = path.join(paths.checkpoints, checkpointName(epochs[epochs.length - 1]), 'checkpoint.json');
  try {
    return (JSON.parse(fs.readFileSync(index, 'utf8')) as { state: LoopState }).state;
  } catch {
    return null;
  }
}

/** Whether a member finished training (early stop or its last epoch), from its newest checkpoint. */
export function memberFinished(runDir: string, member: Pick<RunMember, 'dir'>): boolean {
  if (!fs.existsSync(path.join(foldPaths(path.join(runDir, member.dir)).model, 'model.json'))) return false;
  return memberState(runDir, member)?.finished === true;
}

/** Null when the engine's step can be made on the GPU with these sizes (its memory taken and given back), else why not. */
function tryEngineOnGpu(spec: EngineStepSpec): string | null {
  try {
    const handle = native.createTrainer({
      maxBatch: spec.maxBatch, frames: spec.frames, coeffs: spec.coeffs, classes: spec.classes, convFilters: spec.sizes.convFilters,
      lstmUnits: spec.sizes.lstmUnits, attentionUnits: spec.sizes.attentionUnits, dropoutRate: spec.sizes.dropout,
      batchNormMomentum: 0.99, batchNormEpsilon: 1e-3, gates: 'hardSigmoid',
    }, 'gpu');
    native.trainerDispose(handle);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The engine's step for a model, or null (with a log line) where it does not cover the model on the
 * CPU: that model trains through tfjs. The GPU has no such fallback.
 */
function engineStepFor(model: ReturnType<typeof buildModel>, spec: EngineStepSpec, where: StepDevice, log: ((line: string) => void) | null): EngineStep | null {
  try {
    return new EngineStep(model, spec, where);
  } catch (error) {
    if (where === 'gpu') throw error;
    log?.(`the tfjs step instead of the engine's: ${(error as Error).message}`);
    return null;
  }
}

export async function trainRun(options: TrainRunOptions): Promise<TrainRunResult> {
  const started = performance.now();
  throwIfAborted(options.signal, 'train');
  // First, so a forced backend that is missing fails before anything is written.
  const backend = await selectBackend(options.backend, { threads: options.threads });
  // A GPU asked for and missing (or unusable with this backend) fails here; the trial with the run's
  // sizes comes once the cache is open.
  resolveStepDevice(options.device ?? 'auto', backend.name, () => null);
  const config = openRun(options);
  const { settings } = config;
  const reader = new CacheReader(settings.cache);
  const { manifest } = reader;
  const stepSpec: EngineStepSpec = { frames: manifest.frames, coeffs: manifest.coeffs, classes: reader.labels.length, sizes: settings.sizes, maxBatch: settings.batchSize };
  const device = resolveStepDevice(options.device ?? 'auto', backend.name, () => tryEngineOnGpu(stepSpec));
  const splits = makeSplits(reader, settings);
  const records = foldRecords(reader, splits);
  const foldsFile = path.join(options.runDir, FOLDS_JSON);
  const oneFold = options.fold !== undefined && options.fold !== null ? options.fold : null;
  if (oneFold !== null && (settings.folds === null || !Number.isSafeInteger(oneFold) || oneFold < 0 || oneFold >= records.length)) {
    throw new OptionsError(settings.folds === null
      ? 'fold (--fold) trains one fold of a --folds run; this run has no folds'
      : `fold (--fold) must be 0..${records.length - 1} for ${records.length} folds, got ${oneFold}`);
  }
  const changed = `${foldsFile} no longer matches the cache's split (was the cache at ${settings.cache} changed?)`;
  if (oneFold !== null) {
    const existing = writeOnce(foldsFile, records);
    if (existing !== null && JSON.stringify(JSON.parse(existing)) !== JSON.stringify(records)) throw new CacheConflictError(changed);
  } else {
    if (options.resume && fs.existsSync(foldsFile) && JSON.stringify(readFolds(options.runDir)) !== JSON.stringify(records)) {
      throw new CacheConflictError(changed);
    }
    writeJson(foldsFile, records);
  }

  const skipped = backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  options.log(`backend: ${backend.name}, ${backend.threads} thread${backend.threads === 1 ? '' : 's'}${skipped ? ` (passed over ${skipped})` : ''}`);
  options.log(`device: ${device.description}`);
  const members = runMembers(settings, records).filter((m) => oneFold === null || m.fold.fold === oneFold + 1);
  const seeds = settings.seeds ?? 1;
  const firstEpoch = (member: RunMember) => {
    const metrics = path.join(options.runDir, member.dir, 'metrics.jsonl');
    return fs.existsSync(metrics) ? fs.readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0;
  };
  const start = (member: RunMember) => ({
    backend: backend.name, threads: backend.threads, device: device.device, step: device.step, ...(device.gpuName ? { gpu: device.gpuName } : {}),
    fromEpoch: firstEpoch(member), date: new Date().toISOString(),
  });
  if (oneFold === null) {
    config.backends.push(start(members[0]));
    writeJson(path.join(options.runDir, CONFIG_JSON), config);
  } else {
    // config.json is shared by the tasks: each fold (of each seed) records its own starts.
    for (const member of members) {
      fs.mkdirSync(path.join(options.runDir, member.dir), { recursive: true });
      const startsFile = path.join(options.runDir, member.dir, STARTS_JSON);
      const starts = fs.existsSync(startsFile) ? (JSON.parse(fs.readFileSync(startsFile, 'utf8')) as RunConfig['backends']) : [];
      writeJson(startsFile, [...starts, start(member)]);
    }
    const resumed = firstEpoch(members[0]);
    options.log(`fold ${oneFold + 1} of ${records.length} (array index ${oneFold})${resumed > 0 ? `, resuming after epoch ${resumed}` : ''}`);
  }
  if (splits[0].optimistic) options.log('split: random by clip — OPTIMISTIC, the same speakers are in training and test');

  const labels = [...reader.labels];
  const results: FoldResult[] = [];
  const norms = new Map<number, Normalisation>();
  for (const member of members) {
    const { fold: record, seed } = member;
    const f = record.fold - 1;
    const split = splits[f];
    if (split.train.length === 0) throw new Error(`fold ${record.fold} has no training rows`);
    const paths = foldPaths(path.join(options.runDir, member.dir));
    fs.mkdirSync(paths.dir, { recursive: true });
    let norm = norms.get(f);
    if (!norm) norms.set(f, (norm = fitNormalisation(reader, split.train, settings.normalize ?? 'global')));
    // Seed K draws as a run with seed + K - 1 would, on the split of the run's seed.
    const trainingSeed = settings.seed + seed - 1;
    const batchOptions = { batchSize: settings.batchSize, seed: trainingSeed + 7919 * f, mixupAlpha: settings.mixupAlpha, classes: labels.length };
    // Online augmentation computes rows from kept audio; the cache's rows come through the batch
    // worker, in memory when they fit the budget, else streamed (a resumed member keeps its window).
    const recorded = memberState(options.runDir, member);
    const residence = recorded || !options.residence
      ? chooseResidence(split.train.length, reader.rowSize * 4, options.cacheMemoryMiB ?? defaultCacheMemoryMiB(), recorded ? recorded.shuffleWindowRows ?? null : undefined)
      : options.residence;
    let source: BatchSource;
    if (settings.onlineAugment) source = new OnlineAugmentSource(reader, split.train, batchOptions, settings.onlineAugment, options.workers, norm, settings.specAugment ?? null);
    else {
      const cacheSource = await CacheSource.open(reader, split.train, batchOptions, norm, residence, recorded?.epoch ?? 0, {
        specAugment: settings.specAugment ?? null, enrolClips: settings.enrolClips ?? 0,
      });
      const mib = (split.train.length * reader.rowSize * 4) / 2 ** 20;
      options.log(residence.mode === 'memory'
        ? `data: ${split.train.length} training rows (${mib.toFixed(0)} MiB) in memory, loaded in ${cacheSource.loadSeconds.toFixed(1)} s`
        : `data: ${split.train.length} training rows (${mib.toFixed(0)} MiB) streamed shard by shard through a shuffle window of ${residence.windowRows} rows ` +
          `(${((residence.windowRows * reader.rowSize * 4) / 2 ** 20).toFixed(0)} MiB), first window filled in ${cacheSource.loadSeconds.toFixed(1)} s`);
      source = cacheSource;
    }
    const model = buildModel({ frames: manifest.frames, coeffs: manifest.coeffs, classes: labels.length, sizes: settings.sizes, seed: trainingSeed + 1000 * f });
    options.log(
      `${seeds > 1 ? `seed ${seed}/${seeds} ` : ''}fold ${record.fold}/${splits.length}: ${split.train.length} training rows (${record.speakers.train.length} speakers), ` +
        `${split.val.length} validation, ${split.test.length} test; ${model.countParams()} parameters`,
    );
    // The engine's whole-model step (on the GPU, or on the native CPU engine), else the tfjs step, on
    // native with whole convolution blocks and recurrent layers as single ops.
    let engine: EngineStep | null = null;
    let state: LoopState;
    try {
      engine = device.engine ? engineStepFor(model, stepSpec, device.engine, member === members[0] ? options.log : null) : null;
      const fused = !engine && backend.name === 'native' ? fusedTrainingForward(model, { dropoutMaskOf: stepDropoutMaskOf }) : null;
      if (member === members[0] && fused) options.log(`native: ${fused.convBlocks} convolution blocks and ${fused.recurrent} recurrent layer(s) fused`);
      state = await trainFold({
        paths, model, trainingForward: fused?.forward, stepEngine: engine ?? undefined, source, reader, val: split.val, norm,
        preprocessing: {
          featureConfig: manifest.featureConfig, crop: manifest.crop, frames: manifest.frames, coeffs: manifest.coeffs, labels,
          normalisation: { mode: norm.mode, mean: Array.from(norm.mean), std: Array.from(norm.std) }, sizes: settings.sizes,
        },
        options: {
          epochs: settings.epochs, lr: settings.lr, patience: settings.patience, minDelta: 1e-4,
          lrPatience: settings.lrPatience, lrFactor: settings.lrFactor, minLr: settings.minLr, lrCooldown: 0, monitor: settings.monitor ?? 'val_loss',
          classWeights: settings.classWeights ? inverseFrequencyWeights(split.train.map((i) => reader.label(i)), labels.length) : null,
          prefetchDepth: settings.onlineAugment ? 2 * options.workers : 2, weightAverage: settings.weightAverage ?? 0,
          shuffleWindowRows: recordedWindow(residence),
        },
        signal: options.signal,
        onStep: (progress) => options.onStep?.(record.fold, splits.length, progress, seed, seeds),
        onEpoch: (epochRecord) => options.onEpoch?.(record.fold, splits.length, epochRecord, seed, seeds),
      });
    } finally {
      engine?.dispose();
      await source.close();
      model.dispose();
    }
    const best = state.history[state.early.bestEpoch] ?? state.history[state.history.length - 1];
    results.push({ fold: record.fold, seed, epochs: state.epoch, bestEpoch: best.epoch, bestValLoss: best.valLoss, bestValUar: best.valUar });
  }
  reader.close();
  return { runDir: options.runDir, backend, folds: results, seconds: (performance.now() - started) / 1000 };
}
