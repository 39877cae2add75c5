// `ser eval`, the numbers: every fold's best model on its held-out test rows; metrics per fold, mean
// +- std across folds and the pooled confusion matrix. src/report writes them out.
import * as fs from 'fs';
import * as path from 'path';

import { InputFileError, OptionsError, throwIfAborted } from '../errors';
import type { CropSpec, FeatureConfig } from '../features/config';
import { checkThreadCount, selectBackend, type BackendChoice } from '../backend';
import { loadModelFolder, normalisationFromJson, type EpochRecord } from '../train/checkpoint';
import { CacheReader, fitSpeakerMoments } from '../train/dataset';
import { makeSplits, memberFinished, memberState, readFolds, runMembers, readRunConfig, STARTS_JSON, type FoldRecord, type RunConfig } from '../train/run';
import { clipStatistics, fitLogisticRegression, predictLogisticRegression } from './baseline';
import { computeMetrics, summariseFolds, type Metrics, type Summary } from '../train/metrics';
import { standardiseRows } from '../features/normalise';
import { enrolmentMoments } from './enrolment';
import { PREDICT_BATCH_ROWS } from '../train/defaults';
import { argmaxRows, predictItems } from '../train/predict';

/** One fold's (of one seed's) test metrics and training history. */
export interface FoldEvaluation {
  fold: number;
  /** 1-based; 1 unless the run trained several seeds. */
  seed: number;
  /** The split's speakers as trained (folds.json); testSpeakers are those found in the evaluated cache. */
  splitSpeakers: FoldRecord['speakers'];
  testSpeakers: string[];
  rows: number;
  /**
   * The headline: every test clip scored alone, standardised as `ser predict` standardises a lone file
   * (global moments, or under speaker and utterance normalisation the clip's own).
   */
  metrics: Metrics;
  /**
   * Runs trained with speaker normalisation, scored with speaker statistics a user may have: from k = 1
   * and 4 other clips of the same speaker drawn at random (enrolment), and from all of the speaker's
   * clips in the evaluated cache (a speaker map). Null for other normalisations (their clips need no
   * speaker statistics: every way scores as the headline).
   */
  scorings: Scorings<Metrics> | null;
  history: EpochRecord[];
  /** The epoch (1-based) whose weights the model keeps, as early stopping chose it; null without a checkpoint. */
  bestEpoch: number | null;
  /** The backend of each start of this fold when it was trained on its own (--fold); empty otherwise. */
  starts: RunConfig['backends'];
  /**
   * The baseline on the same test rows: logistic regression on each clip's coefficient means and
   * standard deviations, fitted on the fold's training rows standardised as the model trained on them
   * and scored on the test rows standardised as the headline scores them. Null on another cache.
   */
  baseline: Metrics | null;
}

/** The scorings beside the headline (see FoldEvaluation.scorings). */
export interface Scorings<T> {
  enrol1: T;
  enrol4: T;
  speakerMap: T;
}

type MetricSummaries = { accuracy: Summary; uar: Summary; macroF1: Summary };

/** What evaluation computed: metrics per fold, mean and std over folds, the pooled confusion matrix. */
export interface Evaluation {
  runDir: string;
  cache: string;
  /** 'held-out': the run's own test rows; 'external': every original row of another cache. */
  testSet: 'held-out' | 'external';
  /** The speakers scored: each fold's test speakers, or its validation speakers (EvaluateOptions.partition). */
  partition: 'test' | 'val';
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
  /** Mean and std over every joined seed and fold, of the headline (each clip scored alone). */
  summary: MetricSummaries;
  /** The same over the other scorings, for runs trained with speaker normalisation; else null. */
  scoringSummaries: Scorings<MetricSummaries> | null;
  /** The baseline's figures over the same folds, or null (another cache). */
  baselineSummary: MetricSummaries | null;
  /**
   * Runs of several seeds: each clip alone, scored by its fold's seeds' probabilities averaged as
   * ser predict averages a run's models (for a run of one fold, exactly what ser predict gives; a run
   * of K folds averages all K x N models there); one entry a fold whose every seed has finished, and
   * their mean and std. Else null.
   */
  seedAverage: { folds: { fold: number; metrics: Metrics }[]; summary: MetricSummaries } | null;
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
  /**
   * Which held-out speakers to score: 'test' (default), or each fold's validation speakers ('val'),
   * for choosing settings without looking at the test speakers.
   */
  partition?: 'test' | 'val';
}

export async function evaluateRun(runDir: string, options: EvaluateOptions = {}): Promise<Evaluation> {
  if (options.threads !== undefined) checkThreadCount(options.threads);
  if (options.partition !== undefined && options.partition !== 'test' && options.partition !== 'val') throw new OptionsError(`partition (--on) must be test or val, got '${String(options.partition)}'`);
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
  // Per fold, the seeds' lone-clip probabilities summed as ModelEngine.predictRows sums them (each
  // divided by the number of seeds, in float64, in member order), so for a run of one fold the argmax
  // is ser predict's.
  const seeds = config.settings.seeds ?? 1;
  const seedSums = new Map<number, { sums: Float64Array; joined: number; truth: number[]; labels: string[] }>();
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
      if (JSON.stringify(reader.labels) !== JSON.stringify(preprocessing.labels)) {
        throw new InputFileError(cache, `its labels (${reader.labels.join(', ')}) are not the model's (${preprocessing.labels.join(', ')})`);
      }
      const testIds = new Set(options.partition === 'val' ? fold.valIds : fold.testIds);
      let items = originals.filter(({ item }) => testIds.has(item.id)).map(({ i }) => i);
      if (items.length === 0 && options.cache) {
        testSet = 'external';
        items = originals.map(({ i }) => i);
      }
      if (items.length === 0 && options.partition === 'val') throw new InputFileError(runDir, `fold ${fold.fold} has no validation speakers to score`);
      if (items.length === 0) throw new Error(`fold ${fold.fold} has no test rows in ${cache} (was the split made without test speakers?)`);
      const truth = items.map((i) => reader.label(i));
      const score = (probabilities: Float32Array) => computeMetrics(truth, argmaxRows(probabilities, preprocessing.labels.length), preprocessing.labels);
      // The headline: each clip alone, as ser predict scores a lone file.
      const lone = normalisationFromJson(preprocessing.normalisation);
      const loneProbabilities = predictItems(model, reader, items, lone);
      const metrics = score(loneProbabilities);
      if (seeds > 1) {
        let averaged = seedSums.get(f);
        if (!averaged) seedSums.set(f, (averaged = { sums: new Float64Array(loneProbabilities.length), joined: 0, truth, labels: preprocessing.labels }));
        const { sums } = averaged;
        loneProbabilities.forEach((v, i) => {
          sums[i] += v / seeds;
        });
        averaged.joined++;
      }
      let scorings: Scorings<Metrics> | null = null;
      // Speaker normalisation: each test speaker's statistics from a few of its other clips, or from all
      // its rows in the evaluated cache (as a speaker map gives them).
      const speakerMode = preprocessing.normalisation.mode === 'speaker';
      const speakerMoments = speakerMode ? (cachedSpeakerMoments ??= fitSpeakerMoments(reader)) : undefined;
      if (speakerMode) {
        const enrolled = (k: number) => {
          const enrolment = enrolmentMoments(reader, items, k, config.settings.seed);
          return score(predictItems(model, reader, items, normalisationFromJson(preprocessing.normalisation, enrolment.moments), PREDICT_BATCH_ROWS, enrolment.keyOf));
        };
        scorings = {
          enrol1: enrolled(1), enrol4: enrolled(4),
          speakerMap: score(predictItems(model, reader, items, normalisationFromJson(preprocessing.normalisation, speakerMoments))),
        };
      }
      const testSpeakers = [...new Set(items.map((i) => reader.manifest.items[i].speaker))].sort();
      // The baseline has no seed: fitted once per fold, on rows standardised as the model's were.
      let baseline: Metrics | null = baselines.get(f) ?? null;
      if (!baseline && splits && testSet === 'held-out') {
        const train = splits[f].train;
        const trained = normalisationFromJson(preprocessing.normalisation, speakerMoments);
        const { coeffs } = reader.manifest;
        const asTrained = (row: Float32Array, item: number) => standardiseRows(trained, row, 1, coeffs, [reader.manifest.items[item].speaker]);
        const asScored = (row: Float32Array) => standardiseRows(lone, row, 1, coeffs);
        const fitted = fitLogisticRegression(clipStatistics(reader, train, asTrained), train.map((i) => reader.label(i)), preprocessing.labels.length);
        baseline = computeMetrics(truth, predictLogisticRegression(fitted, clipStatistics(reader, items, asScored)), preprocessing.labels);
        baselines.set(f, baseline);
      }
      const startsFile = path.join(foldDir, STARTS_JSON);
      const starts = fs.existsSync(startsFile) ? (JSON.parse(fs.readFileSync(startsFile, 'utf8')) as RunConfig['backends']) : [];
      const history = readHistory(path.join(foldDir, 'metrics.jsonl'));
      const state = memberState(runDir, member);
      const bestEpoch = state ? (history[state.early.bestEpoch]?.epoch ?? null) : null;
      evaluations.push({ fold: fold.fold, seed, splitSpeakers: fold.speakers, testSpeakers, rows: items.length, metrics, scorings, history, bestEpoch, starts, baseline });
    } finally {
      model.dispose();
    }
  }
  reader.close();
  const { pooled, ...summary } = summariseFolds(evaluations.map((e) => e.metrics));
  const foldBaselines = evaluations.map((e) => e.baseline).filter((b): b is Metrics => b !== null);
  const summariseScoring = (pick: (s: Scorings<Metrics>) => Metrics): MetricSummaries => {
    const { pooled: _pooled, ...rest } = summariseFolds(evaluations.map((e) => pick(e.scorings as Scorings<Metrics>)));
    return rest;
  };
  const scoringSummaries: Scorings<MetricSummaries> | null = evaluations.length > 0 && evaluations.every((e) => e.scorings !== null)
    ? { enrol1: summariseScoring((s) => s.enrol1), enrol4: summariseScoring((s) => s.enrol4), speakerMap: summariseScoring((s) => s.speakerMap) }
    : null;
  let baselineSummary: Evaluation['baselineSummary'] = null;
  if (foldBaselines.length === evaluations.length) {
    const { pooled: _pooled, ...rest } = summariseFolds(foldBaselines);
    baselineSummary = rest;
  }
  const averagedFolds = [...seedSums].filter(([, fold]) => fold.joined === seeds).sort(([a], [b]) => a - b).map(([f, fold]) => ({
    fold: f + 1,
    metrics: computeMetrics(fold.truth, argmaxRows(Float32Array.from(fold.sums), fold.labels.length), fold.labels),
  }));
  let seedAverage: Evaluation['seedAverage'] = null;
  if (averagedFolds.length > 0) {
    const { pooled: _pooled, ...rest } = summariseFolds(averagedFolds.map((a) => a.metrics));
    seedAverage = { folds: averagedFolds, summary: rest };
  }
  return {
    runDir, cache, testSet, partition: options.partition ?? 'test', splitKind: folds[0].kind, optimistic: folds[0].optimistic, config,
    featureConfig: reader.manifest.featureConfig, crop: reader.manifest.crop, evalBackend: backend.name,
    folds: evaluations, missingFolds, seeds, summary, scoringSummaries, baselineSummary, seedAverage, pooled,
  };
}
