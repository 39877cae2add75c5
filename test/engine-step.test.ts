// The engine's whole-model training step (native/nn/model_step.h, the GPU trainer's host logic) on the
// CPU engine against the tfjs step it replaces (fused ops, FusedAdam, WeightAverage on the native
// backend): the same weights, moments, moving statistics and averages after a few steps, and the same
// losses; then the weights go back into the tfjs objects and training goes on there.
import * as tf from '@tensorflow/tfjs';

import { createAdam, fusedTrainingForward, selectBackend } from '../src/backend';
import type { Batch } from '../src/train/batch-assembler';
import { setDropoutStep, stepDropoutMaskOf } from '../src/train/dropout';
import { EngineStep } from '../src/train/engine-step';
import { crossEntropy } from '../src/train/loop';
import { buildModel, MODEL_PRESETS, type ModelSizes } from '../src/train/model';
import { WeightAverage } from '../src/train/weight-average';
import { native } from '../src/native';

const FRAMES = 48;
const COEFFS = 20;
const CLASSES = 6;
const BATCH = 5;
const SIZES: ModelSizes = { ...MODEL_PRESETS.small, convFilters: [8, 16], dropout: 0.3 };

beforeAll(async () => {
  await selectBackend('native');
});

function randomBatch(seed: number, size = BATCH): Batch {
  let state = seed * 2654435761 + 1;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const features = Float32Array.from({ length: size * FRAMES * COEFFS }, () => 2 * next() - 1);
  // Mixed targets, as mixup gives: two classes per row.
  const labels = new Float32Array(size * CLASSES);
  for (let r = 0; r < size; r++) {
    const lambda = 0.6 + 0.3 * next();
    labels[r * CLASSES + Math.floor(next() * CLASSES)] += lambda;
    labels[r * CLASSES + Math.floor(next() * CLASSES)] += 1 - lambda;
  }
  return { features, labels, size };
}

function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff);
}

interface Trained {
  model: tf.LayersModel;
  optimizer: tf.AdamOptimizer;
  average: WeightAverage;
  losses: number[];
}

function fresh(): Omit<Trained, 'losses'> {
  const model = buildModel({ frames: FRAMES, coeffs: COEFFS, classes: CLASSES, sizes: SIZES, seed: 7 });
  const optimizer = createAdam(2e-3);
  const average = new WeightAverage(model.trainableWeights.map((w) => w.read() as tf.Variable), 0.99, model.trainableWeights.map((w) => w.originalName));
  return { model, optimizer, average };
}

/** Steps [first, end) the way the training loop runs them on the native backend. */
function tfjsSteps(t: Omit<Trained, 'losses'>, first: number, end: number, classWeights: Float32Array | null): number[] {
  const forward = fusedTrainingForward(t.model, { dropoutMaskOf: stepDropoutMaskOf });
  if (!forward) throw new Error('the model did not fuse');
  const trainable = t.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const weights = classWeights ? tf.tensor1d(classWeights) : null;
  const losses: number[] = [];
  for (let step = first; step < end; step++) {
    const batch = randomBatch(step + 1);
    setDropoutStep(step);
    const x = tf.tensor4d(batch.features, [batch.size, FRAMES, COEFFS, 1]);
    const y = tf.tensor2d(batch.labels, [batch.size, CLASSES]);
    const loss = t.optimizer.minimize(() => crossEntropy(y, forward.forward(x), weights), true, trainable) as tf.Scalar;
    losses.push(loss.dataSync()[0]);
    tf.dispose([x, y, loss]);
    t.average.update(step + 1);
  }
  weights?.dispose();
  return losses;
}

function engineSteps(t: Omit<Trained, 'losses'>, first: number, end: number, classWeights: Float32Array | null): number[] {
  const engine = new EngineStep(t.model, { frames: FRAMES, coeffs: COEFFS, classes: CLASSES, sizes: SIZES, maxBatch: 8 }, 'cpu');
  try {
    engine.load(t.optimizer, t.average);
    const losses: number[] = [];
    for (let step = first; step < end; step++) losses.push(engine.step(randomBatch(step + 1), step, t.optimizer, classWeights, t.average).loss);
    engine.store(t.optimizer, t.average);
    return losses;
  } finally {
    engine.dispose();
  }
}

/** Every weight, moment and average of b against a, as relative L2 per tensor. */
function differences(a: Omit<Trained, 'losses'>, b: Omit<Trained, 'losses'>): Record<string, number> {
  const out: Record<string, number> = {};
  a.model.weights.forEach((w, i) => {
    out[w.originalName] = relativeL2(b.model.weights[i].read().dataSync(), w.read().dataSync());
  });
  const fields = (o: tf.AdamOptimizer) => o as unknown as { accumulatedFirstMoment: { variable: tf.Variable }[]; accumulatedSecondMoment: { variable: tf.Variable }[] };
  a.model.trainableWeights.forEach((w, i) => {
    out[`${w.originalName}/m`] = relativeL2(fields(b.optimizer).accumulatedFirstMoment[i].variable.dataSync(), fields(a.optimizer).accumulatedFirstMoment[i].variable.dataSync());
    out[`${w.originalName}/v`] = relativeL2(fields(b.optimizer).accumulatedSecondMoment[i].variable.dataSync(), fields(a.optimizer).accumulatedSecondMoment[i].variable.dataSync());
    out[`${w.originalName}/average`] = relativeL2(b.average.averageVariables[i].dataSync(), a.average.averageVariables[i].dataSync());
  });
  return out;
}

function dispose(t: Omit<Trained, 'losses'>): void {
  t.average.dispose();
  t.optimizer.dispose();
  t.model.dispose();
}

test.each([
  ['without class weights', null],
  ['with class weights', Float32Array.from([0.5, 1, 1.5, 2, 0.8, 1.2])],
])('3 engine steps on the CPU match 3 tfjs steps %s (1e-4 relative L2 per tensor, losses 1e-5)', (_name, classWeights) => {
  const reference = fresh();
  const engine = fresh();
  const initial = reference.model.weights.map((w) => w.read().dataSync().slice());
  const referenceLosses = tfjsSteps(reference, 0, 3, classWeights);
  const engineLosses = engineSteps(engine, 0, 3, classWeights);
  engineLosses.forEach((loss, i) => expect(Math.abs(loss - referenceLosses[i]) / referenceLosses[i]).toBeLessThan(1e-5));
  const diff = differences(reference, engine);
  expect(Object.keys(diff).length).toBe(reference.model.weights.length + 3 * reference.model.trainableWeights.length);
  const worst = Object.entries(diff).filter(([, d]) => !(d <= 1e-4));
  expect(worst).toEqual([]);
  // The steps moved every trainable weight far more than the tolerance: the comparison means something.
  reference.model.trainableWeights.forEach((w, i) => expect(relativeL2(w.read().dataSync(), initial[i])).toBeGreaterThan(1e-3));
  // Adam's beta powers and iteration count went back too: the next tfjs step takes up from there.
  const iterations = (o: tf.AdamOptimizer) => (o as unknown as { iterations_: number }).iterations_;
  expect(iterations(engine.optimizer)).toBe(iterations(reference.optimizer));
  const nextReference = tfjsSteps(reference, 3, 5, classWeights);
  const nextEngine = tfjsSteps(engine, 3, 5, classWeights);
  nextEngine.forEach((loss, i) => expect(Math.abs(loss - nextReference[i]) / nextReference[i]).toBeLessThan(1e-4));
  expect(Object.entries(differences(reference, engine)).filter(([, d]) => !(d <= 1e-4))).toEqual([]);
  dispose(reference);
  dispose(engine);
});

test('resuming into the engine step: moments restored from a checkpoint (named by another process) are taken by position', async () => {
  const saved = fresh();
  tfjsSteps(saved, 0, 3, null);
  // A second model in the process: its variables carry other names than the ones the moments were saved under.
  const resumed = fresh();
  expect((resumed.model.trainableWeights[0].read() as tf.Variable).name).not.toBe((saved.model.trainableWeights[0].read() as tf.Variable).name);
  resumed.model.weights.forEach((w, i) => w.write(tf.tensor(saved.model.weights[i].read().dataSync().slice(), w.shape as number[])));
  await resumed.optimizer.setWeights(await saved.optimizer.getWeights());
  const named: tf.NamedTensorMap = {};
  for (const { name, tensor } of saved.average.named()) named[name] = tensor;
  resumed.average.restore(named, 'test');
  const moments = (o: tf.AdamOptimizer) => (o as unknown as { accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[] }).accumulatedFirstMoment;
  expect(moments(resumed.optimizer)[0].originalName).toBe(`${(saved.model.trainableWeights[0].read() as tf.Variable).name}/m`);
  const before = moments(resumed.optimizer).map((m) => m.variable.dataSync().slice());
  // Two more steps each way from the same state: the engine's from the restored copy.
  const nextSaved = tfjsSteps(saved, 3, 5, null);
  const nextResumed = engineSteps(resumed, 3, 5, null);
  expect(before[0].some((v) => v !== 0)).toBe(true);
  nextResumed.forEach((loss, i) => expect(Math.abs(loss - nextSaved[i]) / nextSaved[i]).toBeLessThan(1e-5));
  expect(Object.entries(differences(saved, resumed)).filter(([, d]) => !(d <= 1e-4))).toEqual([]);
  dispose(saved);
  dispose(resumed);
});

test('the engine step refuses a batch, a tensor or a device it cannot take, naming what is wrong', () => {
  const t = fresh();
  const engine = new EngineStep(t.model, { frames: FRAMES, coeffs: COEFFS, classes: CLASSES, sizes: SIZES, maxBatch: 4 }, 'cpu');
  try {
    engine.load(t.optimizer, t.average);
    expect(() => engine.step(randomBatch(1, 5), 0, t.optimizer, null, null)).toThrow(/batch must hold 1 to 4 rows, got 5/);
    const short = randomBatch(1, 2);
    expect(() => engine.step({ ...short, features: short.features.subarray(1) }, 0, t.optimizer, null, null)).toThrow(/x must hold 1920 floats, got 1919/);
    expect(() => engine.step(short, 0, t.optimizer, new Float32Array(2), null)).toThrow(/class weights must hold 6 floats/);
  } finally {
    engine.dispose();
  }
  expect(() => engine.step(randomBatch(1, 2), 0, t.optimizer, null, null)).toThrow(/disposed/);
  const unloaded = new EngineStep(t.model, { frames: FRAMES, coeffs: COEFFS, classes: CLASSES, sizes: SIZES, maxBatch: 4 }, 'cpu');
  expect(() => unloaded.step(randomBatch(1, 2), 0, t.optimizer, null, null)).toThrow(/before load/);
  unloaded.dispose();
  // A handle from elsewhere is refused, not reinterpreted.
  expect(() => native.trainerStep({} as never, {} as never)).toThrow(/handle from createTrainer/);
  const other = buildModel({ frames: FRAMES, coeffs: COEFFS, classes: CLASSES, sizes: { ...SIZES, lstmUnits: 12 }, seed: 1 });
  expect(() => new EngineStep(other, { frames: FRAMES, coeffs: COEFFS, classes: CLASSES, sizes: SIZES, maxBatch: 4 }, 'cpu'))
    .toThrow(/does not fit this model \(bilstm\/forward_lstm\/kernel \[80,48\] where the engine has bilstm\/forward_lstm\/kernel \[80,64\]\)/);
  if (!native.gpuInfo().available) {
    expect(() => new EngineStep(t.model, { frames: FRAMES, coeffs: COEFFS, classes: CLASSES, sizes: SIZES, maxBatch: 4 }, 'gpu')).toThrow(/no usable GPU: .+/);
  }
  other.dispose();
  dispose(t);
});
