// The training loop of one split: Adam on (class-weighted) cross-entropy with mixup, validation after
// every epoch, early stopping that keeps the best weights in model/, learning-rate cuts on plateaus,
// and a checkpoint per epoch from which an interrupted run resumes exactly.
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { createAdam, type TrainingForward } from '../backend';
import { writeFileAtomic } from '../io/atomic';
import { throwIfAborted } from '../errors';
import { computeMetrics } from './metrics';
import { argmaxRows, predictItems } from './predict';
import { EarlyStopping, ReduceLrOnPlateau } from './callbacks';
import {
  readCheckpointAverages, restoreLatestCheckpoint, saveCheckpoint, saveModelFolder, type EpochRecord, type LoopState, type Preprocessing,
} from './checkpoint';
import { batchTensors, type CacheReader, type Normalisation } from './dataset';
import type { EngineStep } from './engine-step';
import { setDropoutStep } from './dropout';
import { prefetch, type BatchSource } from './sources';
import { WeightAverage } from './weight-average';

import type { Monitor } from './defaults';

export type { Monitor };

export interface LoopOptions {
  epochs: number;
  lr: number;
  patience: number;
  minDelta: number;
  lrPatience: number;
  lrFactor: number;
  minLr: number;
  lrCooldown: number;
  /** What early stopping, the best-epoch choice and the learning-rate cuts watch (default val_loss). */
  monitor?: Monitor;
  /** Per class loss weight (training rows' inverse frequency), or null for plain cross-entropy. */
  classWeights: Float32Array | null;
  /** Batches built ahead of the running step. */
  prefetchDepth: number;
  /**
   * Decay of an exponential moving average of the weights that validation, the best model and so the
   * result use (0 or absent: the weights as trained).
   */
  weightAverage?: number;
  /**
   * The shuffle window the batch source streams with (null: every training row in memory). Recorded
   * in the loop state of a new run; a resumed run's source must use the window its state records.
   */
  shuffleWindowRows?: number | null;
}

export interface FoldPaths {
  dir: string;
  checkpoints: string;
  model: string;
  metrics: string;
}

export function foldPaths(dir: string): FoldPaths {
  return { dir, checkpoints: path.join(dir, 'checkpoints'), model: path.join(dir, 'model'), metrics: path.join(dir, 'metrics.jsonl') };
}

/** Progress within an epoch, after each step. */
export interface EpochProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  samplesPerSecond: number;
  elapsedSeconds: number;
  /** Of elapsedSeconds, the time spent waiting for batches. */
  dataWaitSeconds: number;
}

export interface FoldInput {
  paths: FoldPaths;
  model: tf.LayersModel;
  /** The model's training-mode forward pass when a backend runs it its own way (default model.apply). */
  trainingForward?: TrainingForward;
  /**
   * The engine's whole-model step (on the GPU): it replaces optimizer.minimize and the weight average's
   * update, and the model, optimiser and averages are brought up to date from it before each validation.
   */
  stepEngine?: EngineStep;
  source: BatchSource;
  reader: CacheReader;
  val: readonly number[];
  norm: Normalisation;
  preprocessing: Preprocessing;
  options: LoopOptions;
  /** Called after each step (for progress bars) and after each epoch. */
  /** Checked after every step: an abort ends the fold with an AbortError, the last epoch's checkpoint kept. */
  signal?: AbortSignal;
  onStep?: (progress: EpochProgress) => void;
  onEpoch?: (record: EpochRecord, state: LoopState) => void;
}

/** Inverse-frequency weights over the classes present in training, averaging 1 per training row. */
export function inverseFrequencyWeights(labels: readonly number[], classes: number): Float32Array {
  const counts = new Float64Array(classes);
  for (const label of labels) counts[label]++;
  const present = counts.filter((c) => c > 0).length;
  return Float32Array.from(counts, (count) => (count > 0 ? labels.length / (present * count) : 0));
}

/** Mean cross-entropy of soft (mixed) targets; each row weighted by its target's class weights. */
export function crossEntropy(y: tf.Tensor2D, probabilities: tf.Tensor, classWeights: tf.Tensor1D | null): tf.Scalar {
  const clipped = tf.clipByValue(probabilities, 1e-7, 1 - 1e-7);
  const perRow = tf.neg(tf.sum(tf.mul(y, tf.log(clipped)), -1));
  if (!classWeights) return tf.mean(perRow) as tf.Scalar;
  return tf.mean(tf.mul(perRow, tf.sum(tf.mul(y, classWeights), -1))) as tf.Scalar;
}

function setLearningRate(optimizer: tf.AdamOptimizer, lr: number): void {
  // tfjs reads this protected field on every update; it has no public setter.
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

function writeMetrics(file: string, history: readonly EpochRecord[]): void {
  writeFileAtomic(file, Buffer.from(history.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8'));
}

interface Validation {
  loss: number;
  accuracy: number;
  uar: number;
}

function validate(input: FoldInput): Validation {
  const { model, reader, val, norm } = input;
  if (val.length === 0) return { loss: NaN, accuracy: NaN, uar: NaN };
  const classes = input.preprocessing.labels.length;
  const probabilities = predictItems(model, reader, val, norm);
  const truth = val.map((item) => reader.label(item));
  let loss = 0;
  truth.forEach((label, r) => {
    loss -= Math.log(Math.min(Math.max(probabilities[r * classes + label], 1e-7), 1 - 1e-7));
  });
  const metrics = computeMetrics(truth, argmaxRows(probabilities, classes), input.preprocessing.labels);
  return { loss: loss / val.length, accuracy: metrics.accuracy, uar: metrics.uar };
}

/** Trains one split to the end (or resumes it); the best model is left in paths.model. */
export async function trainFold(input: FoldInput): Promise<LoopState> {
  const { model, options, paths, source } = input;
  const { frames, coeffs } = input.preprocessing;
  const optimizer = createAdam(options.lr);
  const early = new EarlyStopping({ patience: options.patience, minDelta: options.minDelta });
  const plateau = new ReduceLrOnPlateau(
    { patience: options.lrPatience, factor: options.lrFactor, minLr: options.minLr, minDelta: options.minDelta, cooldown: options.lrCooldown },
    options.lr,
  );
  const restored = await restoreLatestCheckpoint(paths.checkpoints, model, optimizer);
  const state: LoopState = restored ?? {
    epoch: 0, step: 0, lr: options.lr, early: early.state, plateau: plateau.state, history: [], finished: false, shuffleWindowRows: options.shuffleWindowRows ?? null,
  };
  early.state = state.early;
  plateau.state = state.plateau;
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const average = options.weightAverage ? new WeightAverage(trainable, options.weightAverage, model.trainableWeights.map((w) => w.originalName)) : null;
  if (average && restored) {
    const saved = readCheckpointAverages(paths.checkpoints);
    if (!saved) throw new Error(`${paths.checkpoints}: the run averages its weights, but its newest checkpoint holds no averages`);
    average.restore(saved, paths.checkpoints);
    tf.dispose(Object.values(saved));
  }
  const forward: TrainingForward = input.trainingForward ?? ((x) => model.apply(x, { training: true }) as tf.Tensor);
  const classWeights = options.classWeights ? tf.tensor1d(options.classWeights) : null;
  const engine = input.stepEngine ?? null;
  try {
    engine?.load(optimizer, average);
    while (!state.finished && state.epoch < options.epochs) {
      const epoch = state.epoch;
      setLearningRate(optimizer, state.lr);
      const started = performance.now();
      let waitMs = 0;
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let batchIndex = 0;
      for await (const { batch, waitMs: waited } of prefetch(source.epoch(epoch), options.prefetchDepth)) {
        waitMs += waited;
        if (engine) {
          // The engine's step also folds this step into the weight average.
          const result = engine.step(batch, state.step, optimizer, options.classWeights, average);
          lossSum += result.loss * batch.size;
          correct += result.hits;
          source.recycle?.(batch);
        } else {
          setDropoutStep(state.step);
          const { x, y } = batchTensors(batch, frames, coeffs);
          const kept: { hits?: tf.Scalar } = {};
          const loss = optimizer.minimize(() => {
            const probabilities = forward(x) as tf.Tensor2D;
            kept.hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, -1), tf.argMax(y, -1)), 'float32')) as tf.Scalar);
            return crossEntropy(y, probabilities, classWeights);
          }, true, trainable) as tf.Scalar;
          lossSum += loss.dataSync()[0] * batch.size;
          correct += kept.hits?.dataSync()[0] ?? 0;
          tf.dispose([x, y, loss]);
          // x was made on the batch's own buffer; disposed, the buffer can go back to be refilled.
          source.recycle?.(batch);
          kept.hits?.dispose();
        }
        seen += batch.size;
        state.step++;
        if (!engine) average?.update(state.step);
        batchIndex++;
        const elapsedSeconds = (performance.now() - started) / 1000;
        input.onStep?.({
          epoch: epoch + 1, epochs: options.epochs, batch: batchIndex, batches: source.batchesPerEpoch,
          loss: lossSum / seen, accuracy: correct / seen, samplesPerSecond: seen / elapsedSeconds, elapsedSeconds, dataWaitSeconds: waitMs / 1000,
        });
        // A step is one synchronous run of kernels: between steps, timers and I/O of the caller get their turn.
        await new Promise<void>((resolve) => setImmediate(resolve));
        throwIfAborted(input.signal, `training (epoch ${epoch + 1}, step ${batchIndex})`);
      }
      const trainSeconds = (performance.now() - started) / 1000;
      engine?.store(optimizer, average);
      // Validation and the best model see the averaged weights; training goes on from its own.
      const validation = average ? await average.withAverages(() => validate(input)) : validate(input);
      const seconds = (performance.now() - started) / 1000;
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: lossSum / seen,
        accuracy: correct / seen,
        valLoss: validation.loss,
        valAccuracy: validation.accuracy,
        valUar: validation.uar,
        lr: state.lr,
        seconds,
        samplesPerSecond: seen / trainSeconds,
        dataWaitFraction: waitMs / 1000 / trainSeconds,
      };
      // Without validation speakers the training loss is all there is to watch.
      const watched = options.monitor === 'val_uar' ? -record.valUar : record.valLoss;
      const monitored = Number.isFinite(watched) ? watched : record.loss;
      const decision = early.update(epoch, monitored);
      if (decision === 'improved' || !fs.existsSync(paths.model)) {
        const save = () => saveModelFolder(paths.model, model, input.preprocessing);
        await (average ? average.withAverages(save) : save());
      }
      state.lr = plateau.update(monitored);
      state.early = early.state;
      state.plateau = plateau.state;
      state.history.push(record);
      state.epoch = epoch + 1;
      state.finished = decision === 'stop' || state.epoch >= options.epochs;
      await saveCheckpoint(paths.checkpoints, model, optimizer, state, 2, average?.named());
      writeMetrics(paths.metrics, state.history);
      input.onEpoch?.(record, state);
    }
  } finally {
    classWeights?.dispose();
    average?.dispose();
    optimizer.dispose();
  }
  return state;
}
