// Training kernels the TensorFlow.js wasm backend (4.22.0) does not register, composed from the wasm
// kernels it has, so the wasm fallback can train the Conv2D model. Registered once, on first use.
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type KernelInputs = Record<string, TensorInfo> | TensorInfo[];

interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

function runKernel(name: string, backend: WasmBackendLike, inputs: KernelInputs, attrs: Record<string, unknown>): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend: backend as unknown as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

/**
 * dW[kh, kw, ci, co] = sum over n, oh, ow of xPadded[n, oh*sh + kh*dh, ow*sw + kw*dw, ci] * dy[n, oh, ow, co]:
 * im2col (one strided slice of the padded input per filter tap, concatenated on channels), then one
 * matrix product [taps * Cin, N * OH * OW] x [N * OH * OW, Cout]. The transpose is explicit because the
 * wasm matmul is only fast without transposed operands.
 */
function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = (args.attrs ?? {}) as unknown as {
    strides: [number, number] | number;
    pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
  );
  const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: cin, outChannels: cout } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, bottom, left, right } = info.padInfo;
  const temporaries: TensorInfo[] = [];
  const keep = (t: TensorInfo) => {
    temporaries.push(t);
    return t;
  };
  try {
    const padded = keep(runKernel('PadV2', backend, { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }));
    const taps: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const begin = [0, i * dh, j * dw, 0];
        taps.push(keep(sh === 1 && sw === 1
          ? runKernel('Slice', backend, { x: padded }, { begin, size: [n, oh, ow, cin] })
          : runKernel('StridedSlice', backend, { x: padded }, {
            begin, end: [n, i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1, cin], strides: [1, sh, sw, 1],
            beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
          })));
      }
    }
    const columns = taps.length === 1 ? taps[0] : keep(runKernel('Concat', backend, taps, { axis: 3 }));
    const rows = n * oh * ow;
    const depth = kh * kw * cin;
    const flat = keep(runKernel('Reshape', backend, { x: columns }, { shape: [rows, depth] }));
    const transposed = keep(runKernel('Transpose', backend, { x: flat }, { perm: [1, 0] }));
    const a = keep(runKernel('Reshape', backend, { x: transposed }, { shape: [1, depth, rows] }));
    const b = keep(runKernel('Reshape', backend, { x: dy }, { shape: [1, rows, cout] }));
    const product = keep(runKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false }));
    const result = runKernel('Reshape', backend, { x: product }, { shape: [kh, kw, cin, cout] });
    return result;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

let registered = false;

/** Adds the missing training kernels to the wasm backend (idempotent). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc });
  }
  registered = true;
}
