// Every GEMM micro-kernel (AVX-512, AVX2+FMA, portable; SER_GEMM_ISA caps the choice at load time) on
// shapes that take each path: packed and in-place A, edge tiles, transposes, several column blocks, and
// the split over 2 threads; against a float64 product, within 1e-5 of the largest value; and the split
// over 2 threads (row or column tiles of one micro-kernel panel) bit for bit equal to 1 thread.
import { spawnSync } from 'child_process';

import { native } from '../src/native';
import { ROOT } from './helpers/paths';

const SCRIPT = `
const { native } = require('./dist/src/native');
const shapes = [[7, 13, 5, false, false], [37, 64, 288, false, false], [100, 33, 70, true, false], [50, 200, 17, false, true],
  [300, 2100, 40, false, false], [13, 1, 7, true, true], [400, 96, 300, false, false], [1, 448, 112, false, false],
  [1184, 448, 64, false, false], [640, 448, 300, true, false], [30, 2000, 40, false, true]];
let state = 12345;
const random = (n) => Float32Array.from({ length: n }, () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648 - 0.5; });
const worst = [];
const products = [[], []];
for (const threads of [1, 2]) {
  state = 12345;
  native.setThreads(threads);
  for (const [m, n, k, ta, tb] of shapes) {
    const a = random(m * k), b = random(k * n), out = new Float32Array(m * n);
    native.matMul(a, b, out, 1, m, n, k, ta, tb);
    products[threads - 1].push(out);
    let scale = 0, error = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      scale = Math.max(scale, Math.abs(sum));
      error = Math.max(error, Math.abs(sum - out[i * n + j]));
    }
    worst.push(error / scale);
  }
}
const splitEqual = products[0].every((one, i) => one.every((v, j) => Object.is(v, products[1][i][j])));
process.stdout.write(JSON.stringify({ isa: native.gemmIsa(), worst: Math.max(...worst), splitEqual }));
`;

const available = native.gemmIsa();
const isas = ['avx512', 'avx2', 'portable'].filter((isa) => available === 'avx512' || isa !== 'avx512')
  .filter((isa) => available !== 'portable' || isa === 'portable');

test.each(isas)('the %s micro-kernel: products within 1e-5 of float64 on every path, and 2 threads bit for bit equal to 1', (isa) => {
  const run = spawnSync(process.execPath, ['-e', SCRIPT], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SER_GEMM_ISA: isa } });
  expect(run.status).toBe(0);
  const result = JSON.parse(run.stdout) as { isa: string; worst: number; splitEqual: boolean };
  expect(result.isa).toBe(isa);
  expect(result.worst).toBeLessThan(1e-5);
  expect(result.splitEqual).toBe(true);
});
