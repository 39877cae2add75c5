// Elementwise ops, reductions and layout copies of the `native` backend. The tfjs cpu backend runs
// these as JS loops that compute a multi-index per element when shapes broadcast; in a training step
// of the seed model they took most of the time (batch-norm statistics and gradients, max-pool and
// ReLU gradients, the LSTM's reversed sequences and gate splits).
import * as tf from '@tensorflow/tfjs';

import { native } from '../native';
import { cpuKernel, cpuKernelOutputs, float32Values, outputArray, sizeOf, type KernelArgs, type NativeKernel, type TensorInfo } from './native-kernel-util';

type BinaryOpName = Parameters<typeof native.binaryOp>[0];

function binary(kernelName: string, op: BinaryOpName): NativeKernel {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const aValues = float32Values(args.backend, a);
    const bValues = float32Values(args.backend, b);
    if (!aValues || !bValues) return cpuKernel(kernelName, args);
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = outputArray(args.backend, sizeOf(shape));
    native.binaryOp(op, aValues, a.shape, bValues, b.shape, out);
    return args.backend.makeTensorInfo(shape, 'float32', out);
  };
}

function unary(kernelName: string, op: Parameters<typeof native.unaryOp>[0]): NativeKernel {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: TensorInfo };
    const values = float32Values(args.backend, x);
    if (!values) return cpuKernel(kernelName, args);
    const out = outputArray(args.backend, values.length);
    native.unaryOp(op, values, Number((args.attrs as { alpha?: number } | undefined)?.alpha ?? 0), out);
    return args.backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

function reduction(kernelName: 'Sum' | 'Mean'): NativeKernel {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: TensorInfo };
    const values = float32Values(args.backend, x);
    if (!values) return cpuKernel(kernelName, args);
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const [outShape, reduceShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const count = sizeOf(reduceShape);
    const out = outputArray(args.backend, sizeOf(outShape));
    native.reduceSum(values, x.shape, axes, kernelName === 'Mean' && count > 0 ? 1 / count : 1, out);
    const shape = keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    return args.backend.makeTensorInfo(shape, 'float32', out);
  };
}

function outputOf(args: KernelArgs, shape: number[], fill: (values: Float32Array, out: Float32Array) => void, kernelName: string) {
  const { x } = args.inputs as { x: TensorInfo };
  const values = float32Values(args.backend, x);
  if (!values) return cpuKernel(kernelName, args);
  const out = outputArray(args.backend, sizeOf(shape));
  fill(values, out);
  return args.backend.makeTensorInfo(shape, 'float32', out);
}

const tile: NativeKernel = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as unknown as { reps: number[] };
  const shape = x.shape.map((size, axis) => size * reps[axis]);
  return outputOf(args, shape, (values, out) => native.tile(values, x.shape, reps, out), 'Tile');
};

const reverse: NativeKernel = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { dims } = args.attrs as unknown as { dims: number | number[] };
  const axes = tf.util.parseAxisParam(dims, x.shape);
  return outputOf(args, x.shape, (values, out) => native.reverse(values, x.shape, axes, out), 'Reverse');
};

const transpose: NativeKernel = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as unknown as { perm: number[] };
  const shape = perm.map((axis) => x.shape[axis]);
  return outputOf(args, shape, (values, out) => native.transpose(values, x.shape, perm, out), 'Transpose');
};

const slice: NativeKernel = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const attrs = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size);
  tf.slice_util.assertParamsValid(x, begin, size);
  return outputOf(args, size, (values, out) => native.slice(values, x.shape, begin, size, out), 'Slice');
};

/** Slices of x along `axis`, one per entry of `sizes`, as new tensors. */
function sliceAlong(args: KernelArgs, x: TensorInfo, values: Float32Array, axis: number, sizes: number[]): TensorInfo[] {
  const begin = x.shape.map(() => 0);
  return sizes.map((splitSize) => {
    const size = [...x.shape];
    size[axis] = splitSize;
    const out = outputArray(args.backend, sizeOf(size));
    native.slice(values, x.shape, begin, size, out);
    begin[axis] += splitSize;
    return args.backend.makeTensorInfo(size, 'float32', out);
  });
}

/** Unpack (unstack): the LSTM's per-time-step inputs and gradients. */
const unpack: NativeKernel = (args) => {
  const { value } = args.inputs as { value: TensorInfo };
  const values = float32Values(args.backend, value);
  if (!values) return cpuKernelOutputs('Unpack', args);
  const axis = tf.util.parseAxisParam((args.attrs as { axis?: number } | undefined)?.axis ?? 0, value.shape)[0];
  const outShape = value.shape.filter((_, d) => d !== axis);
  return sliceAlong(args, value, values, axis, new Array<number>(value.shape[axis]).fill(1)).map((slice) => {
    // A reshape that drops the axis: same values, new shape.
    return { ...slice, shape: outShape };
  });
};

const splitV: NativeKernel = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const values = float32Values(args.backend, x);
  if (!values) return cpuKernelOutputs('SplitV', args);
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const splitAxis = tf.util.parseAxisParam(axis, x.shape)[0];
  return sliceAlong(args, x, values, splitAxis, tf.backend_util.prepareSplitSize(x, numOrSizeSplits, splitAxis));
};

/**
 * Inference-form batch norm, y = (x - mean) * scale / sqrt(variance + epsilon) + offset, as one
 * per-channel multiply and add when every parameter is a vector over the last axis.
 */
const fusedBatchNorm: NativeKernel = (args) => {
  const { x, mean, variance, offset, scale } = args.inputs as Record<'x' | 'mean' | 'variance', TensorInfo> & Partial<Record<'offset' | 'scale', TensorInfo>>;
  const channels = x.shape[x.shape.length - 1];
  const xValues = float32Values(args.backend, x);
  const params = [mean, variance, offset, scale].map((t) => (t ? float32Values(args.backend, t) : undefined));
  if (!xValues || x.shape.length === 0 || params.some((p) => p === null || (p !== undefined && p.length !== channels))) {
    return cpuKernel('FusedBatchNorm', args);
  }
  const [meanValues, varianceValues, offsetValues, scaleValues] = params as (Float32Array | undefined)[];
  const epsilon = Number((args.attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 0.001);
  const multiplier = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    multiplier[c] = (scaleValues?.[c] ?? 1) / Math.sqrt((varianceValues as Float32Array)[c] + epsilon);
    shift[c] = (offsetValues?.[c] ?? 0) - (meanValues as Float32Array)[c] * multiplier[c];
  }
  const out = outputArray(args.backend, xValues.length);
  native.binaryOp('mul', xValues, x.shape, multiplier, [channels], out);
  native.binaryOp('add', out, x.shape, shift, [channels], out);
  return args.backend.makeTensorInfo(x.shape, 'float32', out);
};

export const ARRAY_KERNELS: Readonly<Record<string, NativeKernel>> = {
  Add: binary('Add', 'add'),
  Sub: binary('Sub', 'sub'),
  Multiply: binary('Multiply', 'mul'),
  RealDiv: binary('RealDiv', 'div'),
  Maximum: binary('Maximum', 'maximum'),
  Minimum: binary('Minimum', 'minimum'),
  SquaredDifference: binary('SquaredDifference', 'squaredDifference'),
  Relu: unary('Relu', 'relu'),
  Step: unary('Step', 'step'),
  Floor: unary('Floor', 'floor'),
  Square: unary('Square', 'square'),
  Tanh: unary('Tanh', 'tanh'),
  Sum: reduction('Sum'),
  Mean: reduction('Mean'),
  Tile: tile,
  Reverse: reverse,
  Transpose: transpose,
  Slice: slice,
  SplitV: splitV,
  Unpack: unpack,
  FusedBatchNorm: fusedBatchNorm,
};
