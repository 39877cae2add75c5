// Whole-layer training ops of the `native` backend: a convolution block (Conv2D -> batch norm on the
// batch -> ReLU -> max pool) and a bidirectional LSTM over the whole sequence, each one addon call
// forward and one backward. They enter tfjs's autodiff through tf.customGrad, so optimizer.minimize
// sees ordinary gradients of ordinary variables; what the forward pass keeps for the backward pass
// lives in a workspace reused from step to step.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { native } from '../native';
import type { ConvBlockShape, LstmGateActivation, LstmShape, LstmWeights } from '../native';
import { float32Values, outputArray } from './native-kernel-util';
import { geometryOf } from './native-kernels';

/** A Float32Array kept across steps, grown when a larger batch needs more. */
export class Workspace {
  private array = new Float32Array(0);

  get(length: number): Float32Array {
    if (this.array.length < length) this.array = new Float32Array(length);
    return this.array.length === length ? this.array : this.array.subarray(0, length);
  }
}

function currentBackend(): MathBackendCPU {
  return tf.backend() as MathBackendCPU;
}

/** The float32 values of a tensor held by the native (cpu-layout) backend. */
function valuesOf(tensor: tf.Tensor, what: string): Float32Array {
  const values = float32Values(currentBackend(), tensor);
  if (!values) throw new Error(`fused op: ${what} is not a float32 tensor of the native backend`);
  return values;
}

function newOutput(length: number): Float32Array {
  return outputArray(currentBackend(), length);
}

export interface ConvBlockOptions {
  /** 'same' or 'valid', as the Conv2D layer's padding. */
  padding: 'same' | 'valid';
  poolSize: [number, number];
  epsilon: number;
  /** False when the block's input needs no gradient (the model's input). */
  inputGradient: boolean;
  /** A dropout on the block's output, folded in: its rate and mask seed (the mask native.dropoutMask draws). */
  dropout?: { rate: number; seed: number };
}

export interface ConvBlockResult {
  y: tf.Tensor4D;
  /** The batch's per-channel mean and (biased) variance: what the moving averages follow. */
  batchMean: Float32Array;
  batchVariance: Float32Array;
}

export function convBlockShape(xShape: readonly number[], filterShape: readonly number[], options: ConvBlockOptions): ConvBlockShape {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    [1, 1], [1, 1], options.padding, undefined, false, 'channelsLast',
  );
  return {
    conv: geometryOf(info), poolHeight: options.poolSize[0], poolWidth: options.poolSize[1], epsilon: options.epsilon,
    dropoutRate: options.dropout?.rate ?? 0, dropoutSeed: options.dropout?.seed ?? 0,
  };
}

/** Conv2D (no bias) -> BatchNormalization (training) -> ReLU -> MaxPooling2D, fused. */
export function convBlock(
  x: tf.Tensor4D, filter: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, options: ConvBlockOptions, workspace: Workspace,
): ConvBlockResult {
  const block = convBlockShape(x.shape, filter.shape, options);
  const channels = block.conv.outChannels;
  const outShape: [number, number, number, number] = [
    block.conv.batch, Math.floor(block.conv.outHeight / block.poolHeight), Math.floor(block.conv.outWidth / block.poolWidth), channels,
  ];
  const batchMean = new Float32Array(channels);
  const batchVariance = new Float32Array(channels);
  const run = (filterT: tf.Tensor, gammaT: tf.Tensor, betaT: tf.Tensor, xT: tf.Tensor) => {
    const xValues = valuesOf(xT, 'x');
    const filterValues = valuesOf(filterT, 'filter');
    const gammaValues = valuesOf(gammaT, 'gamma');
    const betaValues = valuesOf(betaT, 'beta');
    const work = workspace.get(native.convBlockWorkspaceFloats(block));
    const y = newOutput(outShape.reduce((a, b) => a * b, 1));
    native.convBlockForward(block, xValues, filterValues, gammaValues, betaValues, y, batchMean, batchVariance, work);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const dFilter = newOutput(filterValues.length);
      const dGamma = newOutput(channels);
      const dBeta = newOutput(channels);
      const dx = options.inputGradient ? newOutput(xValues.length) : null;
      native.convBlockBackward(
        block, xValues, filterValues, gammaValues, batchMean, batchVariance, work, valuesOf(dy, 'dy'),
        dx, dFilter, dGamma, dBeta,
      );
      const grads = [tf.tensor(dFilter, filterT.shape), tf.tensor(dGamma, gammaT.shape), tf.tensor(dBeta, betaT.shape)];
      if (dx) grads.push(tf.tensor(dx, xT.shape));
      return grads;
    };
    return { value: tf.tensor(y, outShape), gradFunc };
  };
  const y = options.inputGradient
    ? tf.customGrad((filterT, gammaT, betaT, xT) => run(filterT as tf.Tensor, gammaT as tf.Tensor, betaT as tf.Tensor, xT as tf.Tensor))(filter, gamma, beta, x)
    : tf.customGrad((filterT, gammaT, betaT) => run(filterT as tf.Tensor, gammaT as tf.Tensor, betaT as tf.Tensor, x))(filter, gamma, beta);
  return { y: y as tf.Tensor4D, batchMean, batchVariance };
}

/** The same block at inference: batch norm with the moving statistics, no dropout, no gradient. */
export function convBlockInference(
  x: tf.Tensor4D, filter: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, movingMean: tf.Tensor1D, movingVariance: tf.Tensor1D,
  options: Pick<ConvBlockOptions, 'padding' | 'poolSize' | 'epsilon'>, workspace: Workspace,
): tf.Tensor4D {
  const block = convBlockShape(x.shape, filter.shape, { ...options, inputGradient: false });
  const outShape: [number, number, number, number] = [
    block.conv.batch, Math.floor(block.conv.outHeight / block.poolHeight), Math.floor(block.conv.outWidth / block.poolWidth), block.conv.outChannels,
  ];
  const y = newOutput(outShape.reduce((a, b) => a * b, 1));
  native.convBlockInfer(
    block, valuesOf(x, 'x'), valuesOf(filter, 'filter'), valuesOf(gamma, 'gamma'), valuesOf(beta, 'beta'),
    valuesOf(movingMean, 'moving mean'), valuesOf(movingVariance, 'moving variance'), y, workspace.get(native.convBlockWorkspaceFloats(block)),
  );
  return tf.tensor(y, outShape) as tf.Tensor4D;
}

export interface LstmDirectionTensors {
  kernel: tf.Tensor2D;
  recurrent: tf.Tensor2D;
  bias: tf.Tensor1D | null;
}

function lstmShapeOf(x: tf.Tensor3D, forward: LstmDirectionTensors, gates: LstmGateActivation): LstmShape {
  const [batch, steps, inputSize] = x.shape;
  return { batch, steps, inputSize, units: forward.recurrent.shape[0], gates };
}

/** A bidirectional LSTM (concat merge, sequences returned, zero initial state) over x [batch, steps, features]. */
export function bidirectionalLstm(
  x: tf.Tensor3D, forward: LstmDirectionTensors, backward: LstmDirectionTensors, gates: LstmGateActivation, workspace: Workspace,
): tf.Tensor3D {
  const shape = lstmShapeOf(x, forward, gates);
  const { batch, steps, units } = shape;
  const hasBias = forward.bias !== null;
  if ((backward.bias !== null) !== hasBias) throw new Error('fused LSTM: both directions must have a bias, or neither');
  const weightTensors = [forward.kernel, forward.recurrent, ...(hasBias ? [forward.bias as tf.Tensor] : []),
    backward.kernel, backward.recurrent, ...(hasBias ? [backward.bias as tf.Tensor] : [])];
  const per = hasBias ? 3 : 2;
  const weightsOf = (tensors: tf.Tensor[], offset: number): LstmWeights => ({
    kernel: valuesOf(tensors[offset], 'kernel'),
    recurrent: valuesOf(tensors[offset + 1], 'recurrent kernel'),
    bias: hasBias ? valuesOf(tensors[offset + 2], 'bias') : null,
  });
  const gradientsOf = (tensors: tf.Tensor[], offset: number): LstmWeights => ({
    kernel: newOutput(tensors[offset].size),
    recurrent: newOutput(tensors[offset + 1].size),
    bias: hasBias ? newOutput(tensors[offset + 2].size) : null,
  });
  const op = tf.customGrad((...args) => {
    const tensors = args.slice(0, 1 + 2 * per) as tf.Tensor[];
    const xValues = valuesOf(tensors[0], 'x');
    const weightForward = weightsOf(tensors, 1);
    const weightBackward = weightsOf(tensors, 1 + per);
    const work = workspace.get(native.bilstmWorkspaceFloats(shape));
    const y = newOutput(batch * steps * 2 * units);
    native.bilstmForward(shape, xValues, weightForward, weightBackward, y, work);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const dx = newOutput(xValues.length);
      const dForward = gradientsOf(tensors, 1);
      const dBackward = gradientsOf(tensors, 1 + per);
      native.bilstmBackward(shape, weightForward, weightBackward, work, valuesOf(dy, 'dy'), dx, dForward, dBackward);
      const grads = [tf.tensor(dx, tensors[0].shape)];
      for (const [offset, g] of [[1, dForward], [1 + per, dBackward]] as const) {
        grads.push(tf.tensor(g.kernel, tensors[offset].shape), tf.tensor(g.recurrent, tensors[offset + 1].shape));
        if (g.bias) grads.push(tf.tensor(g.bias, tensors[offset + 2].shape));
      }
      return grads;
    };
    return { value: tf.tensor(y, [batch, steps, 2 * units]), gradFunc };
  });
  return op(x, ...weightTensors) as tf.Tensor3D;
}

/** The bidirectional LSTM's forward pass alone (inference: nothing kept, no gradient). */
export function bidirectionalLstmInference(
  x: tf.Tensor3D, forward: LstmDirectionTensors, backward: LstmDirectionTensors, gates: LstmGateActivation, workspace: Workspace,
): tf.Tensor3D {
  const shape = lstmShapeOf(x, forward, gates);
  const { batch, steps, units } = shape;
  const weights = (d: LstmDirectionTensors): LstmWeights => ({
    kernel: valuesOf(d.kernel, 'kernel'), recurrent: valuesOf(d.recurrent, 'recurrent kernel'), bias: d.bias ? valuesOf(d.bias, 'bias') : null,
  });
  const y = newOutput(batch * steps * 2 * units);
  native.bilstmForward(shape, valuesOf(x, 'x'), weights(forward), weights(backward), y, workspace.get(native.bilstmWorkspaceFloats(shape)));
  return tf.tensor(y, [batch, steps, 2 * units]) as tf.Tensor3D;
}
