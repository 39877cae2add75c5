// `ser eval`, the numbers: every fold's best model on its held-out test rows; metrics per fold, mean
// +- std across folds and the pooled confusion matrix. src/report writes them out.
import * as fs from 'fs';
import * as path from 'path';

import { InputFileError, throwIfAborted } from '../errors';
import type { FeatureConfig } from '../features/config';
import type { CropSpec } from '../workers/feature-task';
import { checkThreadCount, selectBackend, type BackendChoice } from '../backend';
import { loadModelFolder, normalisationFromJson, type EpochRecord } from '../train/checkpoint';
import { CacheReader, fitSpeakerMoments } from '../train/dataset';
import { makeSplits, memberFinished, memberState, readFolds, runMembers, readRunConfig, STARTS_JSON, type FoldRecord, type RunConfig } from '../train/run';
import { clipStatistics, fitLogisticRegression, predictLogisticRegression } from './baseline';
import { computeMetrics, summariseFolds, type Metrics, type Summary } from './metrics';
import { argmaxRows, predictItems } from './predict';

/** One fold's (of one seed's) test metrics and training history. */
export interface FoldEvaluation {
  fold: number;
  /** 1-based; 1 unless the run trained several seeds. */
  seed: number;
  /** The split's speakers as trained (folds.json); testSpeakers are those found in the evaluated cache. */
  splitSpeakers: FoldRecord['speakers'];
  testSpeakers: string[];
  rows: number;
  metrics: Metrics;
  history: EpochRecord[];
  /** The epoch (1-based) whose weights the model keeps, as early stopping chose it; null without a checkpoint. */
  bestEpoch: number | null;
  /** The backend of each start of this fold when it was trained on its own (--fold); empty otherwise. */
  starts: RunConfig['backends'];
  /**
   * The baseline on the same test rows: logistic regression on each clip's coefficient means and
   * standard deviations, fitted on the fold's training rows. Null when evaluating on another cache.
   */
  baseline: Metrics | null;
}

/** What evaluation computed: metrics per fold, mean and std over folds, the pooled confusion matrix. */
export interface Evaluation {
  runDir: string;
  cache: string;
  /** 'held-out': the run's own test rows; 'external': every original row of another cache. */
  testSet: 'held-out' | 'external';
  splitKind: FoldRecord['kind'];
  optimistic: boolean;
  config: RunConfig;
  featureConfig: FeatureConfig;
  crop: CropSpec;
  evalBackend: string;
  folds: FoldEvaluation[];
  /** Folds of the run not joined because their training has not finished (or not started), for any seed. */
  missingFolds: number[];
  /** Seeds the run trains per fold (folds holds one evaluation per seed and fold). */
  seeds: number;
  /** Mean and std over every joined seed and fold. */
  summary: { accuracy: Summary; uar: Summary; macroF1: Summary };
  /** The baseline's figures over the same folds, or null (another cache). */
  baselineSummary: { accuracy: Summary; uar: Summary; macroF1: Summary } | null;
  pooled: Metrics;
}

export function readHistory(file: string): EpochRecord[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as EpochRecord);
}

function sameFeatures(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Evaluates a run on its held-out test rows (or every original row of another cache). */
export interface EvaluateOptions {
  /** Evaluate on this cache instead of the run's (same feature settings): every original row when no test speaker is in it. */
  cache?: string;
  /** TensorFlow.js backend; default 'auto'. */
  backend?: BackendChoice;
  /** Threads of the backend; default every core. */
  threads?: number;
  /** Stops between folds with an AbortError. */
  signal?: AbortSignal;
  /** A fold that has not finished training is an error (default: it is left out and named in missingFolds). */
  requireAll?: boolean;
}

export async function evaluateRun(runDir: string, options: EvaluateOptions = {}): Promise<Evaluation> {
  if (options.threads !== undefined) checkThreadCount(options.threads);
  const config = readRunConfig(runDir);
  const folds = readFolds(runDir);
  const cache = options.cache ? path.resolve(options.cache) : config.settings.cache;
  const reader = new CacheReader(cache);
  const backend = await selectBackend(options.backend ?? 'auto', { threads: options.threads });
  const originals = reader.manifest.items.map((item, i) => ({ item, i })).filter(({ item }) => !item.augmented);
  let testSet: Evaluation['testSet'] = 'held-out';
  const evaluations: FoldEvaluation[] = [];
  // Folds (and seeds) trained as array tasks are joined as they finish; a single model is evaluated
  // from its best weights so far, as before.
  const members = runMembers(config.settings, folds);
  const unfinished = members.length > 1 ? members.filter((m) => !memberFinished(runDir, m)) : [];
  const missingFolds = [...new Set(unfinished.map((m) => m.fold.fold))].sort((a, b) => a - b);
  if (missingFolds.length > 0 && options.requireAll) {
    throw new InputFileError(runDir, `fold(s) ${missingFolds.join(', ')} of ${folds.length} have not finished training (--require-all)`);
  }
  if (unfinished.length === members.length) throw new InputFileError(runDir, `none of its ${members.length} models has finished training`);
  const baselines = new Map<number, Metrics>();
  // The baseline is fitted on the same training rows as the model: the run's own splits of its cache.
  const splits = options.cache && path.resolve(options.cache) !== path.resolve(config.settings.cache) ? null : makeSplits(reader, config.settings);
  let cachedSpeakerMoments: ReturnType<typeof fitSpeakerMoments> | undefined;
  for (const member of members) {
    const { fold, seed } = member;
    const f = fold.fold - 1;
    throwIfAborted(options.signal, `evaluation of ${runDir}`);
    if (unfinished.includes(member)) continue;
    const foldDir = path.join(runDir, member.dir);
    const { model, preprocessing } = await loadModelFolder(path.join(foldDir, 'model'));
    try {
      if (!sameFeatures(preprocessing.featureConfig, reader.manifest.featureConfig) || preprocessing.frames !== reader.manifest.frames || preprocessing.coeffs !== reader.manifest.coeffs) {
        throw new InputFileError(cache, `its features (${reader.manifest.frames}x${reader.manifest.coeffs}) were not computed as the model's were (${preprocessing.frames}x${preprocessing.coeffs}, feature config in ${path.join(foldDir, 'model', 'preprocessing.json')})`);
      }
      const testIds = new Set(fold.testIds);
      let items = originals.filter(({ item }) => testIds.has(item.id)).map(({ i }) => i);
      if (items.length === 0 && options.cache) {
        testSet = 'external';
        items = originals.map(({ i }) => i);
      }
      if (items.length === 0) throw new Error(`fold ${fold.fold} has no test rows in ${cache} (was the split made without test speakers?)`);
      // Speaker normalisation: each speaker of the evaluated cache standardised by its own rows.
      const speakerMoments = preprocessing.normalisation.mode === 'speaker' ? (cachedSpeakerMoments ??= fitSpeakerMoments(reader)) : undefined;
      const probabilities = predictItems(model, reader, items, normalisationFromJson(preprocessing.normalisation, speakerMoments));
      const truth = items.map((i) => reader.label(i));
      const metrics = computeMetrics(truth, argmaxRows(probabilities, preprocessing.labels.length), preprocessing.labels);
      const testSpeakers = [...new Set(items.map((i) => reader.manifest.items[i].speaker))].sort();
      // The baseline has no seed: fitted once per fold.
      let baseline: Metrics | null = baselines.get(f) ?? null;
      if (!baseline && splits && testSet === 'held-out') {
        const train = splits[f].train;
        const fitted = fitLogisticRegression(clipStatistics(reader, train), train.map((i) => reader.label(i)), preprocessing.labels.length);
        baseline = computeMetrics(truth, predictLogisticRegression(fitted, clipStatistics(reader, items)), preprocessing.labels);
        baselines.set(f, baseline);
      }
      const startsFile = path.join(foldDir, STARTS_JSON);
      const starts = fs.existsSync(startsFile) ? (JSON.parse(fs.readFileSync(startsFile, 'utf8')) as RunConfig['backends']) : [];
      const history = readHistory(path.join(foldDir, 'metrics.jsonl'));
      const state = memberState(runDir, member);
      const bestEpoch = state ? (history[state.early.bestEpoch]?.epoch ?? null) : null;
      evaluations.push({ fold: fold.fold, seed, splitSpeakers: fold.speakers, testSpeakers, rows: items.length, metrics, history, bestEpoch, starts, baseline });
    } finally {
      model.dispose();
    }
  }
  reader.close();
  const { pooled, ...summary } = summariseFolds(evaluations.map((e) => e.metrics));
  const foldBaselines = evaluations.map((e) => e.baseline).filter((b): b is Metrics => b !== null);
  let baselineSummary: Evaluation['baselineSummary'] = null;
  if (foldBaselines.length === evaluations.length) {
    const { pooled: _pooled, ...rest } = summariseFolds(foldBaselines);
    baselineSummary = rest;
  }
  return {
    runDir, cache, testSet, splitKind: folds[0].kind, optimistic: folds[0].optimistic, config,
    featureConfig: reader.manifest.featureConfig, crop: reader.manifest.crop, evalBackend: backend.name,
    folds: evaluations, missingFolds, seeds: config.settings.seeds ?? 1, summary, baselineSummary, pooled,
  };
}
