// `ser eval`: every fold's best model on its held-out test rows; metrics per fold, mean +- std across
// folds and the pooled confusion matrix, written as metrics.json with the pictures and report.html.
import * as fs from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../data/atomic';
import type { FeatureConfig } from '../features/config';
import type { CropSpec } from '../workers/feature-task';
import { renderReport } from '../report/html';
import { confusionSvg, curvesSvg } from '../report/svg';
import { selectBackend, type BackendChoice } from '../backend';
import { loadModelFolder, normalisationFromJson, type EpochRecord } from '../train/checkpoint';
import { CacheReader } from '../train/dataset';
import { readFolds, readRunConfig, type FoldRecord, type RunConfig } from '../train/run';
import { computeMetrics, summariseFolds, type Metrics, type Summary } from './metrics';
import { argmaxRows, predictItems } from './predict';

export interface FoldEvaluation {
  fold: number;
  /** The split's speakers as trained (folds.json); testSpeakers are those found in the evaluated cache. */
  splitSpeakers: FoldRecord['speakers'];
  testSpeakers: string[];
  rows: number;
  metrics: Metrics;
  history: EpochRecord[];
}

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
  summary: { accuracy: Summary; uar: Summary; macroF1: Summary };
  pooled: Metrics;
  files: { metrics: string; confusion: string; curves: string; report: string };
}

export function readHistory(file: string): EpochRecord[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as EpochRecord);
}

function sameFeatures(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function evaluateRun(runDir: string, options: { cache?: string; backend: BackendChoice; threads?: number }): Promise<Evaluation> {
  const config = readRunConfig(runDir);
  const folds = readFolds(runDir);
  const cache = options.cache ? path.resolve(options.cache) : config.settings.cache;
  const reader = new CacheReader(cache);
  const backend = await selectBackend(options.backend, { threads: options.threads });
  const originals = reader.manifest.items.map((item, i) => ({ item, i })).filter(({ item }) => !item.augmented);
  let testSet: Evaluation['testSet'] = 'held-out';
  const evaluations: FoldEvaluation[] = [];
  for (const fold of folds) {
    const foldDir = path.join(runDir, fold.dir);
    const { model, preprocessing } = await loadModelFolder(path.join(foldDir, 'model'));
    try {
      if (!sameFeatures(preprocessing.featureConfig, reader.manifest.featureConfig) || preprocessing.frames !== reader.manifest.frames || preprocessing.coeffs !== reader.manifest.coeffs) {
        throw new Error(`${cache}: its features (${reader.manifest.frames}x${reader.manifest.coeffs}) were not computed as the model's were (${preprocessing.frames}x${preprocessing.coeffs}, feature config in ${path.join(foldDir, 'model', 'preprocessing.json')})`);
      }
      const testIds = new Set(fold.testIds);
      let items = originals.filter(({ item }) => testIds.has(item.id)).map(({ i }) => i);
      if (items.length === 0 && options.cache) {
        testSet = 'external';
        items = originals.map(({ i }) => i);
      }
      if (items.length === 0) throw new Error(`fold ${fold.fold} has no test rows in ${cache} (was the split made without test speakers?)`);
      const probabilities = predictItems(model, reader, items, normalisationFromJson(preprocessing.normalisation));
      const truth = items.map((i) => reader.label(i));
      const metrics = computeMetrics(truth, argmaxRows(probabilities, preprocessing.labels.length), preprocessing.labels);
      const testSpeakers = [...new Set(items.map((i) => reader.manifest.items[i].speaker))].sort();
      evaluations.push({ fold: fold.fold, splitSpeakers: fold.speakers, testSpeakers, rows: items.length, metrics, history: readHistory(path.join(foldDir, 'metrics.jsonl')) });
    } finally {
      model.dispose();
    }
  }
  const { pooled, ...summary } = summariseFolds(evaluations.map((e) => e.metrics));
  const files = {
    metrics: path.join(runDir, 'metrics.json'),
    confusion: path.join(runDir, 'confusion.svg'),
    curves: path.join(runDir, 'curves.svg'),
    report: path.join(runDir, 'report.html'),
  };
  const evaluation: Evaluation = {
    runDir, cache, testSet, splitKind: folds[0].kind, optimistic: folds[0].optimistic, config,
    featureConfig: reader.manifest.featureConfig, crop: reader.manifest.crop, evalBackend: backend.name,
    folds: evaluations, summary, pooled, files,
  };
  const title = `${evaluations.length > 1 ? `${evaluations.length} folds pooled` : 'test speakers'}: UAR ${(100 * pooled.uar).toFixed(1)}%${evaluation.optimistic ? ' (random split, optimistic)' : ''}`;
  const confusion = confusionSvg(pooled, `Confusion matrix, ${title}`);
  const curves = curvesSvg(evaluations.map((e) => ({ name: evaluations.length > 1 ? `fold ${e.fold}` : '', history: e.history })), 'Training curves');
  const write = (file: string, text: string) => writeFileAtomic(file, Buffer.from(text, 'utf8'));
  const { config: _config, files: _files, ...forJson } = evaluation;
  write(files.metrics, `${JSON.stringify({ ...forJson, folds: evaluations.map(({ history: _h, ...rest }) => rest), settings: config.settings, trainedOn: config.backends }, null, 1)}\n`);
  write(files.confusion, confusion);
  write(files.curves, curves);
  write(files.report, renderReport(evaluation, confusion, curves));
  return evaluation;
}
