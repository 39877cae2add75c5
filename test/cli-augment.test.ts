// `ser augment` as a user runs it.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { native } from '../src/native';
import { CLI, tempDir } from './helpers/paths';
import { estimateF0, harmonicTone } from './helpers/signals';

const dir = tempDir('cli-augment');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const input = path.join(dir, 'tone.wav');
fs.writeFileSync(input, native.encodeWav16(harmonicTone(200, 1, 22050), 22050));

function ser(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('writes a 16-bit WAV with the effects applied, at the file rate', () => {
  const out = path.join(dir, 'up.wav');
  const run = ser('augment', input, '-o', out, '--pitch', '2', '--stretch', '1.25', '--json');
  expect(run.code).toBe(0);
  const summary = JSON.parse(run.stdout);
  expect(summary.steps.map((s: { kind: string }) => s.kind)).toEqual(['pitch', 'stretch']);
  const wav = native.decodeWav(fs.readFileSync(out));
  expect(wav).toMatchObject({ sampleRate: 22050, channels: 1, bitsPerSample: 16 });
  expect(wav.samples.length).toBe(Math.round(22050 / 1.25));
  expect(Math.abs(estimateF0(wav.samples, 22050) / (200 * 2 ** (2 / 12)) - 1)).toBeLessThan(0.01);
});

test('--sample-rate resamples first; --shift, --speed and --noise-snr are accepted', () => {
  const out = path.join(dir, 'all.wav');
  const run = ser('augment', input, '-o', out, '--sample-rate', '16000', '--shift', '0.1', '--shift-mode', 'zero',
    '--speed', '0.9', '--noise-snr', '20', '--noise-color', 'pink', '--seed', '7');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/speed -> shift -> noise/);
  expect(native.decodeWav(fs.readFileSync(out)).sampleRate).toBe(16000);
});

test.each([
  [['--stretch', '3']], [['--pitch', '20']], [['--noise-snr', 'loud']], [['--shift-mode', 'wrap', '--shift', '1']], [[]],
])('bad options exit 2: %j', (extra) => {
  expect(ser('augment', input, '-o', path.join(dir, 'x.wav'), ...extra).code).toBe(2);
});

test('a bad file exits 1 naming it', () => {
  const bad = path.join(dir, 'bad.wav');
  fs.writeFileSync(bad, Buffer.from('RIFF'));
  const run = ser('augment', bad, '-o', path.join(dir, 'y.wav'), '--pitch', '1');
  expect(run.code).toBe(1);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toContain(bad);
});
