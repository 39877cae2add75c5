// The model's whole training step inside the engine (native/nn/model_step.h), on the GPU or on the CPU
// engine: every weight, Adam moment, moving statistic and weight average stays resident there, a step
// sends the batch and gets the loss back, and the tfjs model and optimiser are brought up to date only
// at epoch boundaries (for validation, the best model and the checkpoint). The arithmetic is the tfjs
// step's (fused ops, FusedAdam, WeightAverage), so a run moves between the two at any epoch boundary:
// checkpoints are written from the tfjs objects as before.
import * as tf from '@tensorflow/tfjs';

import type { AdamFields as FusedAdamFields } from '../backend/fused-adam';
import type { DeviceChoice } from '../backend/names';
import { OptionsError } from '../errors';
import { native, type StepDevice, type TrainerHandle } from '../native';
import type { Batch } from './batch-assembler';
import type { ModelSizes } from './defaults';
import { setDropoutStep, StepDropout, stepDropoutMaskOf } from './dropout';
import type { WeightAverage } from './weight-average';

export type { StepDevice };

/** tfjs's Adam state (as FusedAdam reads it) and its iteration counter (protected in tfjs). */
type AdamFields = FusedAdamFields & { iterations_: number };

export interface EngineStepSpec {
  frames: number;
  coeffs: number;
  classes: number;
  sizes: ModelSizes;
  /** The largest batch a step will get. */
  maxBatch: number;
}

/** Where a run's training steps go. */
export interface ResolvedDevice {
  device: 'cpu' | 'gpu';
  /** The engine's whole-model step and where it runs; null: the tfjs model's step on its backend. */
  engine: StepDevice | null;
  /** The step recorded per start: the engine's or tfjs's (they agree within 1e-3 over a run, not bit for bit). */
  step: 'engine' | 'tfjs';
  /** For the log and the report. */
  description: string;
  gpuName: string | null;
}

/**
 * `gpu` needs a usable GPU and the native backend (else an OptionsError saying why); `auto` takes the
 * GPU when there is one and the run is on native. On the CPU with native the engine's whole-model step
 * runs too (one addon call a step, measured faster than the tfjs step with fused ops); other backends
 * train through tfjs, and SER_STEP_ENGINE=tfjs keeps the tfjs step on native (comparison, diagnosis).
 * `probeGpu` tries the engine on the GPU with the run's sizes (device memory, a busy device): under
 * `auto` a failure falls back to the CPU, under `gpu` it is the error.
 */
export function resolveStepDevice(choice: DeviceChoice, backend: string, probeGpu: () => string | null, env: NodeJS.ProcessEnv = process.env): ResolvedDevice {
  const info = native.gpuInfo();
  const tfjsStep = env.SER_STEP_ENGINE === 'tfjs';
  const cpuEngine = backend === 'native' && !tfjsStep;
  let why: string | null = null;
  if (choice === 'gpu') {
    const problem = !info.available ? info.reason
      : backend !== 'native' ? `the GPU trains with the native backend, not ${backend}`
        : tfjsStep ? 'SER_STEP_ENGINE=tfjs keeps training on the tfjs step' : probeGpu();
    if (problem) throw new OptionsError(`device (--device) gpu: ${problem}`);
  }
  if (choice !== 'cpu' && info.available && cpuEngine) {
    why = choice === 'auto' ? probeGpu() : null;
    if (why === null) {
      return { device: 'gpu', engine: 'gpu', step: 'engine', description: `gpu: ${info.name} (compute ${info.computeCapability}), the engine's whole-model step`, gpuName: info.name };
    }
  }
  const reason = choice !== 'auto' ? '' : ` (${why ? `the GPU failed: ${why}` : info.available ? `the GPU trains with native's engine step only` : `no GPU: ${info.reason}`})`;
  return {
    device: 'cpu', engine: cpuEngine ? 'cpu' : null, step: cpuEngine ? 'engine' : 'tfjs',
    description: `cpu${reason}, ${cpuEngine ? "the engine's whole-model step" : `the tfjs step on ${backend}`}`, gpuName: null,
  };
}

function layerConfig(model: tf.LayersModel, name: string): tf.serialization.ConfigDict {
  return model.getLayer(name).getConfig();
}

/** The model's training step on `device`, for a model built by buildModel with `spec.sizes`. */
export class EngineStep {
  private readonly handle: TrainerHandle;
  private readonly tensors: { name: string; shape: number[] }[];
  private readonly trainable: tf.LayerVariable[];
  private readonly dropouts: StepDropout[];
  private accBeta1 = 0;
  private accBeta2 = 0;
  private steps = 0;
  private loaded = false;

  constructor(private readonly model: tf.LayersModel, spec: EngineStepSpec, readonly device: StepDevice) {
    const bn = layerConfig(model, 'bn1');
    const lstm = (layerConfig(model, 'bilstm').layer as { config: tf.serialization.ConfigDict }).config;
    this.dropouts = model.layers.filter((l): l is StepDropout => l instanceof StepDropout);
    this.handle = native.createTrainer({
      maxBatch: spec.maxBatch, frames: spec.frames, coeffs: spec.coeffs, classes: spec.classes,
      convFilters: spec.sizes.convFilters, lstmUnits: spec.sizes.lstmUnits, attentionUnits: spec.sizes.attentionUnits,
      dropoutRate: spec.sizes.dropout, batchNormMomentum: bn.momentum as number, batchNormEpsilon: bn.epsilon as number,
      gates: lstm.recurrentActivation === 'sigmoid' ? 'sigmoid' : 'hardSigmoid',
    }, device);
    this.tensors = native.trainerTensors(this.handle);
    this.trainable = model.trainableWeights;
    // The engine's step is written for buildModel's architecture: its weights must be the model's, in order.
    const weights = model.weights;
    const input = model.inputs[0].shape;
    const problem = weights.length + 3 * this.trainable.length !== this.tensors.length ? `${weights.length} weights where the engine step has ${this.tensors.length - 3 * this.trainable.length}`
      : input.join('x') !== ['', spec.frames, spec.coeffs, 1].join('x') ? `input [${input}] where the engine takes [null,${spec.frames},${spec.coeffs},1]`
        : this.dropouts.length !== spec.sizes.convFilters.length + 1 ? `${this.dropouts.length} step dropouts`
          : this.dropouts.some((d) => d.dropoutRate !== spec.sizes.dropout) ? `a dropout rate other than ${spec.sizes.dropout}`
            : weights.map((w, i) => (w.originalName === this.tensors[i].name && w.shape.join('x') === this.tensors[i].shape.join('x') ? null
              : `${w.originalName} [${w.shape}] where the engine has ${this.tensors[i].name} [${this.tensors[i].shape}]`)).find((p) => p) ?? null;
    if (problem) {
      native.trainerDispose(this.handle);
      throw new Error(`the engine's training step does not fit this model (${problem})`);
    }
  }

  private index(name: string): number {
    const i = this.tensors.findIndex((t) => t.name === name);
    if (i < 0) throw new Error(`the engine step has no tensor ${name}`);
    return i;
  }

  /** Sends the model's weights, the optimiser's moments and beta powers, and the weight averages. */
  load(optimizer: tf.AdamOptimizer, average: WeightAverage | null): void {
    const adam = optimizer as unknown as AdamFields;
    this.model.weights.forEach((w, i) => native.trainerWrite(this.handle, i, w.read().dataSync() as Float32Array));
    // tfjs's Adam keeps moment i for trained variable i (by position: after a checkpoint is restored
    // their names are the ones of the process that saved it). None yet: a fresh run, all zero.
    const moments = [adam.accumulatedFirstMoment, adam.accumulatedSecondMoment];
    if (moments.some((list) => list.length !== 0 && list.length !== this.trainable.length)) {
      throw new Error(`the optimiser holds moments of ${adam.accumulatedFirstMoment.length} variables, the model trains ${this.trainable.length}`);
    }
    this.trainable.forEach((w, i) => {
      const variable = w.read() as tf.Variable;
      const zeros = new Float32Array(variable.size);
      for (const [list, suffix] of [[adam.accumulatedFirstMoment, 'm'], [adam.accumulatedSecondMoment, 'v']] as const) {
        const moment = list[i]?.variable;
        if (moment && moment.shape.join('x') !== variable.shape.join('x')) {
          throw new Error(`the optimiser's moment ${i} has shape [${moment.shape}], ${w.originalName} [${variable.shape}]`);
        }
        native.trainerWrite(this.handle, this.index(`${w.originalName}/${suffix}`), moment ? (moment.dataSync() as Float32Array) : zeros);
      }
      const averaged = average?.averageVariables[i];
      native.trainerWrite(this.handle, this.index(`${w.originalName}/average`), (averaged ?? variable).dataSync() as Float32Array);
    });
    this.accBeta1 = adam.accBeta1.dataSync()[0];
    this.accBeta2 = adam.accBeta2.dataSync()[0];
    this.steps = 0;
    this.loaded = true;
  }

  /**
   * One step on a ready batch: forward, loss, backward, Adam (tfjs's Adam arithmetic and beta powers),
   * then the weight average's update after global step `step + 1` when `average` is given.
   */
  step(batch: Batch, step: number, optimizer: tf.AdamOptimizer, classWeights: Float32Array | null, average: WeightAverage | null): { loss: number; hits: number } {
    if (!this.loaded) throw new Error('EngineStep.step before load: the engine holds no weights yet');
    const adam = optimizer as unknown as AdamFields;
    setDropoutStep(step);
    const dropoutSeeds = this.dropouts.map((layer) => stepDropoutMaskOf(layer)?.seed ?? 0);
    const decay = average ? average.decayAt(step + 1) : null;
    const result = native.trainerStep(this.handle, {
      x: batch.features, y: batch.labels, batch: batch.size, classWeights,
      adam: {
        beta1: adam.beta1, beta2: adam.beta2, epsilon: adam.epsilon, learningRate: adam.learningRate,
        // As FusedAdam: tfjs's sub(1, accBeta) in float32 and its 1 - beta scalars.
        oneMinusAccBeta1: Math.fround(1 - this.accBeta1), oneMinusAccBeta2: Math.fround(1 - this.accBeta2),
        oneMinusBeta1: 1 - adam.beta1, oneMinusBeta2: 1 - adam.beta2,
      },
      dropoutSeeds, averageDecay: decay, averageOneMinusDecay: decay === null ? null : 1 - decay,
    });
    // tfjs's accBeta.assign(mul(accBeta, beta)): a float32 product.
    this.accBeta1 = Math.fround(this.accBeta1 * Math.fround(adam.beta1));
    this.accBeta2 = Math.fround(this.accBeta2 * Math.fround(adam.beta2));
    this.steps++;
    return result;
  }

  /** Brings the model, the optimiser (moments, beta powers, iteration count) and the averages up to date. */
  store(optimizer: tf.AdamOptimizer, average: WeightAverage | null): void {
    const adam = optimizer as unknown as AdamFields;
    const read = (index: number, size: number) => {
      const out = new Float32Array(size);
      native.trainerRead(this.handle, index, out);
      return out;
    };
    tf.tidy(() => {
      this.model.weights.forEach((w, i) => {
        const value = w.read();
        w.write(tf.tensor(read(i, value.size), value.shape));
      });
      this.trainable.forEach((w, i) => {
        const variable = w.read() as tf.Variable;
        // Moments where tfjs's Adam keeps them: index i of the trained variables, named after the variable.
        adam.accumulatedFirstMoment[i] ??= { originalName: `${variable.name}/m`, variable: tf.zerosLike(variable).variable(false) };
        adam.accumulatedSecondMoment[i] ??= { originalName: `${variable.name}/v`, variable: tf.zerosLike(variable).variable(false) };
        adam.accumulatedFirstMoment[i].variable.assign(tf.tensor(read(this.index(`${w.originalName}/m`), variable.size), variable.shape));
        adam.accumulatedSecondMoment[i].variable.assign(tf.tensor(read(this.index(`${w.originalName}/v`), variable.size), variable.shape));
        average?.averageVariables[i].assign(tf.tensor(read(this.index(`${w.originalName}/average`), variable.size), variable.shape));
      });
      adam.accBeta1.assign(tf.scalar(this.accBeta1));
      adam.accBeta2.assign(tf.scalar(this.accBeta2));
    });
    adam.iterations_ = optimizer.iterations + this.steps;  // the getter starts tfjs's lazy counter at 0
    this.steps = 0;
  }

  dispose(): void {
    native.trainerDispose(this.handle);
  }
}
