// pitch / stretch: the native augmentations on 16 kHz speech-like audio as real-time factor, one
// thread, against sox's `pitch` and `tempo` (a WSOLA of its own) when sox is installed.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { native } from '../../src/native';
import type { BenchCase, Suite } from '../framework';
import { formatNumber } from '../framework';
import { speechLike } from '../signals';

const SAMPLE_RATE = 16000;
const CLIP_SECONDS = 3;
/** sox runs as a process per op: a long file amortises its start-up, as a batch job would. */
const SOX_SECONDS = 60;
const TARGET_REAL_TIME = 2000;

function soxAvailable(): boolean {
  return spawnSync('sox', ['--version'], { encoding: 'utf8' }).status === 0;
}

interface AugmentSuiteSpec {
  name: string;
  title: string;
  nativeCase: string;
  run: (x: Float32Array) => Float32Array;
  soxEffect: string[];
  context: string;
}

function augmentSuite(spec: AugmentSuiteSpec): Suite {
  return {
    name: spec.name,
    title: spec.title,
    unit: 'x real time',
    baseline: spec.nativeCase,
    setup() {
      const clip = speechLike(CLIP_SECONDS, SAMPLE_RATE, 21);
      let sink = 0;
      const cases: BenchCase[] = [
        { name: spec.nativeCase, fn: () => (sink += spec.run(clip).length), unitsPerOp: CLIP_SECONDS },
      ];
      const details = [`Input: ${CLIP_SECONDS} s speech-like signal at ${SAMPLE_RATE} Hz, one call per op.`];
      let tmp: string | undefined;
      if (soxAvailable()) {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ser-bench-sox-'));
        const input = path.join(tmp, 'in.wav');
        const output = path.join(tmp, 'out.wav');
        fs.writeFileSync(input, native.encodeWav16(speechLike(SOX_SECONDS, SAMPLE_RATE, 21), SAMPLE_RATE));
        const soxCase = `sox ${spec.soxEffect.join(' ')}`;
        cases.push({
          name: soxCase,
          fn: () => {
            const run = spawnSync('sox', [input, output, ...spec.soxEffect]);
            if (run.status !== 0) throw new Error(`${soxCase} failed: ${run.stderr}`);
          },
          unitsPerOp: SOX_SECONDS,
        });
        details.push(`sox: \`sox in.wav out.wav ${spec.soxEffect.join(' ')}\` as a process on a ${SOX_SECONDS} s file of the same signal (start-up included, amortised).`);
      } else {
        details.push('sox is not installed: no same-run peer (apt-get install sox to add one).');
      }
      return {
        cases,
        details,
        dispose: () => {
          if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
          if (sink < 0) console.log(sink);
        },
      };
    },
    note(results) {
      const rate = results.rate(spec.nativeCase);
      return (
        `Target: >= ${TARGET_REAL_TIME.toLocaleString('en-US')}x real time per core (measured ${formatNumber(rate)}x: ` +
        `${rate >= TARGET_REAL_TIME ? 'met' : 'NOT met'}). Context measured earlier on this machine kind: ${spec.context}.`
      );
    },
  };
}

export const pitchSuite = augmentSuite({
  name: 'pitch',
  title: 'Pitch shift +2 semitones (WSOLA stretch + polyphase resample), single thread',
  nativeCase: 'native pitchShift +2 st',
  run: (x) => native.pitchShift(x, 2, SAMPLE_RATE),
  soxEffect: ['pitch', '200'],
  context: 'sox pitch ~1,300x, librosa pitch_shift ~160x, torchaudio pitch_shift 0.3-5x',
});

export const stretchSuite = augmentSuite({
  name: 'stretch',
  title: 'Time stretch x1.1 (WSOLA), single thread',
  nativeCase: 'native timeStretch 1.1',
  run: (x) => native.timeStretch(x, 1.1, SAMPLE_RATE),
  soxEffect: ['tempo', '1.1'],
  context: 'sox tempo ~3,500x',
});
