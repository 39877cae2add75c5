// The `native` backend against the tfjs cpu backend: every kernel it replaces, on random and edge
// shapes (batch 1, odd sizes, strides, dilation, same/valid padding, broadcasting, ties), within 1e-4 of
// the largest reference value (copies exactly); that the addon really ran; a few training steps of the
// same model ending close on both; freed buffers reused only when nothing can see them.
import * as tf from '@tensorflow/tfjs';

import { native } from '../src/native';
import { nativeKernelNames, selectBackend } from '../src/backend';
import { buildModel } from '../src/train/model';

type NativeFunction = 'matMul' | 'conv2d' | 'conv2dBackpropInput' | 'conv2dBackpropFilter' | 'binaryOp' | 'unaryOp' |
  'reduceSum' | 'maxPool' | 'maxPoolBackprop' | 'slice' | 'tile' | 'reverse' | 'transpose';

/** Deterministic inputs, independent of either backend's random ops. */
function values(shape: number[], seed: number, integers = false): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let state = seed * 2654435761 % 4294967296 || 1;
  for (let i = 0; i < out.length; i++) {
    state = (state * 1664525 + 1013904223) % 4294967296;
    const u = state / 4294967296;
    out[i] = integers ? Math.floor(u * 4) : u * 4 - 2;
  }
  return out;
}

function input(shape: number[], seed: number, integers = false): tf.Tensor {
  return tf.tensor(values(shape, seed, integers), shape);
}

/** Runs `compute` on cpu, then on native, and returns both outputs flattened in order. */
async function onBoth(compute: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Float32Array[]; native: Float32Array[]; shapes: number[][] }> {
  const run = () => tf.tidy(() => {
    const result = compute();
    const list = Array.isArray(result) ? result : [result];
    return { data: list.map((t) => Float32Array.from(t.dataSync())), shapes: list.map((t) => t.shape) };
  });
  await selectBackend('cpu');
  const cpu = run();
  await selectBackend('native');
  const nat = run();
  expect(nat.shapes).toEqual(cpu.shapes);
  return { cpu: cpu.data, native: nat.data, shapes: cpu.shapes };
}

function expectClose(actual: Float32Array[], expected: Float32Array[], tolerance = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((reference, i) => {
    expect(actual[i].length).toBe(reference.length);
    let scale = 0;
    let worst = 0;
    reference.forEach((v, k) => {
      scale = Math.max(scale, Math.abs(v));
      const d = Math.abs(actual[i][k] - v);
      worst = Math.max(worst, Number.isNaN(d) ? (Number.isNaN(v) && Number.isNaN(actual[i][k]) ? 0 : Infinity) : d);
    });
    expect(worst).toBeLessThanOrEqual(tolerance * Math.max(scale, 1e-30));
  });
}

/** Compares cpu and native and checks the native run called `used` in the addon. */
async function check(used: NativeFunction[], compute: () => tf.Tensor | tf.Tensor[], exact = false): Promise<void> {
  const spies = used.map((name) => jest.spyOn(native, name));
  try {
    const { cpu, native: nat } = await onBoth(compute);
    if (exact) expect(nat).toEqual(cpu);
    else expectClose(nat, cpu);
    for (const spy of spies) expect(spy).toHaveBeenCalled();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

afterAll(async () => {
  await selectBackend('cpu');
});

describe('matrix products', () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[1, 1], [1, 1], false, false],
    [[7, 13], [13, 5], false, false],
    [[13, 7], [13, 5], true, false],
    [[7, 13], [5, 13], false, true],
    [[13, 7], [5, 13], true, true],
    [[3, 4, 37], [3, 37, 70], false, false],
    [[3, 4, 37], [37, 70], false, false],
    [[1, 37, 4], [3, 70, 37], true, true],
    [[2, 33, 300], [2, 300, 45], false, false],
  ];
  test.each(cases)('%j x %j (transposeA %s, transposeB %s)', async (a, b, ta, tb) => {
    await check(['matMul'], () => tf.matMul(input(a, 1), input(b, 2), ta, tb));
  });

  test('fused with bias and activation', async () => {
    for (const activation of ['relu', 'sigmoid', 'linear', 'elu'] as const) {
      await check(['matMul'], () => tf.fused.matMul({ a: input([9, 17], 3), b: input([17, 6], 4), bias: input([6], 5), activation }));
    }
  });

  test('gradients of a product', async () => {
    await check(['matMul'], () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.sin(tf.matMul(a, b))))([input([8, 11], 6), input([11, 3], 7)]));
  });
});

describe('convolutions', () => {
  interface Case { x: number[]; filter: number[]; strides: number | [number, number]; pad: 'same' | 'valid' }
  const cases: Case[] = [
    { x: [1, 7, 5, 1], filter: [3, 3, 1, 2], strides: 1, pad: 'same' },
    { x: [3, 12, 9, 4], filter: [3, 3, 4, 6], strides: 1, pad: 'same' },
    { x: [2, 11, 13, 3], filter: [3, 2, 3, 5], strides: 1, pad: 'valid' },
    { x: [2, 15, 10, 2], filter: [3, 3, 2, 4], strides: 2, pad: 'same' },
    { x: [1, 9, 8, 3], filter: [2, 3, 3, 2], strides: [2, 1], pad: 'valid' },
    { x: [2, 5, 4, 3], filter: [1, 1, 3, 7], strides: 1, pad: 'valid' },
    { x: [1, 4, 3, 2], filter: [5, 5, 2, 3], strides: 3, pad: 'same' },
    { x: [4, 30, 8, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
    // One input channel and outputs in multiples of 8: the direct (no im2col) kernels.
    { x: [2, 9, 7, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'same' },
    { x: [3, 11, 6, 1], filter: [5, 5, 1, 16], strides: 1, pad: 'valid' },
    { x: [1, 6, 9, 1], filter: [2, 3, 1, 8], strides: 1, pad: 'same' },
  ];
  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('%s: output and both gradients', async (_name, c) => {
    await check(['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'], () => {
      const loss = (x: tf.Tensor, w: tf.Tensor) => {
        const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad);
        return tf.sum(tf.mul(y, tf.sin(y)));
      };
      const x = input(c.x, 11);
      const w = input(c.filter, 12);
      return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), ...tf.grads(loss)([x, w])];
    });
  });

  test('dilated (tfjs has no gradient for dilations above 1)', async () => {
    await check(['conv2d'], () => tf.conv2d(input([2, 10, 9, 3], 16) as tf.Tensor4D, input([3, 3, 3, 4], 17) as tf.Tensor4D, 1, 'same', 'NHWC', 2));
  });

  test('fused with bias and ReLU', async () => {
    await check(['conv2d'], () => tf.fused.conv2d({
      x: input([2, 9, 7, 3], 13) as tf.Tensor4D, filter: input([3, 3, 3, 4], 14) as tf.Tensor4D, strides: 1, pad: 'same',
      bias: input([4], 15), activation: 'relu',
    }));
  });
});

describe('max pooling', () => {
  interface Case { x: number[]; size: number | [number, number]; strides: number | [number, number]; pad: 'same' | 'valid'; ties?: boolean }
  const cases: Case[] = [
    { x: [1, 5, 7, 3], size: 2, strides: 2, pad: 'valid' },
    { x: [2, 9, 9, 4], size: 3, strides: 2, pad: 'same' },
    { x: [2, 6, 7, 2], size: 3, strides: 1, pad: 'same' },
    { x: [1, 7, 8, 3], size: [2, 3], strides: [2, 1], pad: 'same' },
    { x: [3, 301, 40, 5], size: 2, strides: 2, pad: 'valid' },
    // Few distinct values: ties in most windows, as after a ReLU; the gradient must pick the same element.
    { x: [2, 8, 8, 3], size: 2, strides: 2, pad: 'valid', ties: true },
    { x: [2, 7, 7, 3], size: 3, strides: 2, pad: 'same', ties: true },
  ];
  test.each(cases.map((c) => [JSON.stringify(c), c] as const))('%s: output and gradient', async (_name, c) => {
    await check(['maxPool', 'maxPoolBackprop'], () => {
      const x = input(c.x, 21, c.ties);
      const pool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.size, c.strides, c.pad);
      return [pool(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pool(t), input(pool(x).shape, 22))))(x)];
    });
  });
});

describe('elementwise', () => {
  const pairs: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[5], []], [[], [5]],
    [[1, 1, 1, 3], [2, 4, 5, 3]], [[4, 1, 5], [1, 6, 1]], [[32, 1, 224], [32, 37, 224]],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div], ['maximum', tf.maximum], ['minimum', tf.minimum],
    ['squaredDifference', tf.squaredDifference],
  ];
  test.each(ops)('%s with broadcasting', async (_name, op) => {
    for (const [a, b] of pairs) await check(['binaryOp'], () => op(input(a, 31), input(b, 32)));
  });

  test('relu, its gradient, floor and square', async () => {
    await check(['unaryOp'], () => {
      const x = input([3, 17, 5], 33);
      return [tf.relu(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), x)))(x), tf.floor(x), tf.square(x)];
    }, true);
  });

  test('tanh and its gradient', async () => {
    await check(['unaryOp'], () => {
      const x = tf.mul(input([4, 37, 128], 39), 3);
      return [tf.tanh(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tanh(t), x)))(x)];
    });
  });

  test('tanh is within 1 ulp of the correctly rounded value, keeps the sign of zero and NaN, saturates to 1', () => {
    const n = 400_001;
    const x = new Float32Array(n + 9);
    for (let i = 0; i < n; i++) x[i] = -12 + (24 * i) / (n - 1);
    x.set([0, -0, 1e-30, 0.625, -0.625, 44, 1e30, -Infinity, NaN], n);
    const y = new Float32Array(x.length);
    native.unaryOp('tanh', x, 0, y);
    // Distance in units in the last place: float bit patterns of the same sign are ordered.
    const bits = new Int32Array(new Float32Array(2).buffer);
    const view = new Float32Array(bits.buffer);
    let worstUlps = 0;
    for (let i = 0; i < n; i++) {
      view[0] = y[i];
      view[1] = Math.fround(Math.tanh(x[i]));
      worstUlps = Math.max(worstUlps, Math.abs(bits[0] - bits[1]));
    }
    expect(worstUlps).toBeLessThanOrEqual(1);
    const tail = Array.from(y.subarray(n));
    expect(tail.slice(0, 3)).toEqual([0, -0, 1e-30].map(Math.fround));
    expect(Object.is(tail[1], -0)).toBe(true);
    expect(tail[3]).toBeCloseTo(Math.tanh(0.625), 7);
    expect(tail[4]).toBeCloseTo(-Math.tanh(0.625), 7);
    expect(tail.slice(5, 8)).toEqual([1, 1, -1]);
    expect(Number.isNaN(tail[8])).toBe(true);
  });

  test('batch norm with and without scale and offset', async () => {
    await check(['binaryOp'], () => {
      const x = input([2, 3, 4, 5], 34);
      const variance = tf.abs(input([5], 36));
      return [
        tf.batchNorm(x, input([5], 35), variance, input([5], 37), input([5], 38), 1e-3),
        tf.batchNorm(x, input([5], 35), variance, undefined, undefined, 1e-3),
      ];
    });
  });

  test('int32 inputs fall back to the cpu kernels', async () => {
    const { cpu, native: nat } = await onBoth(() => tf.cast(tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([4], [1], 'int32')), 'float32'));
    expect(nat).toEqual(cpu);
    expect(Array.from(nat[0])).toEqual([5, 6, 7]);
  });
});

describe('reductions', () => {
  const axesCases: (number | number[] | null)[] = [null, 0, 1, -1, [0, 2], [1, 2], [0, 1, 2]];
  test.each(axesCases.map((a) => [JSON.stringify(a), a] as const))('sum and mean over %s, with and without keepDims', async (_name, axes) => {
    await check(['reduceSum'], () => {
      const x = input([3, 4, 5], 41);
      const on = axes ?? undefined;
      return [tf.sum(x, on), tf.sum(x, on, true), tf.mean(x, on), tf.mean(x, on, true)];
    });
  });

  test('per-channel statistics of a large activation', async () => {
    await check(['reduceSum'], () => {
      const x = input([32, 75, 10, 16], 42);
      return [tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2])];
    });
  });
});

describe('copies', () => {
  test('tile, reverse, transpose, slice, split, unstack', async () => {
    await check(['tile', 'reverse', 'transpose', 'slice'], () => {
      const x = input([2, 3, 4], 51);
      return [
        tf.tile(x, [2, 1, 3]), tf.tile(input([1, 1, 1, 5], 52), [3, 4, 2, 1]),
        tf.reverse(x, 0), tf.reverse(x, [1, 2]), tf.reverse(x, -1),
        tf.transpose(x), tf.transpose(x, [1, 0, 2]), tf.transpose(x, [0, 2, 1]),
        tf.slice(x, [1, 0, 1], [1, -1, 2]), tf.slice(x, [0, 2, 0], [2, 1, 4]),
        ...tf.split(x, [1, 3], 2), ...tf.split(x, 3, 1), ...tf.unstack(x, 0), ...tf.unstack(x, 2),
      ];
    }, true);
  });
});

test('the replaced kernels are the ones tested here', () => {
  expect(nativeKernelNames().sort()).toEqual([
    'Add', 'BatchMatMul', 'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Floor', 'FusedBatchNorm',
    'FusedConv2D', 'MaxPool', 'MaxPoolGrad', 'Maximum', 'Mean', 'Minimum', 'Multiply', 'RealDiv', 'Relu', 'Reverse',
    'Slice', 'SplitV', 'Square', 'SquaredDifference', 'Step', 'Sub', 'Sum', 'Tanh', 'Tile', 'Transpose', 'Unpack', '_FusedMatMul',
  ].sort());
});

test('a few Adam steps of the same model end close on cpu and native', async () => {
  const train = () => {
    const model = buildModel({ frames: 24, coeffs: 12, classes: 8, seed: 5, sizes: { convFilters: [4, 8], lstmUnits: 6, attentionUnits: 5, dropout: 0 } });
    const optimizer = tf.train.adam(1e-3);
    const x = input([4, 24, 12, 1], 61);
    const y = tf.oneHot(tf.tensor1d([0, 3, 5, 7], 'int32'), 8);
    const losses: number[] = [];
    for (let step = 0; step < 3; step++) {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor), true) as tf.Scalar;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    }
    const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
    return { losses, weights };
  };
  await selectBackend('cpu');
  const onCpu = train();
  await selectBackend('native');
  const onNative = train();
  onNative.losses.forEach((loss, i) => expect(Math.abs(loss - onCpu.losses[i])).toBeLessThan(1e-5));
  // Adam moves every weight by about the learning rate per step, so differences are judged against it.
  onNative.weights.forEach((w, i) => w.forEach((v, k) => expect(Math.abs(v - onCpu.weights[i][k])).toBeLessThan(1e-5)));
});

describe('buffer reuse', () => {
  beforeAll(async () => {
    await selectBackend('native');
  });

  test('an array read out of a tensor is never handed to a later kernel', () => {
    const big = tf.fill([300, 400], 1.5);
    const first = tf.add(big, big);
    const seen = first.dataSync();
    first.dispose();
    const second = tf.mul(big, big);
    expect(seen.every((v) => v === 3)).toBe(true);
    expect(second.dataSync().every((v) => v === 2.25)).toBe(true);
    tf.dispose([big, second]);
  });

  test('a buffer still seen through a view is not reused', () => {
    const big = tf.fill([300, 400], 2);
    const doubled = tf.add(big, big);
    const kept = tf.reshape(doubled, [400, 300]);
    doubled.dispose();
    const other = tf.mul(big, big);
    expect(tf.sum(kept).dataSync()[0]).toBe(4 * 300 * 400);
    tf.dispose([big, kept, other]);
  });

  test('steps leak no tensors', () => {
    const x = tf.fill([64, 512], 0.5);
    const step = () => tf.tidy(() => tf.sum(tf.relu(tf.sub(tf.mul(x, x), 0.1))));
    step().dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step().dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('the addon checks its arguments', () => {
  test('lengths, shapes and geometry', () => {
    const a = new Float32Array(6);
    expect(() => native.matMul(a, a, new Float32Array(5), 1, 2, 2, 3, false, false)).toThrow(/out must hold 4 floats, got 5/);
    expect(() => native.matMul(a, new Float32Array(5), new Float32Array(4), 1, 2, 2, 3, false, false)).toThrow(/b must hold 1 or batch/);
    expect(() => native.binaryOp('add', a, [2, 3], a, [3, 2], new Float32Array(6))).toThrow(/do not broadcast/);
    expect(() => native.binaryOp('pow' as 'add', a, [6], a, [6], new Float32Array(6))).toThrow(/unknown binary op 'pow'/);
    expect(() => native.slice(a, [2, 3], [1, 2], [1, 2], new Float32Array(2))).toThrow(/outside/);
    expect(() => native.transpose(a, [2, 3], [0, 0], new Float32Array(6))).toThrow(/not a permutation/);
    expect(() => native.reduceSum(a, [2, 3], [2], 1, new Float32Array(2))).toThrow(/out of range/);
    const geometry = {
      batch: 1, inHeight: 2, inWidth: 3, inChannels: 1, outHeight: 2, outWidth: 3, outChannels: 1, filterHeight: 1,
      filterWidth: 1, strideHeight: 0, strideWidth: 1, dilationHeight: 1, dilationWidth: 1, padTop: 0, padLeft: 0,
    };
    expect(() => native.conv2d(a, new Float32Array(1), new Float32Array(6), geometry)).toThrow(/at least 1/);
    expect(() => native.conv2d(a, new Float32Array(2), new Float32Array(6), { ...geometry, strideHeight: 1 })).toThrow(/filter must hold 1 floats, got 2/);
    expect(() => native.maxPool(a, new Float32Array(6), { ...geometry, channels: 1, strideHeight: 1, inHeight: 3 } as never)).toThrow(/x must hold 9 floats, got 6/);
  });

  test('reports the GEMM micro-kernel in use', () => {
    expect(['avx512', 'avx2', 'portable']).toContain(native.gemmIsa());
  });
});
