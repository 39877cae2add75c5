// A plain-TypeScript implementation of the native core's feature definition (README "Feature definition",
// DESIGN defaults), used only as a speed peer in the benchmarks. It follows the same steps as the C++ core:
// WAV decode -> scipy.signal.resample_poly -> centred periodic-Hann STFT -> |X|^2 -> Slaney mel ->
// power_to_db with a global top_db floor -> orthonormal DCT-II. Nothing here calls the addon.
//
// It is written to be a fair peer, not a straw man: the filters, window, mel basis and DCT matrix are
// precomputed once per configuration, the FFT is an iterative radix-2 with precomputed twiddles, and the
// mel product skips the zeros outside each triangle. Intermediate values are float64; outputs float32.
import { resolveFeatureConfig, type FeatureConfig, type FeatureOptions } from '../../src/features/config';

export type RealArrayLike = Float32Array | Float64Array;

// ---------------------------------------------------------------------------------------------------
// WAV

export interface PlainDecodedWav {
  sampleRate: number;
  /** Mono: the mean of the channels, int16 / 32768. */
  samples: Float32Array;
}

function fourCC(view: DataView, offset: number): string {
  return String.fromCharCode(
    view.getUint8(offset),
    view.getUint8(offset + 1),
    view.getUint8(offset + 2),
    view.getUint8(offset + 3),
  );
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** RIFF/WAVE, 16-bit PCM (plain or WAVE_FORMAT_EXTENSIBLE), any channel count mixed to mono as the mean. */
export function decodeWav16(bytes: Uint8Array): PlainDecodedWav {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 12 || fourCC(view, 0) !== 'RIFF' || fourCC(view, 8) !== 'WAVE') {
    throw new Error('decodeWav16: not a RIFF/WAVE file');
  }
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let dataOffset = -1;
  let dataSize = 0;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = fourCC(view, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.byteLength) throw new Error('decodeWav16: truncated fmt chunk');
      const format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      let pcm = format === WAVE_FORMAT_PCM;
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40) {
        // The sub-format GUID starts with the format tag (KSDATAFORMAT_SUBTYPE_PCM = 1).
        pcm = view.getUint16(body + 24, true) === WAVE_FORMAT_PCM;
      }
      if (!pcm || bits !== 16) throw new Error(`decodeWav16: only 16-bit PCM is supported (format ${format}, ${bits} bits)`);
      if (channels < 1) throw new Error('decodeWav16: no channels');
      if (sampleRate < 1) throw new Error('decodeWav16: bad sample rate');
    } else if (id === 'data') {
      dataOffset = body;
      // A streaming writer may leave the size at 0 or 0xffffffff: clamp to what is there.
      dataSize = Math.min(size, bytes.byteLength - body);
      if (channels > 0) break;
    }
    // Chunks are padded to an even size; unknown chunks are skipped.
    offset = body + size + (size & 1);
  }
  if (channels === 0) throw new Error('decodeWav16: no fmt chunk');
  if (dataOffset < 0) throw new Error('decodeWav16: no data chunk');
  const blockAlign = 2 * channels;
  const frames = Math.floor(dataSize / blockAlign);
  const samples = new Float32Array(frames);
  if (channels === 1) {
    for (let i = 0, p = dataOffset; i < frames; i++, p += 2) samples[i] = view.getInt16(p, true) / 32768;
  } else {
    for (let i = 0, p = dataOffset; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++, p += 2) sum += view.getInt16(p, true) / 32768;
      samples[i] = sum / channels;
    }
  }
  return { sampleRate, samples };
}

// ---------------------------------------------------------------------------------------------------
// Resampling: scipy.signal.resample_poly(x, up, down) with the default ('kaiser', 5.0) window

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0, by its power series. */
function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** scipy.signal.windows.kaiser(m, beta, sym=True). */
function kaiserWindow(m: number, beta: number): Float64Array {
  const w = new Float64Array(m);
  if (m === 1) {
    w[0] = 1;
    return w;
  }
  const alpha = (m - 1) / 2;
  const denom = besselI0(beta);
  for (let n = 0; n < m; n++) {
    const r = (n - alpha) / alpha;
    w[n] = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / denom;
  }
  return w;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

interface PolyphaseFilter {
  up: number;
  down: number;
  half: number;
  /**
   * phases[p] holds the taps h[p], h[p + up], ... in reverse order, so that output sample i (with
   * t = i * down + half, p = t mod up, n0 = (t - p) / up) is sum_m phases[p][m] * x[n0 - len + 1 + m].
   */
  phases: Float64Array[];
}

const filterCache = new Map<string, PolyphaseFilter>();

function polyphaseFilter(up: number, down: number): PolyphaseFilter {
  const key = `${up}/${down}`;
  const cached = filterCache.get(key);
  if (cached) return cached;
  const maxRate = Math.max(up, down);
  const half = 10 * maxRate;
  const taps = 2 * half + 1;
  const cutoff = 1 / maxRate; // relative to Nyquist, as firwin takes it
  const window = kaiserWindow(taps, 5.0);
  const h = new Float64Array(taps);
  let sum = 0;
  for (let k = 0; k < taps; k++) {
    h[k] = cutoff * sinc(cutoff * (k - half)) * window[k];
    sum += h[k];
  }
  // firwin(scale=True): unit gain at DC; resample_poly then multiplies by up.
  for (let k = 0; k < taps; k++) h[k] = (h[k] / sum) * up;
  const phases: Float64Array[] = [];
  for (let p = 0; p < up; p++) {
    const len = p < taps ? Math.floor((taps - 1 - p) / up) + 1 : 0;
    const phase = new Float64Array(len);
    for (let j = 0; j < len; j++) phase[len - 1 - j] = h[p + j * up];
    phases.push(phase);
  }
  const filter: PolyphaseFilter = { up, down, half, phases };
  filterCache.set(key, filter);
  return filter;
}

/** scipy.signal.resample_poly(x, up, down), up/down = toRate/fromRate reduced; length ceil(n * up / down). */
export function resamplePoly(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate < 1 || toRate < 1) {
    throw new Error(`resamplePoly: rates must be positive integers, got ${fromRate} -> ${toRate}`);
  }
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  if (up === 1 && down === 1) return Float32Array.from(x);
  const { half, phases } = polyphaseFilter(up, down);
  const n = x.length;
  const outLength = Math.ceil((n * up) / down);
  const y = new Float32Array(outLength);
  for (let i = 0; i < outLength; i++) {
    const t = i * down + half;
    const p = t % up;
    const taps = phases[p];
    const len = taps.length;
    const n0 = (t - p) / up; // the newest input sample that contributes
    const base = n0 - len + 1; // the oldest
    const mStart = base < 0 ? -base : 0;
    const mEnd = n0 >= n ? len - (n0 - n + 1) : len;
    let acc = 0;
    for (let m = mStart; m < mEnd; m++) acc += taps[m] * x[base + m];
    y[i] = acc;
  }
  return y;
}

// ---------------------------------------------------------------------------------------------------
// FFT

/** Radix-2 iterative complex FFT of size n/2 plus the split step, giving the real FFT of size n. */
export class PlainFft {
  /** Real transform size. */
  readonly n: number;
  private readonly half: number;
  private readonly bitReverse: Uint32Array;
  /** exp(-2 pi i k / half), k < half / 2. */
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  /** exp(-2 pi i k / n), k <= half / 2 (the split step uses k and half - k). */
  private readonly splitRe: Float64Array;
  private readonly splitIm: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 2 || (n & (n - 1)) !== 0) throw new Error(`PlainFft: size must be a power of two >= 2, got ${n}`);
    this.n = n;
    const half = n / 2;
    this.half = half;
    const bits = Math.round(Math.log2(half));
    this.bitReverse = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      this.bitReverse[i] = r;
    }
    const quarter = Math.max(1, half / 2);
    this.twRe = new Float64Array(quarter);
    this.twIm = new Float64Array(quarter);
    for (let k = 0; k < quarter; k++) {
      this.twRe[k] = Math.cos((2 * Math.PI * k) / half);
      this.twIm[k] = -Math.sin((2 * Math.PI * k) / half);
    }
    this.splitRe = new Float64Array(half + 1);
    this.splitIm = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.splitRe[k] = Math.cos((2 * Math.PI * k) / n);
      this.splitIm[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    this.re = new Float64Array(half);
    this.im = new Float64Array(half);
  }

  /** In-place forward complex FFT of (re, im), length n/2. */
  private complexFft(re: Float64Array, im: Float64Array): void {
    const size = this.half;
    const twRe = this.twRe;
    const twIm = this.twIm;
    for (let len = 2, stride = size >> 1; len <= size; len <<= 1, stride >>= 1) {
      const halfLen = len >> 1;
      for (let start = 0; start < size; start += len) {
        for (let j = 0, tw = 0; j < halfLen; j++, tw += stride) {
          const a = start + j;
          const b = a + halfLen;
          const wr = twRe[tw];
          const wi = twIm[tw];
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
    }
  }

  /**
   * Real FFT of input[inputOffset .. inputOffset + n): bins 0..n/2 into outRe/outIm starting at
   * outputOffset, unnormalised (numpy.fft.rfft convention).
   */
  rfftInto(input: RealArrayLike, outRe: RealArrayLike, outIm: RealArrayLike, inputOffset = 0, outputOffset = 0): void {
    const half = this.half;
    const re = this.re;
    const im = this.im;
    const rev = this.bitReverse;
    // Pack z[j] = x[2j] + i x[2j+1], in bit-reversed order.
    for (let j = 0; j < half; j++) {
      const r = rev[j];
      re[r] = input[inputOffset + 2 * j];
      im[r] = input[inputOffset + 2 * j + 1];
    }
    this.complexFft(re, im);
    // Split: X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[h-k]) / 2, O = (Z[k] - conj Z[h-k]) / 2i.
    const sRe = this.splitRe;
    const sIm = this.splitIm;
    outRe[outputOffset] = re[0] + im[0];
    outIm[outputOffset] = 0;
    outRe[outputOffset + half] = re[0] - im[0];
    outIm[outputOffset + half] = 0;
    for (let k = 1; k < half; k++) {
      const zr = re[k];
      const zi = im[k];
      const cr = re[half - k];
      const ci = -im[half - k];
      const er = 0.5 * (zr + cr);
      const ei = 0.5 * (zi + ci);
      // (z - c) / 2i = (zi - ci) / 2 - i (zr - cr) / 2
      const or = 0.5 * (zi - ci);
      const oi = -0.5 * (zr - cr);
      const wr = sRe[k];
      const wi = sIm[k];
      outRe[outputOffset + k] = er + or * wr - oi * wi;
      outIm[outputOffset + k] = ei + or * wi + oi * wr;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// MFCC

/** The fields of the project's FeatureConfig this reference implements (the rest must be the defaults). */
export type PlainMfccConfig = Pick<
  FeatureConfig,
  'sampleRate' | 'nFft' | 'winLength' | 'hopLength' | 'nMels' | 'nMfcc' | 'fmin' | 'fmax' | 'topDb' | 'amin' | 'ref'
>;

/**
 * Resolved with the project's own defaults and validation; the reference then refuses what it does not
 * implement (HTK scale, no norm, no centring, power != 2, outputs other than MFCC).
 */
function resolvePlainConfig(options: FeatureOptions): PlainMfccConfig {
  const config = resolveFeatureConfig(options);
  if (config.kind !== 'mfcc') throw new Error(`plainMfcc: kind ${config.kind} is not implemented`);
  if (config.melScale !== 'slaney') throw new Error('plainMfcc: only the Slaney mel scale is implemented');
  if (config.melNorm !== 'slaney') throw new Error('plainMfcc: only Slaney mel norm is implemented');
  if (!config.center) throw new Error('plainMfcc: only center=true is implemented');
  if (config.power !== 2) throw new Error('plainMfcc: only power=2 is implemented');
  return config;
}

// librosa's Slaney mel scale.
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOGSTEP = Math.log(6.4) / 27;

function hzToMelSlaney(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOGSTEP : hz / F_SP;
}

function melToHzSlaney(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOGSTEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

interface MelRow {
  /** First bin with a nonzero weight. */
  start: number;
  weights: Float64Array;
}

/** librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney'), stored sparsely by row. */
function slaneyMelRows(sampleRate: number, nFft: number, nMels: number, fmin: number, fmax: number): MelRow[] {
  const bins = nFft / 2 + 1;
  // numpy.linspace(mel(fmin), mel(fmax), nMels + 2), then back to Hz.
  const melMin = hzToMelSlaney(fmin);
  const melMax = hzToMelSlaney(fmax);
  const count = nMels + 2;
  const step = (melMax - melMin) / (count - 1);
  const edges = new Float64Array(count);
  for (let i = 0; i < count; i++) edges[i] = melToHzSlaney(i === count - 1 ? melMax : melMin + i * step);
  const rows: MelRow[] = [];
  for (let m = 0; m < nMels; m++) {
    const lo = edges[m];
    const mid = edges[m + 1];
    const hi = edges[m + 2];
    const enorm = 2 / (hi - lo);
    const full = new Float64Array(bins);
    let first = -1;
    let last = -1;
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nFft;
      const lower = (f - lo) / (mid - lo);
      const upper = (hi - f) / (hi - mid);
      const w = Math.max(0, Math.min(lower, upper));
      if (w > 0) {
        // librosa returns the basis as float32.
        full[k] = Math.fround(w * enorm);
        if (first < 0) first = k;
        last = k;
      }
    }
    rows.push(first < 0 ? { start: 0, weights: new Float64Array(0) } : { start: first, weights: full.slice(first, last + 1) });
  }
  return rows;
}

interface MfccPlan {
  config: PlainMfccConfig;
  fft: PlainFft;
  /** Periodic Hann of winLength (only the nonzero part of the nFft window). */
  window: Float64Array;
  /** Where the window starts inside the nFft frame. */
  windowOffset: number;
  mel: MelRow[];
  /** Orthonormal DCT-II rows: dct[k * nMels + m]. */
  dct: Float64Array;
  // Scratch.
  frame: Float64Array;
  specRe: Float64Array;
  specIm: Float64Array;
  power: Float64Array;
}

const planCache = new Map<string, MfccPlan>();

function mfccPlan(config: PlainMfccConfig): MfccPlan {
  const key = JSON.stringify(config);
  const cached = planCache.get(key);
  if (cached) return cached;
  const { nFft, winLength, nMels, nMfcc } = config;
  const window = new Float64Array(winLength);
  for (let n = 0; n < winLength; n++) window[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / winLength);
  const dct = new Float64Array(nMfcc * nMels);
  for (let k = 0; k < nMfcc; k++) {
    const scale = k === 0 ? Math.sqrt(1 / nMels) : Math.sqrt(2 / nMels);
    for (let m = 0; m < nMels; m++) dct[k * nMels + m] = scale * Math.cos((Math.PI * k * (2 * m + 1)) / (2 * nMels));
  }
  const bins = nFft / 2 + 1;
  const plan: MfccPlan = {
    config,
    fft: new PlainFft(nFft),
    window,
    windowOffset: Math.floor((nFft - winLength) / 2),
    mel: slaneyMelRows(config.sampleRate, nFft, nMels, config.fmin, config.fmax),
    dct,
    frame: new Float64Array(nFft),
    specRe: new Float64Array(bins),
    specIm: new Float64Array(bins),
    power: new Float64Array(bins),
  };
  planCache.set(key, plan);
  return plan;
}

/**
 * librosa.feature.mfcc(y, sr=16000, n_mfcc=40, n_fft=512, win_length=400, hop_length=160, n_mels=64,
 * fmax=8000) by default, time-major: out[frame * nMfcc + coeff]. Frames: 1 + floor(n / hopLength).
 */
export function plainMfcc(samples16k: Float32Array, options: FeatureOptions = {}): Float32Array {
  const config = resolvePlainConfig(options);
  const plan = mfccPlan(config);
  const { nFft, winLength, hopLength, nMels, nMfcc } = config;
  const { fft, window, windowOffset, mel, dct, frame, specRe, specIm, power } = plan;
  const n = samples16k.length;
  const frames = 1 + Math.floor(n / hopLength);
  const bins = nFft / 2 + 1;
  const pad = nFft / 2; // center=True, zero padding
  const logMel = new Float64Array(frames * nMels);
  const dbOffset = 10 * Math.log10(Math.max(config.amin, config.ref));
  let maxDb = -Infinity;

  for (let t = 0; t < frames; t++) {
    // frame[j] = padded[t * hop + j] * hannPadded[j], padded[i] = x[i - pad]; only the window part is nonzero.
    const first = t * hopLength - pad + windowOffset; // sample under window[0]
    for (let w = 0; w < winLength; w++) {
      const i = first + w;
      frame[windowOffset + w] = i >= 0 && i < n ? samples16k[i] * window[w] : 0;
    }
    fft.rfftInto(frame, specRe, specIm);
    for (let k = 0; k < bins; k++) power[k] = specRe[k] * specRe[k] + specIm[k] * specIm[k];
    const rowBase = t * nMels;
    for (let m = 0; m < nMels; m++) {
      const { start, weights } = mel[m];
      let s = 0;
      for (let j = 0; j < weights.length; j++) s += weights[j] * power[start + j];
      const db = 10 * Math.log10(Math.max(config.amin, s)) - dbOffset;
      logMel[rowBase + m] = db;
      if (db > maxDb) maxDb = db;
    }
  }

  if (config.topDb !== null) {
    const floor = maxDb - config.topDb;
    for (let i = 0; i < logMel.length; i++) if (logMel[i] < floor) logMel[i] = floor;
  }

  const out = new Float32Array(frames * nMfcc);
  for (let t = 0; t < frames; t++) {
    const rowBase = t * nMels;
    for (let k = 0; k < nMfcc; k++) {
      const dctBase = k * nMels;
      let s = 0;
      for (let m = 0; m < nMels; m++) s += dct[dctBase + m] * logMel[rowBase + m];
      out[t * nMfcc + k] = s;
    }
  }
  return out;
}

/** decodeWav16 + resamplePoly to 16 kHz (when the rate differs) + plainMfcc with the defaults. */
export function plainWavToMfcc(bytes: Uint8Array, options: FeatureOptions = {}): Float32Array {
  const sampleRate = resolvePlainConfig(options).sampleRate;
  const wav = decodeWav16(bytes);
  const samples = wav.sampleRate === sampleRate ? wav.samples : resamplePoly(wav.samples, wav.sampleRate, sampleRate);
  return plainMfcc(samples, options);
}
