// The training forward pass of a layers model on the `native` backend: runs of Conv2D ->
// BatchNormalization -> ReLU -> MaxPooling2D [-> dropout] and Bidirectional(LSTM) layers go through the
// fused ops, every other layer through its own apply(), in the model's order. The model stays a plain
// tfjs LayersModel (its variables are the ones trained, and it saves and loads as before); only the
// training step's arithmetic is reorganised. Layer settings the fused ops do not reproduce exactly keep
// those layers on the layer-by-layer path; a model with shared layers keeps it altogether.
import * as tf from '@tensorflow/tfjs';

import type { LstmGateActivation } from '../native';
import {
  bidirectionalLstm, bidirectionalLstmInference, convBlock, convBlockInference, Workspace, type LstmDirectionTensors,
} from './fused-ops';

type Layer = tf.layers.Layer;
type Config = tf.serialization.ConfigDict;

/** The model's output for a training batch (dropout and batch statistics in training mode). */
export type TrainingForward = (x: tf.Tensor) => tf.Tensor;

/** A dropout's rate and the seed of the mask it draws now (native.dropoutMask's), or null: not foldable. */
export type DropoutMaskOf = (layer: tf.layers.Layer) => { rate: number; seed: number } | null;

export interface FusionOptions {
  /**
   * Dropout layers that directly follow a convolution block and whose mask the fused op can draw itself
   * (the layer's own mask must be native.dropoutMask(seed, rate) over its input's elements).
   */
  dropoutMaskOf?: DropoutMaskOf;
}

interface Stage {
  /** Layers this stage covers (the last one's output is the stage's). */
  layers: number;
  run(inputs: tf.Tensor[], isModelInput: boolean): tf.Tensor;
}

function weightNamed(layer: Layer, suffix: string): tf.LayerVariable {
  const found = layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`));
  if (!found) throw new Error(`layer ${layer.name} has no weight ${suffix}`);
  return found;
}

function same(value: unknown, ...options: unknown[]): boolean {
  return options.some((o) => JSON.stringify(o) === JSON.stringify(value));
}

function fusableConvBlock(layers: readonly Layer[]): boolean {
  if (layers.length < 4) return false;
  const [conv, bn, relu, pool] = layers;
  if (conv.getClassName() !== 'Conv2D' || bn.getClassName() !== 'BatchNormalization' || relu.getClassName() !== 'ReLU' ||
    pool.getClassName() !== 'MaxPooling2D') return false;
  const c: Config = conv.getConfig();
  const b: Config = bn.getConfig();
  const r: Config = relu.getConfig();
  const p: Config = pool.getConfig();
  return same(c.strides, [1, 1], 1) && same(c.dilationRate, [1, 1], 1) && c.useBias === false &&
    (c.activation === 'linear' || c.activation == null) && (c.padding === 'same' || c.padding === 'valid') &&
    c.dataFormat === 'channelsLast' &&
    (b.axis === -1 || b.axis === 3) && b.center === true && b.scale === true &&
    (r.maxValue == null) &&
    p.padding === 'valid' && p.dataFormat === 'channelsLast' && same(p.poolSize, p.strides);
}

/** Training (batch statistics, dropout, gradients) or inference (moving statistics, no gradients). */
type Mode = 'training' | 'inference';

function convBlockStage(layers: readonly Layer[], dropoutMaskOf: DropoutMaskOf | null, mode: Mode): Stage {
  const [conv, bn] = layers;
  const dropoutLayer = dropoutMaskOf ? layers[4] : undefined;
  const c = conv.getConfig();
  const b = bn.getConfig();
  const p = layers[3].getConfig();
  const poolSize = (Array.isArray(p.poolSize) ? p.poolSize : [p.poolSize, p.poolSize]) as [number, number];
  const kernel = weightNamed(conv, 'kernel');
  const gamma = weightNamed(bn, 'gamma');
  const beta = weightNamed(bn, 'beta');
  const movingMean = weightNamed(bn, 'moving_mean');
  const movingVariance = weightNamed(bn, 'moving_variance');
  const momentum = b.momentum as number;
  const workspace = new Workspace();
  return {
    layers: dropoutLayer ? 5 : 4,
    run([x], isModelInput) {
      if (mode === 'inference') {
        return convBlockInference(
          x as tf.Tensor4D, kernel.read() as tf.Tensor4D, gamma.read() as tf.Tensor1D, beta.read() as tf.Tensor1D,
          movingMean.read() as tf.Tensor1D, movingVariance.read() as tf.Tensor1D,
          { padding: c.padding as 'same' | 'valid', poolSize, epsilon: b.epsilon as number }, workspace,
        );
      }
      const dropout = dropoutLayer && dropoutMaskOf ? dropoutMaskOf(dropoutLayer) ?? undefined : undefined;
      const result = convBlock(
        x as tf.Tensor4D, kernel.read() as tf.Tensor4D, gamma.read() as tf.Tensor1D, beta.read() as tf.Tensor1D,
        { padding: c.padding as 'same' | 'valid', poolSize, epsilon: b.epsilon as number, inputGradient: !isModelInput, dropout },
        workspace,
      );
      updateMovingAverage(movingMean, result.batchMean, momentum);
      updateMovingAverage(movingVariance, result.batchVariance, momentum);
      return result.y;
    },
  };
}

/** moving - (moving - batch) * (1 - momentum), rounded to float32 at every step as tfjs's ops do. */
function updateMovingAverage(variable: tf.LayerVariable, batch: Float32Array, momentum: number): void {
  const decay = Math.fround(1 - momentum);
  const current = variable.read();
  const old = current.dataSync() as Float32Array;
  const next = new Float32Array(old.length);
  for (let i = 0; i < old.length; i++) next[i] = Math.fround(old[i] - Math.fround(Math.fround(old[i] - batch[i]) * decay));
  variable.write(tf.tensor(next, current.shape));
}

function lstmGates(config: Config): LstmGateActivation | null {
  if (config.activation !== 'tanh') return null;
  if (config.recurrentActivation === 'hardSigmoid' || config.recurrentActivation === 'sigmoid') return config.recurrentActivation;
  return null;
}

function fusableBidirectional(layer: Layer): boolean {
  if (layer.getClassName() !== 'Bidirectional') return false;
  const config = layer.getConfig();
  const inner = config.layer as { className: string; config: Config };
  const l = inner.config;
  return config.mergeMode === 'concat' && inner.className === 'LSTM' && lstmGates(l) !== null && !l.dropout && !l.recurrentDropout &&
    l.returnSequences === true && !l.returnState && !l.goBackwards && !l.stateful;
}

function bidirectionalStage(layer: Layer, mode: Mode): Stage {
  const inner = (layer.getConfig().layer as { config: Config }).config;
  const gates = lstmGates(inner) as LstmGateActivation;
  const direction = (which: 'forward' | 'backward') => {
    const weights = layer.weights.filter((w) => w.originalName.split('/').some((part) => part.startsWith(`${which}_`)));
    const named = (suffix: string) => weights.find((w) => w.originalName.endsWith(`/${suffix}`));
    const kernel = named('kernel');
    const recurrent = named('recurrent_kernel');
    if (!kernel || !recurrent) throw new Error(`layer ${layer.name} has no ${which} LSTM weights`);
    return { kernel, recurrent, bias: named('bias') ?? null };
  };
  const forward = direction('forward');
  const backward = direction('backward');
  const read = (d: typeof forward): LstmDirectionTensors => ({
    kernel: d.kernel.read() as tf.Tensor2D, recurrent: d.recurrent.read() as tf.Tensor2D, bias: d.bias ? (d.bias.read() as tf.Tensor1D) : null,
  });
  const workspace = new Workspace();
  const op = mode === 'training' ? bidirectionalLstm : bidirectionalLstmInference;
  return { layers: 1, run: ([x]) => op(x as tf.Tensor3D, read(forward), read(backward), gates, workspace) };
}

function plainStage(layer: Layer, mode: Mode): Stage {
  const training = mode === 'training';
  return { layers: 1, run: (inputs) => layer.apply(inputs.length === 1 ? inputs[0] : inputs, { training }) as tf.Tensor };
}

/** The layers whose outputs a layer takes, when it is called once on whole outputs; else null. */
function producersOf(layer: Layer): Layer[] | null {
  const nodes = layer.inboundNodes;
  if (nodes.length !== 1 || nodes[0].nodeIndices.some((i) => i !== 0) || nodes[0].tensorIndices.some((i) => i !== 0)) return null;
  return nodes[0].inboundLayers;
}

/** Whether layers[i..i+n) run one after the other, each the only reader of the one before. */
function isRun(layers: readonly Layer[], i: number, n: number): boolean {
  for (let k = i + 1; k < i + n; k++) {
    const producers = producersOf(layers[k]);
    if (!producers || producers.length !== 1 || producers[0] !== layers[k - 1] || layers[k - 1].outboundNodes.length !== 1) return false;
  }
  return true;
}

interface PlannedStage {
  stage: Stage;
  /** The layers whose outputs the stage reads, and the layer whose output it produces. */
  inputs: Layer[];
  output: Layer;
}

/** A forward pass with the fused ops, and how many of each it uses. */
export interface FusedForward {
  forward: TrainingForward;
  convBlocks: number;
  recurrent: number;
}

/**
 * A training forward pass that runs the model's convolution blocks and bidirectional LSTMs as fused
 * ops, with the count of each; null when the model has nothing to fuse or a layer is shared or called
 * more than once (the layer-by-layer path handles those).
 */
export function fusedTrainingForward(model: tf.LayersModel, options: FusionOptions = {}): FusedForward | null {
  return planForward(model, 'training', options);
}

/** The same at inference (model.predict's result): moving statistics, dropout off, no gradients. */
export function fusedInferenceForward(model: tf.LayersModel): FusedForward | null {
  return planForward(model, 'inference', {});
}

function planForward(model: tf.LayersModel, mode: Mode, options: FusionOptions): FusedForward | null {
  const layers = model.layers;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || layers[0]?.getClassName() !== 'InputLayer') return null;
  const inputLayer = layers[0];
  const plan: PlannedStage[] = [];
  let convBlocks = 0;
  let recurrent = 0;
  for (let i = 1; i < layers.length;) {
    const inputs = producersOf(layers[i]);
    if (!inputs) return null;
    let stage: Stage;
    if (fusableConvBlock(layers.slice(i, i + 4)) && isRun(layers, i, 4)) {
      const next = layers[i + 4];
      const foldDropout = mode === 'training' && next !== undefined && options.dropoutMaskOf !== undefined &&
        options.dropoutMaskOf(next) !== null && isRun(layers, i, 5);
      stage = convBlockStage(layers.slice(i, i + (foldDropout ? 5 : 4)), foldDropout ? options.dropoutMaskOf ?? null : null, mode);
      convBlocks++;
    } else if (fusableBidirectional(layers[i])) {
      stage = bidirectionalStage(layers[i], mode);
      recurrent++;
    } else {
      stage = plainStage(layers[i], mode);
    }
    plan.push({ stage, inputs, output: layers[i + stage.layers - 1] });
    i += stage.layers;
  }
  const outputLayer = model.outputs[0].sourceLayer;
  if (convBlocks + recurrent === 0 || !plan.some((p) => p.output === outputLayer)) return null;
  const forward: TrainingForward = (input) => {
    const values = new Map<Layer, tf.Tensor>([[inputLayer, input]]);
    for (const { stage, inputs, output } of plan) {
      const args = inputs.map((layer) => {
        const value = values.get(layer);
        if (!value) throw new Error(`fused forward: ${layer.name} has not run before ${output.name}`);
        return value;
      });
      values.set(output, stage.run(args, inputs.length === 1 && inputs[0] === inputLayer));
    }
    return values.get(outputLayer) as tf.Tensor;
  };
  return { forward, convBlocks, recurrent };
}
