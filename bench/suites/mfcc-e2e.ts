// mfcc-e2e: decode a 3 s 48 kHz 16-bit WAV, resample to 16 kHz, MFCC (DESIGN defaults), native vs the
// plain-TypeScript reference, reported as real-time factor (audio seconds per second of compute).
import { resolveFeatureConfig } from '../../src/features/config';
import { native } from '../../src/native';
import type { Suite } from '../framework';
import { formatNumber, formatRatio } from '../framework';
import { plainWavToMfcc } from '../reference/plain';
import { speechLike } from '../signals';

const SECONDS = 3;
const SOURCE_RATE = 48000;
const MAX_DIFFERENCE = 0.05;
const TARGET_REAL_TIME = 10000;
/** Measured earlier on this kind of machine, same clip length and definition, one core; not re-run here. */
const CONTEXT_PEERS: ReadonlyArray<[string, number]> = [
  ['torchaudio', 1850],
  ['librosa', 850],
  ['Meyda', 62],
];

export const NATIVE = 'native wavToFeatures';
export const PLAIN = 'plain TS';

export const mfccE2eSuite: Suite = {
  name: 'mfcc-e2e',
  title: `WAV decode + resample ${SOURCE_RATE / 1000} kHz -> 16 kHz + MFCC (64 mels, 40 coeffs), ${SECONDS} s clip, single thread`,
  unit: 'x real time',
  baseline: NATIVE,

  setup() {
    const bytes = native.encodeWav16(speechLike(SECONDS, SOURCE_RATE), SOURCE_RATE);
    const config = resolveFeatureConfig();

    const nativeFeatures = native.wavToFeatures(bytes, config);
    const plainFeatures = plainWavToMfcc(bytes, config);
    if (plainFeatures.length !== nativeFeatures.data.length) {
      throw new Error(`mfcc-e2e: output sizes differ (native ${nativeFeatures.data.length}, plain ${plainFeatures.length})`);
    }
    let maxDiff = 0;
    for (let i = 0; i < plainFeatures.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(plainFeatures[i] - nativeFeatures.data[i]));
    }
    if (!(maxDiff < MAX_DIFFERENCE)) {
      throw new Error(`mfcc-e2e: native and plain MFCC differ by ${maxDiff} (limit ${MAX_DIFFERENCE}): the peers must do the same work`);
    }

    // Keep the results observable so the calls cannot be optimised away.
    let sink = 0;
    return {
      cases: [
        {
          name: NATIVE,
          fn: () => {
            sink += native.wavToFeatures(bytes, config).frames;
          },
          unitsPerOp: SECONDS,
        },
        {
          name: PLAIN,
          fn: () => {
            sink += plainWavToMfcc(bytes, config).length;
          },
          unitsPerOp: SECONDS,
        },
      ],
      details: [
        `Input: ${SECONDS} s speech-like signal (harmonics with vibrato, syllable envelope, light noise), ${SOURCE_RATE} Hz mono 16-bit PCM built in memory with \`native.encodeWav16\` (${bytes.byteLength} bytes).`,
        `Output: ${nativeFeatures.frames} frames x ${nativeFeatures.coeffs} MFCC; max |native - plain| before timing: ${maxDiff.toExponential(1)} (limit ${MAX_DIFFERENCE}).`,
      ],
      dispose: () => {
        if (sink < 0) console.log(sink);
      },
    };
  },

  note(results) {
    const nativeRate = results.rate(NATIVE);
    const met = nativeRate >= TARGET_REAL_TIME;
    const context = CONTEXT_PEERS.map(([name, rate]) => `${name} ~${rate.toLocaleString('en-US')}x (native ${formatRatio(nativeRate / rate)})`).join(', ');
    return (
      `Target: >= 10,000x real time on one core (measured ${formatNumber(nativeRate)}x: ${met ? 'met' : 'NOT met'}). ` +
      `Context peers measured on this machine kind earlier, not in this run: ${context}.`
    );
  },
};
