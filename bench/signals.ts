// Deterministic test signals for the benchmarks (no Math.random: every run times the same input).

/** Uniform values in [-1, 1) from a 32-bit LCG. */
export function uniformNoise(length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * A voiced, speech-like signal: a 10-harmonic source at ~130 Hz with a 5.5 Hz vibrato and a slow pitch
 * drift, a crude formant tilt, a syllable-rate (~3.7 Hz) amplitude envelope and a little noise.
 * Peak-normalised to 0.6.
 */
export function speechLike(seconds: number, sampleRate: number, seed = 7): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const noise = uniformNoise(n, seed);
  const out = new Float32Array(n);
  const harmonics = 10;
  const formants = [500, 1500, 2500];
  const gains = new Float64Array(harmonics + 1);
  let phase = 0;
  let peak = 0;
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const f0 = 130 * (1 + 0.04 * Math.sin(2 * Math.PI * 5.5 * t)) * (1 + 0.15 * Math.sin(2 * Math.PI * 0.4 * t));
    phase += (2 * Math.PI * f0) / sampleRate;
    if (phase > 2 * Math.PI * 1e6) phase -= 2 * Math.PI * 1e6;
    for (let k = 1; k <= harmonics; k++) {
      const f = k * f0;
      let g = 1 / k;
      for (const fm of formants) g += 0.8 / (1 + ((f - fm) / 150) ** 2) / k;
      gains[k] = g;
    }
    let v = 0;
    for (let k = 1; k <= harmonics; k++) v += gains[k] * Math.sin(k * phase);
    const syllable = Math.sin(Math.PI * ((t * 3.7) % 1)) ** 2;
    const sample = v * (0.1 + 0.9 * syllable) + 0.01 * noise[i];
    out[i] = sample;
    peak = Math.max(peak, Math.abs(sample));
  }
  const scale = peak > 0 ? 0.6 / peak : 1;
  for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}
