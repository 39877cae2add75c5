// `ser prepare` and `ser merge` as a user runs them: shapes and labels, NPY readable and equal to
// `ser features`, corrupt files, resume after kill -9, slices and merge, refusing a changed config.
import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import type { Manifest } from '../src/data/cache';
import { resolveSlice } from '../src/clips/prepare-api';
import { planCorpus } from '../src/synth/corpus';
import { native } from '../src/native';
import { loadNpy } from './helpers/npy-reader';
import { CLI, tempDir } from './helpers/paths';
import { writeDataset } from './helpers/dataset';

const work = tempDir('prepare');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function ser(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}
const manifestOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
function row(cache: string, manifest: Manifest, index: number): Float32Array {
  const item = manifest.items[index];
  const shard = loadNpy(path.join(cache, manifest.shards[item.shard].file));
  const size = shard.shape[1] * shard.shape[2];
  return shard.data.subarray(item.row * size, (item.row + 1) * size);
}

const dataset = path.join(work, 'data');
const clips = writeDataset(dataset, { corrupt: ['Crema/1009_DFA_HAP_XX.wav'] });

describe('a prepared cache', () => {
  const cache = path.join(work, 'cache');
  let run: ReturnType<typeof ser>;
  let manifest: Manifest;
  beforeAll(() => {
    run = ser(['prepare', dataset, '-o', cache, '--augment', 'noise,pitch,stretch', '--copies', '2', '--shard-rows', '7', '--json']);
    manifest = manifestOf(cache);
  });

  test('finishes with exit 0, listing the corrupt file in failures with its reason', () => {
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/3 clip\(s\) failed/);
    expect(manifest.failures.map((f) => [f.path, f.copy])).toEqual([
      ['Crema/1009_DFA_HAP_XX.wav', 0], ['Crema/1009_DFA_HAP_XX.wav', 1], ['Crema/1009_DFA_HAP_XX.wav', 2],
    ]);
    expect(manifest.failures[0].reason).toMatch(/no fmt chunk/);
  });

  test('has one original and two augmented rows per good clip, shaped [rows, 301, 40]', () => {
    expect(manifest.items).toHaveLength(clips.length * 3);
    expect([manifest.frames, manifest.coeffs]).toEqual([301, 40]);
    let rows = 0;
    for (const shard of manifest.shards) {
      const npy = loadNpy(path.join(cache, shard.file));
      expect(npy.shape).toEqual([shard.rows, 301, 40]);
      expect(sha(path.join(cache, shard.file))).toBe(shard.sha256);
      rows += shard.rows;
    }
    expect(rows).toBe(manifest.items.length);
  });

  test('labels and speakers come from the file names; augmented rows trace back to their source', () => {
    const originals = manifest.items.filter((i) => !i.augmented);
    expect(originals.map((i) => i.id).sort()).toEqual([...clips].sort());
    const angry = originals.find((i) => i.id === 'Ravdess/Actor_02/03-01-05-01-01-01-02.wav');
    expect(angry).toMatchObject({ corpus: 'ravdess', speaker: 'ravdess:02', gender: 'female', emotion: 'angry', intensity: 'normal' });
    expect(originals.find((i) => i.id === 'Crema/1002_DFA_SAD_XX.wav')).toMatchObject({ corpus: 'crema', speaker: 'crema:1002', emotion: 'sad' });
    for (const copy of manifest.items.filter((i) => i.augmented)) {
      const source = originals.find((o) => o.id === copy.id);
      expect(source).toBeDefined();
      expect([copy.speaker, copy.emotion, copy.corpus]).toEqual([source?.speaker, source?.emotion, source?.corpus]);
      expect(copy.augmentation?.steps.length).toBeGreaterThan(0);
      expect([1, 2]).toContain(copy.augmentation?.copy);
      // An augmented row differs from its source row.
      const a = row(cache, manifest, manifest.items.indexOf(copy));
      const b = row(cache, manifest, manifest.items.indexOf(source as (typeof originals)[number]));
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(false);
    }
  });

  test('--strict makes the same failures exit 1', () => {
    const strict = ser(['prepare', dataset, '-o', path.join(work, 'strict'), '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/1 clip\(s\) failed \(--strict\)/);
  });

  test('a second run with the same command resumes everything; a changed config is refused', () => {
    const again = ser(['prepare', dataset, '-o', cache, '--augment', 'noise,pitch,stretch', '--copies', '2', '--shard-rows', '7', '--json']);
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout);
    expect(summary.resumedShards).toBe(summary.shards);
    const changed = ser(['prepare', dataset, '-o', cache, '--augment', 'noise,pitch,stretch', '--copies', '2', '--shard-rows', '7', '--n-mels', '80']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/holds a cache made with a different featureConfig.*--overwrite/);
  });
});

test('NPY rows equal `ser features` of the same clip (crop = whole clip)', () => {
  const cache = path.join(work, 'whole');
  expect(ser(['prepare', dataset, '-o', cache, '--offset', '0', '--duration', '3.5']).code).toBe(0);
  const manifest = manifestOf(cache);
  for (const id of ['Crema/1001_DFA_ANG_XX.wav', 'Ravdess/Actor_01/03-01-08-01-01-01-01.wav']) {
    const out = path.join(work, `${path.basename(id)}.npy`);
    expect(ser(['features', path.join(dataset, id), '-o', out]).code).toBe(0);
    const expected = loadNpy(out);
    const actual = row(cache, manifest, manifest.items.findIndex((i) => i.id === id));
    expect(expected.shape).toEqual([351, 40]);
    expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.data.buffer))).toBe(true);
  }
});

test('--keep-audio stores each row\'s cropped 16 kHz clip next to its features', () => {
  const cache = path.join(work, 'audio');
  expect(ser(['prepare', dataset, '-o', cache, '--keep-audio', '--offset', '0.25', '--duration', '2']).code).toBe(0);
  const manifest = manifestOf(cache);
  const item = manifest.items.findIndex((i) => i.id === 'Ravdess/Actor_01/03-01-05-01-01-01-01.wav');
  const shard = manifest.shards[manifest.items[item].shard];
  const audio = loadNpy(path.join(cache, shard.audioFile as string));
  expect(audio.shape).toEqual([shard.rows, 32000]);
  expect(sha(path.join(cache, shard.audioFile as string))).toBe(shard.audioSha256);
  const stored = audio.data.subarray(manifest.items[item].row * 32000, (manifest.items[item].row + 1) * 32000);
  const decoded = native.decodeWav(fs.readFileSync(path.join(dataset, manifest.items[item].id)));
  const expected = native.resample(decoded.samples, decoded.sampleRate, 16000).subarray(4000, 36000);
  expect(Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))).toBe(true);
});

test('kill -9 mid-run, run again: shards byte-identical to an uninterrupted run', async () => {
  const big = path.join(work, 'big');
  // Long enough (1,674 rows, ~1 s of work after start-up) that shards keep landing well after the first.
  writeDataset(big, { ravdessActors: 24, cremaActors: 30 });
  const args = (out: string) => [CLI, 'prepare', big, '-o', out, '--augment', 'pitch,stretch,noise', '--copies', '8',
    '--shard-rows', '24', '--workers', '1', '--clips-per-task', '1'];
  const reference = path.join(work, 'reference');
  expect(spawnSync(process.execPath, args(reference)).status).toBe(0);
  const interrupted = path.join(work, 'interrupted');
  const child = spawn(process.execPath, args(interrupted), { stdio: 'ignore' });
  // Kill as soon as the first shard is finished, long before the last one.
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (fs.existsSync(path.join(interrupted, 'features-00000.json'))) {
        child.kill('SIGKILL');
        clearInterval(poll);
        resolve();
      }
    }, 5);
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`prepare exited (${code}) before its first shard was seen: nothing to interrupt`));
    });
  });
  await new Promise((resolve) => child.once('exit', resolve));
  const referenceManifest = manifestOf(reference);
  const shardCount = referenceManifest.shards.length;
  const finishedBefore = fs.readdirSync(interrupted).filter((f) => /^features-\d+\.json$/.test(f)).length;
  expect(finishedBefore).toBeLessThan(shardCount);
  expect(fs.existsSync(path.join(interrupted, 'manifest.json'))).toBe(false);
  const resumed = spawnSync(process.execPath, [...args(interrupted), '--json'], { encoding: 'utf8' });
  expect(resumed.status).toBe(0);
  expect(JSON.parse(resumed.stdout).resumedShards).toBeGreaterThanOrEqual(finishedBefore);
  for (let s = 0; s < shardCount; s++) {
    const file = referenceManifest.shards[s].file;
    expect(sha(path.join(interrupted, file))).toBe(sha(path.join(reference, file)));
  }
  expect(manifestOf(interrupted).items).toEqual(referenceManifest.items);
}, 120000);

describe('slices and merge', () => {
  test('the union of --shard 0/3, 1/3, 2/3 merged equals the unsharded cache, row for row', () => {
    const common = ['--augment', 'noise,shift', '--copies', '1', '--shard-rows', '5'];
    const whole = path.join(work, 'unsharded');
    expect(ser(['prepare', dataset, '-o', whole, ...common]).code).toBe(0);
    const parts = [0, 1, 2].map((k) => path.join(work, `part${k}`));
    expect(ser(['prepare', dataset, '-o', parts[0], '--shard', '0/3', ...common]).code).toBe(0);
    // K from the environment, as in a Kubernetes Indexed Job or a Slurm array.
    expect(ser(['prepare', dataset, '-o', parts[1], '--shards', '3', ...common], { JOB_COMPLETION_INDEX: '1' }).code).toBe(0);
    expect(ser(['prepare', dataset, '-o', parts[2], '--shards', '3', ...common], { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '1' }).code).toBe(0);
    const merged = path.join(work, 'merged');
    expect(ser(['merge', ...parts, '-o', merged]).code).toBe(0);

    const a = manifestOf(whole);
    const b = manifestOf(merged);
    const key = (i: Manifest['items'][number]) => `${i.id}#${i.augmentation?.copy ?? 0}`;
    expect(b.items.map(key).sort()).toEqual(a.items.map(key).sort());
    expect(b.failures).toHaveLength(a.failures.length);
    for (const [index, item] of b.items.entries()) {
      const x = row(merged, b, index);
      const y = row(whole, a, a.items.findIndex((i) => key(i) === key(item)));
      expect(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))).toBe(true);
    }
  });

  test('merging different configs, or an incomplete set of slices, is refused before anything is written', () => {
    const [a, b, other] = ['slice-a', 'slice-b', 'other-config'].map((n) => path.join(work, n));
    expect(ser(['prepare', dataset, '-o', a, '--shard', '0/3']).code).toBe(0);
    expect(ser(['prepare', dataset, '-o', b, '--shard', '1/3']).code).toBe(0);
    expect(ser(['prepare', dataset, '-o', other, '--n-mfcc', '20', '--shard', '2/3']).code).toBe(0);
    const differentConfig = ser(['merge', a, b, other, '-o', path.join(work, 'bad-merge')]);
    expect(differentConfig.code).toBe(1);
    expect(differentConfig.stderr).toMatch(/different featureConfig/);
    const incomplete = ser(['merge', a, b, '-o', path.join(work, 'bad-merge')]);
    expect(incomplete.code).toBe(1);
    expect(incomplete.stderr).toMatch(/slices of 3 must each be given once: missing 2/);
    expect(fs.existsSync(path.join(work, 'bad-merge', 'manifest.json'))).toBe(false);
  });
});

describe('guarding a cache folder', () => {
  test('a live prepare\'s lock refuses a second one; a dead one\'s lock is taken over', () => {
    const cache = path.join(work, 'locked');
    fs.mkdirSync(cache, { recursive: true });
    fs.writeFileSync(path.join(cache, 'prepare.lock'), String(process.pid));
    const refused = ser(['prepare', dataset, '-o', cache]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`another ser prepare \\(pid ${process.pid}\\) is writing`));
    fs.writeFileSync(path.join(cache, 'prepare.lock'), '999999999');
    expect(ser(['prepare', dataset, '-o', cache]).code).toBe(0);
    expect(fs.existsSync(path.join(cache, 'prepare.lock'))).toBe(false);
  });

  test('a clip changed on disk since the cache was started is refused on resume', () => {
    const data = path.join(work, 'changing');
    writeDataset(data, { ravdessActors: 1, cremaActors: 1 });
    const cache = path.join(work, 'changing-cache');
    expect(ser(['prepare', data, '-o', cache]).code).toBe(0);
    const file = path.join(data, 'Crema/1001_DFA_ANG_XX.wav');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const again = ser(['prepare', data, '-o', cache]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/different clips/);
  });
});

describe('slice selection', () => {
  test('--shard K/N, and K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID', () => {
    expect(resolveSlice('2/5', undefined, {})).toEqual({ index: 2, count: 5 });
    expect(resolveSlice(undefined, 4, { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4 });
    expect(resolveSlice(undefined, 4, { SLURM_ARRAY_TASK_ID: '2' })).toEqual({ index: 2, count: 4 });
    expect(resolveSlice(undefined, undefined, {})).toBeNull();
    expect(() => resolveSlice('5/5', undefined, {})).toThrow(/K must be 0..N-1/);
    expect(() => resolveSlice('x', undefined, {})).toThrow(/K\/N/);
    expect(() => resolveSlice(undefined, 4, {})).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => resolveSlice(undefined, 4, { JOB_COMPLETION_INDEX: '4' })).toThrow(/outside 0..3/);
  });

  test('bad prepare options exit 2', () => {
    for (const extra of [['--copies', '2'], ['--augment', 'reverb'], ['--workers', '0'], ['--shard', '3/3'], ['--duration', '-1'], ['--n-fft', '7']]) {
      expect(ser(['prepare', dataset, '-o', path.join(work, 'never'), ...extra]).code).toBe(2);
    }
  });
});

test('ser synth + ser prepare end to end: shapes, labels and speakers as synthesised, copies traceable', () => {
  const synthDir = path.join(work, 'synth-bundle');
  const synth = ser(['synth', synthDir, '--corpus', 'bundle', '--speakers', '2', '--clips-per-class', '1', '--seed', '3', '--json']);
  expect(synth.code).toBe(0);
  expect(JSON.parse(synth.stdout).corpora).toEqual({ ravdess: 16, crema: 12, tess: 14, savee: 14 });
  const cache = path.join(work, 'synth-cache');
  expect(ser(['prepare', synthDir, '-o', cache, '--augment', 'pitch,noise', '--copies', '1']).code).toBe(0);
  const manifest = manifestOf(cache);
  expect(manifest.failures).toEqual([]);
  expect(manifest.skipped).toEqual([]);
  expect(manifest.items).toHaveLength(56 * 2);
  // Planned labels, from the synthesiser's own plan (independent of the adapters).
  const plan = new Map(planCorpus({ corpus: 'bundle', speakers: 2, clipsPerClass: 1, seed: 3 }).map((c) => [c.path, c]));
  for (const item of manifest.items) {
    const planned = plan.get(item.id);
    expect(planned).toBeDefined();
    expect([item.corpus, item.speaker, item.emotion]).toEqual([planned?.corpus, planned?.speaker, planned?.emotion]);
    // CREMA-D names carry no sex; the other corpora's names do.
    expect(item.gender).toBe(item.corpus === 'crema' ? null : planned?.gender);
    expect(item.seconds).toBeCloseTo(planned?.seconds ?? 0, 3);
  }
  expect(new Set(manifest.items.map((i) => i.speaker)).size).toBe(2 + 2 + 2 + 2);
  for (const shard of manifest.shards) expect(loadNpy(path.join(cache, shard.file)).shape.slice(1)).toEqual([301, 40]);
  const copies = manifest.items.filter((i) => i.augmented);
  expect(copies).toHaveLength(56);
  for (const copy of copies) expect(manifest.items.some((o) => !o.augmented && o.id === copy.id && o.speaker === copy.speaker)).toBe(true);
});
