// The real FFT against a naive double-precision DFT, and Parseval's theorem.
import { native } from '../src/native';

function naiveDft(x: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = x.length;
  const bins = n / 2 + 1;
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    cos[j] = Math.cos((2 * Math.PI * j) / n);
    sin[j] = Math.sin((2 * Math.PI * j) / n);
  }
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0, idx = 0; t < n; t++, idx = (idx + k) % n) {
      sr += x[t] * cos[idx];
      si -= x[t] * sin[idx];
    }
    re[k] = sr;
    im[k] = si;
  }
  return { re, im };
}

function randomSignal(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

// Powers of two, products of 2/3/5, and sizes whose half has the largest prime factors accepted
// (2 * 7 * 127, 2 * 2 * 7 * 127, 2 * 113).
const SIZES = [2, 4, 6, 8, 10, 12, 14, 16, 18, 30, 50, 64, 96, 100, 126, 226, 250, 256, 384, 400, 486, 512, 1000, 1024, 1458, 1778, 2048, 3000, 3556, 4096];

describe('rfft against a naive DFT', () => {
  test.each(SIZES)('n = %i', (n) => {
    const x = randomSignal(n, n);
    const spectrum = native.rfft(x, n);
    expect(spectrum.length).toBe((n / 2 + 1) * 2);
    const ref = naiveDft(Float64Array.from(x));
    let maxRef = 0;
    let maxErr = 0;
    for (let k = 0; k <= n / 2; k++) {
      maxRef = Math.max(maxRef, Math.hypot(ref.re[k], ref.im[k]));
      maxErr = Math.max(maxErr, Math.hypot(spectrum[2 * k] - ref.re[k], spectrum[2 * k + 1] - ref.im[k]));
    }
    // float32 rounding grows like eps * log2(n) (~2e-6 at 4096); a wrong twiddle or index is O(1).
    expect(maxErr / maxRef).toBeLessThan(1e-5);
  });
});

describe('Parseval: sum x^2 = (1/n) sum |X_k|^2 over the full spectrum', () => {
  test.each([16, 54, 512, 1000, 4096])('n = %i', (n) => {
    const x = randomSignal(n, 7 * n + 1);
    const s = native.rfft(x, n);
    const bin = (k: number) => s[2 * k] ** 2 + s[2 * k + 1] ** 2;
    let spectral = bin(0) + bin(n / 2);
    for (let k = 1; k < n / 2; k++) spectral += 2 * bin(k);
    let energy = 0;
    for (const v of x) energy += v * v;
    expect(Math.abs(spectral / n - energy) / energy).toBeLessThan(1e-5);
  });
});

describe('rfft on many frames and bad sizes', () => {
  test('each row is transformed independently, into a given output', () => {
    const n = 64;
    const a = randomSignal(n, 1);
    const b = randomSignal(n, 2);
    const both = new Float32Array(2 * n);
    both.set(a, 0);
    both.set(b, n);
    const out = new Float32Array(2 * (n / 2 + 1) * 2);
    const returned = native.rfft(both, n, out);
    expect(returned).toBe(out);
    expect(Array.from(out.subarray(0, n + 2))).toEqual(Array.from(native.rfft(a, n)));
    expect(Array.from(out.subarray(n + 2))).toEqual(Array.from(native.rfft(b, n)));
  });

  test('a batch whose last vector block is partial: every row as its transform alone, bit for bit', () => {
    // 37 rows: two full blocks of 16 lanes (four of 8) and a partial one, whose spare lanes are discarded.
    for (const n of [2, 16, 512, 1000]) {
      const rows = 37;
      const batch = randomSignal(rows * n, n + 3);
      const out = native.rfft(batch, n);
      for (const row of [0, 15, 16, 31, 32, 36]) {
        const alone = native.rfft(batch.slice(row * n, (row + 1) * n), n);
        expect(Array.from(out.subarray(row * (n + 2), (row + 1) * (n + 2)))).toEqual(Array.from(alone));
      }
    }
  });

  test('odd sizes, ragged input and a short output buffer throw', () => {
    expect(() => native.rfft(new Float32Array(9), 9)).toThrow(/even/);
    expect(() => native.rfft(new Float32Array(10), 4)).toThrow(/not a multiple of nFft/);
    expect(() => native.rfft(new Float32Array(8), 8, new Float32Array(3))).toThrow(/output must hold/);
  });
});
