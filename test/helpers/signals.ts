// Test signals and measurements for the augmentation tests.

/** Sum of the first 8 harmonics of f0 with 1/h amplitudes, peak about 0.8. */
export function harmonicTone(f0: number, seconds: number, sampleRate: number): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let h = 1; h <= 8; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / sampleRate) / h;
    x[i] = 0.3 * v;
  }
  return x;
}

/**
 * f0 of the middle of x by YIN (de Cheveigne & Kawahara 2002): the first lag whose cumulative-mean
 * normalised difference dips below 0.1, refined by a parabola through its neighbours.
 */
export function estimateF0(x: Float32Array, sampleRate: number, fminHz = 60, fmaxHz = 600): number {
  const window = Math.round(0.04 * sampleRate);
  const start = Math.floor(x.length / 2 - window);
  const maxLag = Math.ceil(sampleRate / fminHz);
  const minLag = Math.floor(sampleRate / fmaxHz);
  const normalised = new Float64Array(maxLag + 2);
  normalised[0] = 1;
  let running = 0;
  for (let lag = 1; lag <= maxLag + 1; lag++) {
    let d = 0;
    for (let j = 0; j < window; j++) {
      const e = x[start + j] - x[start + j + lag];
      d += e * e;
    }
    running += d;
    normalised[lag] = (d * lag) / running;
  }
  let lag = minLag;
  while (lag <= maxLag && normalised[lag] >= 0.1) lag++;
  if (lag > maxLag) {
    lag = minLag;
    for (let t = minLag; t <= maxLag; t++) if (normalised[t] < normalised[lag]) lag = t;
  }
  while (lag + 1 <= maxLag && normalised[lag + 1] < normalised[lag]) lag++;
  const [a, b, c] = [normalised[lag - 1], normalised[lag], normalised[lag + 1]];
  const offset = (a - c) / (2 * (a - 2 * b + c));
  return sampleRate / (lag + (Number.isFinite(offset) ? offset : 0));
}

export function snrDb(clean: Float32Array, noisy: Float32Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < clean.length; i++) {
    signal += clean[i] * clean[i];
    noise += (noisy[i] - clean[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}
