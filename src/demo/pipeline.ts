// `ser demo`: the whole pipeline on a small synthetic corpus, everything under one folder:
// synth -> prepare (with augmented copies) -> train the small model on held-out speakers -> eval ->
// predict two held-out clips. The summary's numbers are read back from what each step wrote.
import * as fs from 'fs';
import * as path from 'path';

import { specFromNames } from '../augment/spec';
import { readManifest } from '../data/cache';
import { prepareCache, type PrepareSummary } from '../data/prepare';
import { synthesizeCorpus } from '../data/synth';
import { evaluateRun } from '../eval/evaluate';
import { predictFiles, type Prediction } from '../eval/predict-files';
import { resolveFeatureConfig } from '../features/config';
import type { BackendChoice } from '../backend';
import { MODEL_PRESETS } from '../train/model';
import { trainRun, type TrainRunResult } from '../train/run';

export interface DemoOptions {
  out: string;
  speakers: number;
  clipsPerClass: number;
  epochs: number;
  backend: BackendChoice;
  /** Threads to train and infer on (default: every core). */
  threads?: number;
  workers: number;
  seed: number;
  log: (line: string) => void;
  onTrainStep?: Parameters<typeof trainRun>[0]['onStep'];
}

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
  accuracy: number;
  macroF1: number;
  report: string;
  predictions: Prediction[];
  seconds: number;
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const out = path.resolve(options.out);
  const corpus = path.join(out, 'corpus');
  const cache = path.join(out, 'cache');
  const run = path.join(out, 'run');
  for (const dir of [corpus, cache, run]) {
    if (fs.existsSync(dir)) throw new Error(`${dir} exists: give ser demo a new or empty folder (-o)`);
  }
  if (options.speakers < 4) throw new Error(`the demo needs at least 4 speakers (training, validation and two test speakers), got ${options.speakers}`);

  options.log(`1/5 synth: ${options.speakers} speakers in the RAVDESS layout`);
  const synth = synthesizeCorpus(corpus, { corpus: 'ravdess', speakers: options.speakers, clipsPerClass: options.clipsPerClass, seconds: 2, seed: options.seed });

  options.log(`2/5 prepare: MFCC of ${synth.clips} clips and one augmented copy each (noise, pitch)`);
  const prepared: PrepareSummary = await prepareCache({
    dataset: corpus, out: cache, corpus: 'ravdess', features: resolveFeatureConfig({ nMfcc: 20 }),
    crop: { offsetSeconds: 0.1, durationSeconds: 1.5 }, augment: specFromNames(['noise', 'pitch']), copies: 1, seed: options.seed,
    workers: options.workers, slice: null, shardRows: 512, clipsPerTask: 8, keepAudio: false, overwrite: false,
  });

  const speakers = [...new Set(readManifest(cache).items.map((i) => i.speaker))].sort();
  const testSpeakers = speakers.slice(-2);
  const valSpeakers = speakers.slice(-3, -2);
  options.log(`3/5 train: the small model, ${options.epochs} epochs at most; validation ${valSpeakers.join(', ')}, test ${testSpeakers.join(', ')}`);
  const trained: TrainRunResult = await trainRun({
    runDir: run, backend: options.backend, threads: options.threads, workers: options.workers, resume: false, log: options.log, onStep: options.onTrainStep,
    settings: {
      cache, modelPreset: 'small', sizes: { ...MODEL_PRESETS.small, convFilters: [...MODEL_PRESETS.small.convFilters] },
      epochs: options.epochs, batchSize: 16, lr: 3e-3, mixupAlpha: 0.2, patience: 8, lrPatience: 3, lrFactor: 0.5, minLr: 1e-5,
      classWeights: false, seed: options.seed, split: 'speaker', valSpeakers, testSpeakers, valFraction: 0, testFraction: 0,
      folds: null, onlineAugment: null,
    },
  });

  options.log('4/5 eval: the best model on the test speakers');
  const evaluation = await evaluateRun(run, { backend: options.backend, threads: options.threads });

  const heldOut = testSpeakers.map((speaker) => {
    const folder = path.join(corpus, `Actor_${speaker.split(':')[1]}`);
    return path.join(folder, fs.readdirSync(folder).sort()[0]);
  });
  options.log('5/5 predict: one clip of each test speaker');
  const predictions = await predictFiles(run, heldOut, { backend: options.backend, threads: options.threads });

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
    accuracy: evaluation.summary.accuracy.mean,
    macroF1: evaluation.summary.macroF1.mean,
    report: evaluation.files.report,
    predictions,
    seconds: (performance.now() - started) / 1000,
  };
}
