// The kernels the `native` backend takes from the addon instead of the tfjs cpu backend's JS loops:
// matrix products, convolutions and max pooling here, elementwise ops, reductions and copies in
// native-array-kernels.ts. Each reads the Float32Array the cpu data store already holds, allocates its
// output once and hands it to the data store without a copy. Shapes or dtypes a kernel does not cover
// go to the cpu kernel.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { native } from '../native';
import type { Conv2DGeometry } from '../native';
import { ARRAY_KERNELS } from './native-array-kernels';
import { cpuKernel, float32Values, outputArray, sizeOf, type KernelArgs, type NativeKernel, type TensorInfo } from './native-kernel-util';

type Conv2DInfo = tf.backend_util.Conv2DInfo;
type Padding = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

// --- matrix products ---------------------------------------------------------------------------------

interface MatMulInputs { a: TensorInfo; b: TensorInfo }
interface MatMulAttrs { transposeA: boolean; transposeB: boolean }

/**
 * op(a) x op(b) over the leading (batch) dimensions. Batch dimensions must be equal or one side must
 * have a single matrix (what layers and gradients produce); other broadcasts return null.
 */
function nativeMatMul(backend: MathBackendCPU, { a, b }: MatMulInputs, { transposeA, transposeB }: MatMulAttrs): TensorInfo | null {
  const aValues = float32Values(backend, a);
  const bValues = float32Values(backend, b);
  if (!aValues || !bValues || a.shape.length < 2 || b.shape.length < 2) return null;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const m = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
  const k = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
  const kB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
  const n = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
  if (k !== kB) {
    throw new Error(`Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
      `and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const aBatch = sizeOf(aOuter);
  const bBatch = sizeOf(bOuter);
  let outOuter: number[];
  if (aBatch === bBatch && aOuter.length === bOuter.length && aOuter.every((d, i) => d === bOuter[i])) outOuter = aOuter;
  else if (bBatch === 1 && aOuter.length >= bOuter.length) outOuter = aOuter;
  else if (aBatch === 1 && bOuter.length >= aOuter.length) outOuter = bOuter;
  else return null;
  const batch = Math.max(aBatch, bBatch);
  const out = outputArray(backend, batch * m * n);
  native.matMul(aValues, bValues, out, batch, m, n, k, transposeA, transposeB);
  return backend.makeTensorInfo([...outOuter, m, n], 'float32', out);
}

const batchMatMul: NativeKernel = (args) => {
  return nativeMatMul(args.backend, args.inputs as unknown as MatMulInputs, args.attrs as unknown as MatMulAttrs)
    ?? cpuKernel('BatchMatMul', args);
};

const ACTIVATION_KERNELS: Record<string, string> = {
  relu: 'Relu', relu6: 'Relu6', elu: 'Elu', sigmoid: 'Sigmoid', leakyrelu: 'LeakyRelu', prelu: 'Prelu',
};

/** Bias add and activation of the fused kernels, by the backend's own Add and activation kernels. */
function biasAndActivation(
  args: KernelArgs, product: TensorInfo, bias: TensorInfo | undefined, activation: string | undefined,
  preluWeights: TensorInfo | undefined, leakyreluAlpha: number | undefined,
): TensorInfo {
  let current = product;
  const step = (next: TensorInfo) => {
    args.backend.disposeIntermediateTensorInfo(current);
    current = next;
  };
  if (bias) step(cpuKernel('Add', { backend: args.backend, inputs: { a: current, b: bias } }));
  if (activation && activation !== 'linear') {
    const name = ACTIVATION_KERNELS[activation];
    if (!name) throw new Error(`unsupported fused activation ${activation}`);
    const inputs: tf.NamedTensorInfoMap = name === 'Prelu' ? { x: current, alpha: preluWeights as TensorInfo } : { x: current };
    const attrs: tf.NamedAttrMap = name === 'LeakyRelu' ? { alpha: leakyreluAlpha ?? 0.2 } : {};
    step(cpuKernel(name, { backend: args.backend, inputs, attrs }));
  }
  return current;
}

const fusedMatMul: NativeKernel = (args) => {
  const { a, b, bias, preluActivationWeights } = args.inputs as unknown as MatMulInputs & { bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const attrs = args.attrs as unknown as MatMulAttrs & { activation?: string; leakyreluAlpha?: number };
  const product = nativeMatMul(args.backend, { a, b }, attrs);
  if (!product) return cpuKernel('_FusedMatMul', args);
  return biasAndActivation(args, product, bias, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha);
};

// --- convolutions ------------------------------------------------------------------------------------

interface ConvAttrs {
  strides: number | [number, number];
  pad: Padding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: RoundingMode;
}

export function geometryOf(info: Conv2DInfo): Conv2DGeometry {
  return {
    batch: info.batchSize, inHeight: info.inHeight, inWidth: info.inWidth, inChannels: info.inChannels,
    outHeight: info.outHeight, outWidth: info.outWidth, outChannels: info.outChannels,
    filterHeight: info.filterHeight, filterWidth: info.filterWidth,
    strideHeight: info.strideHeight, strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight, dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

function convInfo(inShape: readonly number[], filterShape: readonly number[], attrs: ConvAttrs, dilations: number | [number, number]): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inShape as Shape4, filterShape as Shape4, attrs.strides, dilations, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
}

/** y = conv2d(x, filter) on the addon, or null when the layout or dtype is not ours. */
function nativeConv2D(backend: MathBackendCPU, x: TensorInfo, filter: TensorInfo, attrs: ConvAttrs): TensorInfo | null {
  const xValues = float32Values(backend, x);
  const filterValues = float32Values(backend, filter);
  if (!xValues || !filterValues || attrs.dataFormat === 'NCHW' || x.shape.length !== 4) return null;
  const info = convInfo(x.shape, filter.shape, attrs, attrs.dilations ?? 1);
  const y = outputArray(backend, sizeOf(info.outShape));
  native.conv2d(xValues, filterValues, y, geometryOf(info));
  return backend.makeTensorInfo(info.outShape, 'float32', y);
}

const conv2D: NativeKernel = (args) => {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  return nativeConv2D(args.backend, x, filter, args.attrs as unknown as ConvAttrs) ?? cpuKernel('Conv2D', args);
};

const fusedConv2D: NativeKernel = (args) => {
  const { x, filter, bias, preluActivationWeights } = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { activation?: string; leakyreluAlpha?: number };
  const product = nativeConv2D(args.backend, x, filter, attrs);
  if (!product) return cpuKernel('FusedConv2D', args);
  return biasAndActivation(args, product, bias, attrs.activation, preluActivationWeights, attrs.leakyreluAlpha);
};

const conv2DBackpropInput: NativeKernel = (args) => {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  const dyValues = float32Values(args.backend, dy);
  const filterValues = float32Values(args.backend, filter);
  if (!dyValues || !filterValues || attrs.dataFormat === 'NCHW') return cpuKernel('Conv2DBackpropInput', args);
  const info = convInfo(attrs.inputShape, filter.shape, attrs, 1);
  const dx = outputArray(args.backend, sizeOf(info.inShape));
  native.conv2dBackpropInput(dyValues, filterValues, dx, geometryOf(info));
  return args.backend.makeTensorInfo(info.inShape, 'float32', dx);
};

const conv2DBackpropFilter: NativeKernel = (args) => {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  const xValues = float32Values(args.backend, x);
  const dyValues = float32Values(args.backend, dy);
  if (!xValues || !dyValues || attrs.dataFormat === 'NCHW') return cpuKernel('Conv2DBackpropFilter', args);
  const info = convInfo(x.shape, attrs.filterShape, attrs, 1);
  const dFilter = outputArray(args.backend, sizeOf(attrs.filterShape));
  native.conv2dBackpropFilter(xValues, dyValues, dFilter, geometryOf(info));
  return args.backend.makeTensorInfo(attrs.filterShape, 'float32', dFilter);
};

// --- max pooling -----------------------------------------------------------------------------------

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Padding;
  dimRoundingMode?: RoundingMode;
}

function poolGeometry(inShape: readonly number[], attrs: PoolAttrs) {
  const info = tf.backend_util.computePool2DInfo(inShape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return {
    info,
    geometry: {
      batch: info.batchSize, inHeight: info.inHeight, inWidth: info.inWidth, channels: info.inChannels,
      outHeight: info.outHeight, outWidth: info.outWidth, filterHeight: info.filterHeight, filterWidth: info.filterWidth,
      strideHeight: info.strideHeight, strideWidth: info.strideWidth,
      dilationHeight: info.dilationHeight, dilationWidth: info.dilationWidth,
      padTop: info.padInfo.top, padLeft: info.padInfo.left,
    },
  };
}

const maxPool: NativeKernel = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const xValues = float32Values(args.backend, x);
  if (!xValues || x.shape.length !== 4) return cpuKernel('MaxPool', args);
  const { info, geometry } = poolGeometry(x.shape, args.attrs as unknown as PoolAttrs);
  const y = outputArray(args.backend, sizeOf(info.outShape));
  native.maxPool(xValues, y, geometry);
  return args.backend.makeTensorInfo(info.outShape, 'float32', y);
};

const maxPoolGrad: NativeKernel = (args) => {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const dyValues = float32Values(args.backend, dy);
  const xValues = float32Values(args.backend, input);
  if (!dyValues || !xValues || input.shape.length !== 4) return cpuKernel('MaxPoolGrad', args);
  const { geometry } = poolGeometry(input.shape, args.attrs as unknown as PoolAttrs);
  const dx = outputArray(args.backend, sizeOf(input.shape));
  native.maxPoolBackprop(dyValues, xValues, dx, geometry);
  return args.backend.makeTensorInfo(input.shape, 'float32', dx);
};

/** Kernel name -> the addon-backed replacement of the cpu backend's kernel. */
export const NATIVE_KERNELS: Readonly<Record<string, NativeKernel>> = {
  ...ARRAY_KERNELS,
  MaxPool: maxPool,
  MaxPoolGrad: maxPoolGrad,
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  Conv2D: conv2D,
  FusedConv2D: fusedConv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
};
