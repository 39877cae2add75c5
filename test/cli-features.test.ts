// `ser features` as a user runs it: the built CLI in a child process.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { extractFeaturesSync } from '../src/clips/extract';
import { native } from '../src/native';
import { loadNpy } from './helpers/npy-reader';
import { CLI, FIXTURES, maxAbsDiff, tempDir } from './helpers/paths';
import { writeWav } from './helpers/wav-writer';

function ser(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const dir = tempDir('cli-features');
const source = path.join(FIXTURES, 'speech_a_source48k_s16.wav');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('writes float32 NPY [frames, coeffs] equal to the library API and prints --json', () => {
  const out = path.join(dir, 'a.npy');
  const run = ser('features', source, '-o', out, '--json');
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({ frames: 151, coeffs: 40, sampleRate: 16000, sourceSampleRate: 48000, seconds: 1.5 });
  const written = loadNpy(out);
  const expected = extractFeaturesSync(fs.readFileSync(source));
  expect(written.shape).toEqual([151, 40]);
  expect(maxAbsDiff(written.data, expected.data)).toBe(0);
});

test('feature options reach the pipeline', () => {
  const out = path.join(dir, 'b.npy');
  const run = ser('features', source, '-o', out, '--kind', 'logmel', '--n-mels', '80', '--hop-length', '320',
    '--n-fft', '1024', '--win-length', '800', '--mel-scale', 'htk', '--mel-norm', 'none', '--top-db', 'none',
    '--fmin', '50', '--fmax', '7600', '--no-center', '--sample-rate', '16000');
  expect(run.code).toBe(0);
  const written = loadNpy(out);
  const expected = extractFeaturesSync(fs.readFileSync(source), {
    kind: 'logmel', nMels: 80, hopLength: 320, nFft: 1024, winLength: 800, melScale: 'htk', melNorm: 'none',
    topDb: null, fmin: 50, fmax: 7600, center: false,
  });
  expect(written.shape).toEqual([1 + Math.floor((24000 - 1024) / 320), 80]);
  expect(maxAbsDiff(written.data, expected.data)).toBe(0);
});

test('--n-mfcc and --sample-rate change shape and resampling', () => {
  const run = ser('features', source, '--json', '--n-mfcc', '13', '--sample-rate', '8000');
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ frames: 1 + Math.floor(12000 / 160), coeffs: 13, sampleRate: 8000 });
});

describe('a malformed file exits 1 with one line naming the file', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['empty.wav', Buffer.alloc(0), /file is empty/],
    ['nodata.wav', writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'pcm', bits: 16 }, codes: [] }).subarray(0, 36), /no data chunk/],
    ['nan.wav', writeWav({ sampleRate: 16000, channels: 1, encoding: { format: 'float', bits: 32 }, codes: [0, NaN] }), /NaN/],
  ];
  test.each(cases)('%s', (name, bytes, reason) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    const run = ser('features', file, '-o', path.join(dir, 'x.npy'));
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(file);
    expect(lines[0]).toMatch(reason);
    expect(fs.existsSync(path.join(dir, 'x.npy'))).toBe(false);
  });

  test('a missing file', () => {
    const run = ser('features', path.join(dir, 'missing.wav'), '--json');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/missing\.wav: no such file/);
  });

  // A clip (the addon's async work) and a recording over 1 MiB (streamed in a worker) alike.
  const long = path.join(dir, 'long-40s.wav');
  test.each([['a clip', source], ['a recording over 1 MiB', long]])('an output that cannot be written is named, and nothing is left behind: %s', (_kind, input) => {
    if (input === long && !fs.existsSync(long)) {
      fs.writeFileSync(long, native.encodeWav16(Float32Array.from({ length: 16000 * 40 }, (_, i) => 0.3 * Math.sin(i * 0.05)), 16000));
      expect(fs.statSync(long).size).toBeGreaterThan(1 << 20);
    }
    const output = path.join(dir, 'no-such-folder', 'x.npy');
    const run = ser('features', input, '-o', output);
    expect(run.code).toBe(1);
    // The output the user named and the system's reason, not the temporary file the write went through.
    expect(run.stderr.trim().split('\n')[0]).toContain(`${output}: cannot write: ENOENT: no such file or directory`);
    expect(run.stderr).not.toMatch(/\.\d+\.tmp/);
    expect(fs.existsSync(path.dirname(output))).toBe(false);
    // A folder where the NPY should go: the temporary file is written, the rename refused, and the
    // temporary file removed.
    const folder = path.join(dir, 'taken.npy');
    fs.mkdirSync(folder, { recursive: true });
    const refused = ser('features', input, '-o', folder);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')[0]).toContain(`${folder}: cannot write: EISDIR`);
    expect(refused.stderr).not.toMatch(/\.\d+\.tmp/);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('taken.npy.'))).toEqual([]);
  });
});

describe('bad options exit 2', () => {
  test.each([
    [['--n-fft', 'abc']],
    [['--n-fft', '511']],
    [['--kind', 'cqt']],
    [['--top-db', 'loud']],
    [['--fmax', '9000']],
    [['--unknown-flag']],
    [[]], // neither -o nor --json
  ])('%j', (extra) => {
    const run = ser('features', source, ...extra);
    expect(run.code).toBe(2);
    expect(run.stderr.length).toBeGreaterThan(0);
  });

  test('a missing input argument', () => {
    expect(ser('features').code).toBe(2);
  });
});

test('--help and --version exit 0', () => {
  expect(ser('--help').code).toBe(0);
  expect(ser('features', '--help').code).toBe(0);
  expect(ser('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
});
