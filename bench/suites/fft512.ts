// fft512: frames per second of a 512-point real FFT, native batch call vs kissfft-wasm (config reused)
// vs a plain-TypeScript radix-2 FFT, on the same random frames.
import { native } from '../../src/native';
import type { Suite } from '../framework';
import { formatNumber, formatRatio } from '../framework';
import { loadKissRfft } from '../reference/kissfft';
import { PlainFft } from '../reference/plain';
import { uniformNoise } from '../signals';

const N_FFT = 512;
const FRAMES = 1024;
const BINS = N_FFT / 2 + 1;
const TARGET_FRAMES_PER_SECOND = 3e6;
const TARGET_VS_KISS = 7;

export const NATIVE = 'native rfft (batch)';
export const KISS = 'kissfft-wasm (reused config)';
export const PLAIN = 'plain TS radix-2';

export const fft512Suite: Suite = {
  name: 'fft512',
  title: `512-point real FFT, ${FRAMES} frames per op, single thread`,
  unit: 'frames/s',
  baseline: NATIVE,

  async setup() {
    const frames = uniformNoise(N_FFT * FRAMES, 12345);
    const nativeOut = new Float32Array(FRAMES * BINS * 2);
    const kiss = await loadKissRfft(N_FFT);
    const kissOut = new Float32Array(FRAMES * BINS * 2);
    const plain = new PlainFft(N_FFT);
    const plainRe = new Float32Array(FRAMES * BINS);
    const plainIm = new Float32Array(FRAMES * BINS);

    const runNative = (): void => {
      native.rfft(frames, N_FFT, nativeOut);
    };
    const runKiss = (): void => {
      for (let f = 0; f < FRAMES; f++) kiss(frames, kissOut, f * N_FFT, f * BINS * 2);
    };
    const runPlain = (): void => {
      for (let f = 0; f < FRAMES; f++) plain.rfftInto(frames, plainRe, plainIm, f * N_FFT, f * BINS);
    };

    // The peers must compute the same spectra.
    runNative();
    runKiss();
    runPlain();
    let maxMagnitude = 0;
    let maxKissError = 0;
    let maxPlainError = 0;
    for (let i = 0; i < FRAMES * BINS; i++) {
      const re = nativeOut[2 * i];
      const im = nativeOut[2 * i + 1];
      maxMagnitude = Math.max(maxMagnitude, Math.hypot(re, im));
      maxKissError = Math.max(maxKissError, Math.hypot(re - kissOut[2 * i], im - kissOut[2 * i + 1]));
      maxPlainError = Math.max(maxPlainError, Math.hypot(re - plainRe[i], im - plainIm[i]));
    }
    const kissRelative = maxKissError / maxMagnitude;
    const plainRelative = maxPlainError / maxMagnitude;
    if (!(kissRelative < 1e-5) || !(plainRelative < 1e-5)) {
      kiss.dispose();
      throw new Error(`fft512: peers disagree with native (kissfft ${kissRelative}, plain ${plainRelative} of the largest bin)`);
    }

    return {
      cases: [
        { name: NATIVE, fn: runNative, unitsPerOp: FRAMES },
        { name: KISS, fn: runKiss, unitsPerOp: FRAMES },
        { name: PLAIN, fn: runPlain, unitsPerOp: FRAMES },
      ],
      details: [
        `Input: ${FRAMES} frames of ${N_FFT} uniform random float32 samples (the same array for every case); output: ${BINS} complex bins per frame, unnormalised.`,
        `native: one \`native.rfft(frames, ${N_FFT}, out)\` call per op into a preallocated array. kissfft-wasm: kiss_fftr config and wasm arrays allocated once, per frame copy in / kiss_fftr / copy out. plain TS: \`PlainFft.rfftInto\` per frame (float64 inside).`,
        `Agreement before timing (max error / largest bin): kissfft-wasm ${kissRelative.toExponential(1)}, plain TS ${plainRelative.toExponential(1)}.`,
      ],
      dispose: () => kiss.dispose(),
    };
  },

  note(results) {
    const nativeRate = results.rate(NATIVE);
    const vsKiss = nativeRate / results.rate(KISS);
    const rateMet = nativeRate >= TARGET_FRAMES_PER_SECOND;
    const kissMet = vsKiss >= TARGET_VS_KISS;
    return (
      `Target: >= 3M frames/s (measured ${formatNumber(nativeRate / 1e6)}M: ${rateMet ? 'met' : 'NOT met'}) ` +
      `and >= ${TARGET_VS_KISS}x kissfft-wasm (measured ${formatRatio(vsKiss)}: ${kissMet ? 'met' : 'NOT met'}).`
    );
  },
};
