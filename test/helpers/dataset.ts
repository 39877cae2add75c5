// Small labelled datasets written by the tests: tones in RAVDESS (48 kHz) and CREMA-D (16 kHz) naming.
import * as fs from 'fs';
import * as path from 'path';

import { native } from '../../src/native';

export interface DatasetSpec {
  ravdessActors?: number;
  cremaActors?: number;
  seconds?: number;
  corrupt?: string[];
}

function tone(seconds: number, rate: number, pitchHz: number, seed: number): Float32Array {
  const n = Math.round(seconds * rate);
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const t = i / rate;
    return 0.3 * Math.sin(2 * Math.PI * pitchHz * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t)) + 0.01 * (s / 2 ** 32 - 0.5);
  });
}

/** Writes the dataset and returns the relative paths of the good clips. */
export function writeDataset(root: string, spec: DatasetSpec = {}): string[] {
  const seconds = spec.seconds ?? 3.5;
  const written: string[] = [];
  const put = (rel: string, samples: Float32Array, rate: number) => {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, native.encodeWav16(samples, rate));
    written.push(rel);
  };
  for (let a = 1; a <= (spec.ravdessActors ?? 2); a++) {
    const actor = String(a).padStart(2, '0');
    for (const [e, code] of ['01', '03', '05', '08'].entries()) {
      put(`Ravdess/Actor_${actor}/03-01-${code}-01-01-01-${actor}.wav`, tone(seconds, 48000, 120 + 40 * e + 5 * a, a * 10 + e), 48000);
    }
  }
  for (let a = 0; a < (spec.cremaActors ?? 2); a++) {
    for (const [e, code] of ['ANG', 'SAD', 'NEU'].entries()) {
      put(`Crema/${1001 + a}_DFA_${code}_XX.wav`, tone(seconds, 16000, 150 + 30 * e + 7 * a, 100 + a * 10 + e), 16000);
    }
  }
  for (const rel of spec.corrupt ?? []) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt '));
  }
  return written;
}
