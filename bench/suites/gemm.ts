// gemm: GFLOP/s of the addon's matrix multiply on the shapes a seed-model training step runs (LSTM
// gates forward and backward, the im2col products of the convolutions) and one large square, against
// the wasm backend's XNNPACK matmul on the same shapes in the same run, and against the core's peak.
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs';

import { native } from '../../src/native';
import { selectBackend } from '../../src/backend';
import type { Scenario } from '../framework';

interface Shape {
  label: string;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
}

// Seed model, batch 32: LSTM input 37 steps x 640 features, 112 units (4 gates: 448); conv blocks 2
// and 3 on 150 x 20 and 75 x 10 maps, 3 x 3 filters, im2col slabs.
const SHAPES: Shape[] = [
  { label: 'LSTM input gates x W (32 x 640 . 640 x 448)', m: 32, n: 448, k: 640, transposeA: false, transposeB: false },
  { label: 'LSTM recurrent h x U (32 x 112 . 112 x 448)', m: 32, n: 448, k: 112, transposeA: false, transposeB: false },
  { label: 'LSTM dW = x^T dy (640 x 32 . 32 x 448)', m: 640, n: 448, k: 32, transposeA: true, transposeB: false },
  { label: 'LSTM dx = dy W^T (32 x 448 . 448 x 640)', m: 32, n: 640, k: 448, transposeA: false, transposeB: true },
  { label: 'conv2 im2col (3640 x 288 . 288 x 64)', m: 3640, n: 64, k: 288, transposeA: false, transposeB: false },
  { label: 'conv3 im2col (1820 x 576 . 576 x 128)', m: 1820, n: 128, k: 576, transposeA: false, transposeB: false },
  { label: 'conv3 dFilter (576 x 1820 . 1820 x 128)', m: 576, n: 128, k: 1820, transposeA: true, transposeB: false },
  { label: 'square 1024', m: 1024, n: 1024, k: 1024, transposeA: false, transposeB: false },
];


function corePeakGflops(isa: string): number | null {
  try {
    const mhz = Number(/cpu MHz\s*:\s*([0-9.]+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]);
    if (!(mhz > 0) || isa === 'portable') return null;
    return (2 * (isa === 'avx512' ? 16 : 8) * 2 * mhz) / 1000;
  } catch {
    return null;
  }
}

function randomArray(length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.random() - 0.5;
  return out;
}

/** Best GFLOP/s over a few timed batches of repetitions of `run` (about 0.3 s each, 0.1 s quick). */
function gflops(flops: number, run: () => void, quick: boolean): number {
  run();
  const batchSeconds = quick ? 0.1 : 0.3;
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let reps = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < batchSeconds) {
      run();
      reps++;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    }
    best = Math.max(best, (flops * reps) / elapsed / 1e9);
  }
  return best;
}

export const gemmScenario: Scenario = {
  name: 'gemm',
  title: 'matrix multiply GFLOP/s, one thread: the addon (native backend) against wasm (XNNPACK) on training shapes',
  async run({ quick, log }) {
    const rows: string[] = [];
    const measured: { shape: Shape; ours: number; wasm: number }[] = [];
    await selectBackend('wasm', { threads: 1 });
    // One thread, whatever an earlier suite of the same run left the engine's pool at (the timeline
    // runs on every core): a full run at 2ea7935 measured this table on two threads.
    const threadsBefore = native.threadCount();
    native.setThreads(1);
    try {
      for (const s of SHAPES) {
        const a = randomArray(s.m * s.k);
        const b = randomArray(s.k * s.n);
        const out = new Float32Array(s.m * s.n);
        const flops = 2 * s.m * s.n * s.k;
        const ours = gflops(flops, () => native.matMul(a, b, out, 1, s.m, s.n, s.k, s.transposeA, s.transposeB), quick);
        const aTensor = tf.tensor2d(a, s.transposeA ? [s.k, s.m] : [s.m, s.k]);
        const bTensor = tf.tensor2d(b, s.transposeB ? [s.n, s.k] : [s.k, s.n]);
        const wasm = gflops(flops, () => tf.tidy(() => tf.matMul(aTensor, bTensor, s.transposeA, s.transposeB).dataSync()), quick);
        tf.dispose([aTensor, bTensor]);
        log(`gemm / ${s.label}: ${ours.toFixed(1)} GFLOP/s (wasm ${wasm.toFixed(1)})`);
        measured.push({ shape: s, ours, wasm });
      }
    } finally {
      native.setThreads(threadsBefore);
    }
    // The core's peak, as the FMA units' width times the clock /proc/cpuinfo reports (null when unknown).
    const peak = corePeakGflops(native.gemmIsa());
    for (const { shape, ours, wasm } of measured) {
      rows.push(`| ${shape.label} | ${ours.toFixed(1)} | ${peak ? `${(100 * ours / peak).toFixed(0)}%` : 'n/a'} | ${wasm.toFixed(1)} | ${(ours / wasm).toFixed(1)}x |`);
    }
    return [
      `Micro-kernel in use: ${native.gemmIsa()}.`,
      '',
      '| shape (m x k . k x n) | native GFLOP/s | share of peak | wasm GFLOP/s | native / wasm |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      peak ? `- Peak: ${peak.toFixed(0)} GFLOP/s float32 on one core: 2 FMA units x ${native.gemmIsa() === 'avx512' ? 16 : 8} lanes x 2 FLOP x the ${(peak / (native.gemmIsa() === 'avx512' ? 64 : 32)).toFixed(2)} GHz /proc/cpuinfo reports.` : '- Peak: unknown (no clock in /proc/cpuinfo).',
      ...(peak && measured.some((m) => m.ours > peak)
        ? [`- Shares above 100%: this CPU ran faster than the clock /proc/cpuinfo reports (a boost clock; at least ${(Math.max(...measured.map((m) => m.ours)) / (native.gemmIsa() === 'avx512' ? 64 : 32)).toFixed(2)} GHz by the fastest shape), so the peak above understates the real one and the shares overstate it; compare shapes with each other and with wasm, not with 100%.`]
        : []),
      '- wasm times include tfjs\'s op dispatch and the copy out of the wasm heap (dataSync), as training pays them.',
      '  Its matmul takes XNNPACK only without transposed operands; transposed shapes fall to its scalar loop.',
      '- Target: >= 50% of peak on the large shapes.',
    ];
  },
};
