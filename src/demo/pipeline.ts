// `ser demo`: the whole pipeline on a small synthetic corpus, everything under one folder:
// synth -> prepare (with augmented copies) -> train the small model on held-out speakers -> eval ->
// predict two held-out clips. The summary's numbers are read back from what each step wrote.
import * as fs from 'fs';
import * as path from 'path';

import { specFromNames } from '../augment/spec';
import { checkThreadCount, type BackendChoice } from '../backend';
import { readManifest } from '../data/cache';
import type { PrepareSummary } from '../clips/prepare';
import { prepare } from '../clips/prepare-api';
import { CacheConflictError, OptionsError } from '../errors';
import { loadModel, predictFiles, type Prediction } from '../eval/model';
import { evaluate } from '../report/write';
import type { TrainRunResult } from '../train/run';
import { train, type TrainOptions } from '../train/train-api';
import { synthesize } from '../clips/synthesize';

/** demo() options. */
export interface DemoOptions {
  out: string;
  speakers: number;
  clipsPerClass: number;
  epochs: number;
  backend: BackendChoice;
  /** Threads to train and infer on (default: every core). */
  threads?: number;
  /** Worker threads for features (default: one per core). */
  workers?: number;
  seed: number;
  /** Lines worth showing a person (default: none). */
  log?: (line: string) => void;
  /** Stops the running step with an AbortError. */
  signal?: AbortSignal;
  onTrainStep?: TrainOptions['onStep'];
}

/** The demo's figures, each read back from what its steps wrote. */
export interface DemoSummary {
  out: string;
  clips: number;
  audioSeconds: number;
  cacheRows: number;
  featuresRealTimeFactor: number;
  backend: string;
  threads: number;
  epochs: number;
  testSpeakers: string[];
  testClips: number;
  uar: number;
  /** The logistic-regression baseline's UAR on the same test clips. */
  baselineUar: number | null;
  accuracy: number;
  macroF1: number;
  report: string;
  predictions: Prediction[];
  seconds: number;
}

/** Runs the whole pipeline on a small synthetic corpus, as `ser demo` (`npm start`) does, under one folder. */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const out = path.resolve(options.out);
  const corpus = path.join(out, 'corpus');
  const cache = path.join(out, 'cache');
  const run = path.join(out, 'run');
  for (const dir of [corpus, cache, run]) {
    if (fs.existsSync(dir)) throw new CacheConflictError(`${dir} exists: give ser demo a new or empty folder (-o)`);
  }
  if (!Number.isSafeInteger(options.speakers) || options.speakers < 4) {
    throw new OptionsError(`speakers (--speakers) must be an integer >= 4 (training, validation and two test speakers), got ${options.speakers}`);
  }
  for (const [name, v] of [['clipsPerClass (--clips-per-class)', options.clipsPerClass], ['epochs (--epochs)', options.epochs]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new OptionsError(`${name} must be an integer >= 1, got ${v}`);
  }
  if (options.threads !== undefined) checkThreadCount(options.threads);

  log(`1/5 synth: ${options.speakers} speakers in the RAVDESS layout`);
  const synth = await synthesize(corpus, { corpus: 'ravdess', speakers: options.speakers, clipsPerClass: options.clipsPerClass, seconds: 2, seed: options.seed, signal: options.signal });

  log(`2/5 prepare: MFCC of ${synth.clips} clips and one augmented copy each (noise, pitch)`);
  const prepared: PrepareSummary = await prepare({
    dataset: corpus, output: cache, corpus: 'ravdess', features: { nMfcc: 20 },
    offsetSeconds: 0.1, durationSeconds: 1.5, augment: specFromNames(['noise', 'pitch']), copies: 1, seed: options.seed,
    workers: options.workers, signal: options.signal,
  });

  const speakers = [...new Set(readManifest(cache).items.map((i) => i.speaker))].sort();
  const testSpeakers = speakers.slice(-2);
  const valSpeakers = speakers.slice(-3, -2);
  log(`3/5 train: the small model, ${options.epochs} epochs at most; validation ${valSpeakers.join(', ')}, test ${testSpeakers.join(', ')}`);
  const trained: TrainRunResult = await train({
    cache, output: run, backend: options.backend, threads: options.threads, workers: options.workers, log, onStep: options.onTrainStep, signal: options.signal,
    model: 'small', epochs: options.epochs, batchSize: 16, lr: 3e-3, mixup: 0.2, patience: 8, lrPatience: 3, lrFactor: 0.5, minLr: 1e-5,
    seed: options.seed, split: 'speaker', valSpeakers, testSpeakers, valFraction: 0, testFraction: 0,
  });

  log('4/5 eval: the best model on the test speakers');
  const evaluation = await evaluate(run, { backend: options.backend, threads: options.threads, signal: options.signal });

  // One clip of each test speaker, each scored alone, as a user scores a new clip.
  const shown = testSpeakers.map((speaker) => {
    const folder = path.join(corpus, `Actor_${speaker.split(':')[1]}`);
    return path.join(folder, fs.readdirSync(folder).sort()[0]);
  });
  log('5/5 predict: one clip of each test speaker, each alone');
  const model = await loadModel(run, { backend: options.backend, threads: options.threads });
  let predictions: Prediction[];
  try {
    predictions = await predictFiles(model, shown, undefined, { signal: options.signal });
  } finally {
    model.dispose();
  }

  return {
    out,
    clips: synth.clips,
    audioSeconds: prepared.audioSeconds,
    cacheRows: prepared.rows,
    featuresRealTimeFactor: prepared.realTimeFactor,
    backend: trained.backend.name,
    threads: trained.backend.threads,
    epochs: trained.folds[0].epochs,
    testSpeakers,
    testClips: evaluation.pooled.total,
    uar: evaluation.summary.uar.mean,
    baselineUar: evaluation.baselineSummary?.uar.mean ?? null,
    accuracy: evaluation.summary.accuracy.mean,
    macroF1: evaluation.summary.macroF1.mean,
    report: evaluation.files.report,
    predictions,
    seconds: (performance.now() - started) / 1000,
  };
}
