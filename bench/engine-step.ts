// One process, one case of the train-engine scenario: builds a preset at batch 32 on 301 x 40 input on
// the native backend with a thread count, trains steps on fixed random data (Adam, cross-entropy: the
// engine's whole-model step as ser train runs it, or the tfjs step with the fused forward pass or layer
// by layer), and prints one JSON line: step time, tfjs kernel calls per step, where the time went, and
// the GEMM rate of a 1024-square product at the same thread count.
// Run by bench/suites/train-engine.ts under `taskset`, so one thread really is one core.
import * as tf from '@tensorflow/tfjs';

import { createAdam, fusedInferenceForward, fusedTrainingForward, selectBackend } from '../src/backend';
import { native } from '../src/native';
import { setDropoutStep, stepDropoutMaskOf } from '../src/train/dropout';
import { EngineStep } from '../src/train/engine-step';
import { buildModel, MODEL_PRESETS, type ModelSizes } from '../src/train/model';

export interface EngineStepResult {
  preset: string;
  threads: number;
  mode: EngineMode;
  fused: boolean;
  params: number;
  stepSeconds: number;
  samplesPerSecond: number;
  kernelsPerStep: number;
  /** Shares of the step's wall time. */
  gemmShare: number;
  otherKernelShare: number;
  jsShare: number;
  flopsPerStep: number;
  gflops: number;
  gemmPeakGflops: number;
  /** Prediction of a batch (model.predict's result): through the fused ops, and layer by layer. */
  inferenceSamplesPerSecond: number | null;
  layeredInferenceSamplesPerSecond: number | null;
  /** Median milliseconds of one forward pass of a single row through the fused ops (scoring one clip). */
  singleRowMs: number | null;
}

/** Samples per second of repeated forward passes of x. */
function inferenceRate(forward: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, repeats: number): number {
  tf.tidy(() => forward(x).dataSync());
  const start = performance.now();
  for (let i = 0; i < repeats; i++) tf.tidy(() => forward(x).dataSync());
  return (repeats * x.shape[0]) / ((performance.now() - start) / 1000);
}

/** Median milliseconds of single forward passes of x (one row), each read back as prediction does. */
function forwardMedianMs(forward: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, repeats: number): number {
  for (let i = 0; i < 5; i++) tf.tidy(() => forward(x).dataSync());
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    tf.tidy(() => forward(x).dataSync());
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

export const BATCH = 32;
export const FRAMES = 301;
export const COEFFS = 40;

/** Multiply-adds x 2 of one training step: forward, and backward (input and weight gradients). */
export function trainingFlops(sizes: ModelSizes, frames: number, coeffs: number, batch: number): number {
  let flops = 0;
  let [time, freq, channels] = [frames, coeffs, 1];
  sizes.convFilters.forEach((filters, i) => {
    const forward = 2 * time * freq * 9 * channels * filters;
    // The first block's input is the data: no input gradient.
    flops += forward * (i === 0 ? 2 : 3);
    [time, freq, channels] = [Math.floor(time / 2), Math.floor(freq / 2), filters];
  });
  const input = freq * channels;
  const units = sizes.lstmUnits;
  flops += 3 * 2 * 2 * time * (input + units) * 4 * units;
  flops += 3 * 2 * time * 2 * units * (sizes.attentionUnits + 1) + 3 * 2 * 2 * units * 8;
  return flops * batch;
}

function gemmPeak(): number {
  const n = 1024;
  const a = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const out = new Float32Array(n * n);
  native.matMul(a, a, out, 1, n, n, n, false, false);
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    native.matMul(a, a, out, 1, n, n, n, false, false);
    best = Math.max(best, (2 * n * n * n) / ((performance.now() - start) / 1000) / 1e9);
  }
  return best;
}

/**
 * A case: the native engine fused or layer by layer, tfjs-node (libtensorflow) with the layers model, or
 * the engine's whole-model step (native/nn/model_step.h on the CPU engine: one addon call a step).
 */
export type EngineMode = 'fused' | 'layers' | 'tensorflow' | 'engine';

async function measure(preset: 'seed' | 'small', threads: number, mode: EngineMode, steps: number): Promise<EngineStepResult> {
  const fused = mode === 'fused';
  // tensorflow: the step ser train --backend tensorflow takes (tfjs-layers ops on libtensorflow's kernels).
  await selectBackend(mode === 'tensorflow' ? 'tensorflow' : 'native', { threads });
  const sizes = MODEL_PRESETS[preset];
  const model = buildModel({ frames: FRAMES, coeffs: COEFFS, classes: 8, sizes, seed: 1 });
  const fusedForward = fused ? fusedTrainingForward(model, { dropoutMaskOf: stepDropoutMaskOf }) : null;
  if (fused && !fusedForward) throw new Error(`the ${preset} preset did not fuse`);
  const forward = fusedForward ? fusedForward.forward : (x: tf.Tensor) => model.apply(x, { training: true }) as tf.Tensor;
  const x = tf.randomNormal([BATCH, FRAMES, COEFFS, 1], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 8), 'int32'), 8).asType('float32');
  const optimizer = fused || mode === 'engine' ? createAdam(1e-3) : tf.train.adam(1e-3);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let stepIndex = 0;
  const engine = mode === 'engine' ? new EngineStep(model, { frames: FRAMES, coeffs: COEFFS, classes: 8, sizes, maxBatch: BATCH }, 'cpu') : null;
  engine?.load(optimizer, null);
  const batch = { features: Float32Array.from(x.dataSync()), labels: Float32Array.from(y.dataSync()), size: BATCH };
  let engineSeconds = 0;
  const step = engine ? () => {
    const started = performance.now();
    engine.step(batch, stepIndex++, optimizer, null, null);
    engineSeconds += (performance.now() - started) / 1000;
  } : () => {
    setDropoutStep(stepIndex++);
    const loss = optimizer.minimize(() => {
      const p = tf.clipByValue(forward(x), 1e-7, 1 - 1e-7);
      return tf.mean(tf.neg(tf.sum(tf.mul(y, tf.log(p)), -1))) as tf.Scalar;
    }, true, trainable) as tf.Scalar;
    loss.dataSync();
    loss.dispose();
  };
  step();
  step();
  const profile = await tf.profile(() => step());
  native.resetEngineCounters();
  engineSeconds = 0;
  const start = performance.now();
  for (let i = 0; i < steps; i++) step();
  const wall = (performance.now() - start) / 1000;
  // The engine's counters see only native kernels: for tfjs-node the whole step is libtensorflow's; the
  // whole-model step is one addon call, timed around it.
  const counters = mode === 'tensorflow' ? { gemmThreadSeconds: 0, kernelSeconds: wall }
    : mode === 'engine' ? { gemmThreadSeconds: native.engineCounters().gemmThreadSeconds, kernelSeconds: engineSeconds } : native.engineCounters();
  const stepSeconds = wall / steps;
  const gemmWall = counters.gemmThreadSeconds / threads;
  const flopsPerStep = trainingFlops(sizes, FRAMES, COEFFS, BATCH);
  const result: EngineStepResult = {
    preset, threads, mode, fused, params: model.countParams(), stepSeconds, samplesPerSecond: BATCH / stepSeconds,
    kernelsPerStep: engine ? 1 : profile.kernels.length,
    gemmShare: gemmWall / wall,
    otherKernelShare: Math.max(0, counters.kernelSeconds - gemmWall) / wall,
    jsShare: Math.max(0, wall - counters.kernelSeconds) / wall,
    flopsPerStep, gflops: flopsPerStep / stepSeconds / 1e9, gemmPeakGflops: gemmPeak(),
    inferenceSamplesPerSecond: null, layeredInferenceSamplesPerSecond: null, singleRowMs: null,
  };
  const inference = fused || mode === 'engine' ? fusedInferenceForward(model) : null;
  if (inference) {
    result.inferenceSamplesPerSecond = inferenceRate(inference.forward, x, 3);
    result.layeredInferenceSamplesPerSecond = inferenceRate((v) => model.predict(v) as tf.Tensor, x, 3);
    const row = tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]);
    result.singleRowMs = forwardMedianMs(inference.forward, row, 50);
    row.dispose();
  }
  engine?.dispose();
  optimizer.dispose();
  model.dispose();
  tf.dispose([x, y]);
  return result;
}

if (require.main === module) {
  const [preset, threads, mode, steps] = process.argv.slice(2);
  if ((preset !== 'seed' && preset !== 'small') || !(Number(threads) >= 1) || (mode !== 'fused' && mode !== 'layers' && mode !== 'tensorflow' && mode !== 'engine') || !(Number(steps) >= 1)) {
    process.stderr.write('usage: node dist/bench/engine-step.js seed|small <threads> fused|layers|tensorflow|engine <steps>\n');
    process.exit(2);
  }
  measure(preset, Number(threads), mode, Number(steps)).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
