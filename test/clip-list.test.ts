// Your own corpus: a clip list (path,label,speaker[,gender,corpus]) with any labels prepares, trains,
// evaluates and predicts with those labels; bad rows are recorded and skipped; a bad header is refused
// by name. The four file-name conventions (and the bundle) still give the caches they gave before.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import { evaluate, InputFileError, loadModel, OptionsError, predictFiles, prepare, shutdown, synthesize, train } from '../src/index';
import { readManifest } from '../src/data/cache';
import { csvCells, labelOrder, readClipList } from '../src/data/clip-list';
import { scanDataset } from '../src/data/scan';
import { CLI, tempDir } from './helpers/paths';

const work = tempDir('clip-list');
afterAll(async () => {
  await shutdown();
  fs.rmSync(work, { recursive: true, force: true });
});

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The shards' bytes and the manifest (less the absolute root and the version that wrote it) as one digest. */
function cacheDigest(dir: string): string {
  const shards = fs.readdirSync(dir).filter((f) => /^(features|audio)-\d{5}\.npy$/.test(f)).sort();
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  delete manifest.corpusRoot;
  delete manifest.createdBy;
  return sha256(`${shards.map((f) => `${f}:${sha256(fs.readFileSync(path.join(dir, f)))}`).join('\n')}\n${JSON.stringify(manifest)}`);
}

test('the four conventions and the bundle give byte-identical caches to before clip lists existed', async () => {
  // Digests first recorded with commit 37b6957 (before clip lists and stratified splits), same corpora
  // and options; the ravdess case has augmented copies, the crema case kept audio. They held until the
  // features' arithmetic changed on purpose (a float32 STFT in 3267aba, then the DCT summed input by
  // input; then, in b0f7073, the mel filters and |X|^2 taken with fused multiply-adds by the 16-lane
  // feature stages; then, in 54f32d3, the decimator skipping the resampling filter's exact zeros and the
  // window multiplied in float): these were recorded after the last such change, whose parent (17719c3)
  // still gave the digests before it.
  const before: Record<string, string> = {
    ravdess: '327131b6acb6d02c145b8fc6922715248f5500c7a5e7294e5b8c071d5f3ee76d',
    crema: '24bd463368a7cf97136a52140bdf3518770d0a91d976d9d51761e651e5e601b1',
    tess: '1c1683058f88e81ef03a2ba5831f4e153f75e5cbfd0c54c71d8f9e55acb9660e',
    savee: 'f926271eaceae3be70520049101823ff83a4814260fed887267852833ce1188c',
    bundle: 'd42094dd0b3adc8a5df6b4ef2a19cbb52f7d25821b5b88d1717713b37809deb4',
  };
  const now: Record<string, string> = {};
  for (const corpus of ['ravdess', 'crema', 'tess', 'savee', 'bundle'] as const) {
    const data = path.join(work, 'conventions', corpus);
    const cache = path.join(work, 'conventions', `${corpus}-cache`);
    await synthesize(data, { corpus, speakers: corpus === 'tess' ? 2 : 3, clipsPerClass: 1, seconds: 0.8, seed: 5 });
    await prepare({
      dataset: data, output: cache, corpus: corpus === 'bundle' ? 'auto' : corpus, features: { nMfcc: 13 }, durationSeconds: 0.8, offsetSeconds: 0,
      shardRows: 16, workers: 1, augment: corpus === 'ravdess' ? ['noise', 'pitch'] : null, copies: corpus === 'ravdess' ? 1 : undefined,
      keepAudio: corpus === 'crema', overwrite: true,
    });
    expect(readManifest(cache).labels).toBeUndefined();
    now[corpus] = cacheDigest(cache);
  }
  expect(now).toEqual(before);
}, 120_000);

test('CSV cells: quotes, doubled quotes, commas inside quotes, an unclosed quote', () => {
  expect(csvCells('a.wav,happy,s1')).toEqual(['a.wav', 'happy', 's1']);
  expect(csvCells('"my, file.wav", "say ""hi""" ,s1,')).toEqual(['my, file.wav', 'say "hi"', 's1', '']);
  expect(csvCells('"open.wav,happy')).toBe('a quoted cell is not closed');
  expect(labelOrder(['boredom', 'sad', 'anxious', 'neutral', 'sad'])).toEqual(['neutral', 'sad', 'anxious', 'boredom']);
});

describe('a corpus of five labels from a clip list', () => {
  const data = path.join(work, 'own');
  const list = path.join(data, 'clips.csv');
  const cache = path.join(work, 'own-cache');
  const run = path.join(work, 'own-run');
  // calm becomes a label the eight do not have; fearful, disgust and surprised are left out.
  const relabel: Record<string, string> = { neutral: 'neutral', calm: 'bored', happy: 'happy', sad: 'sad', angry: 'angry' };
  const labels = ['neutral', 'happy', 'sad', 'angry', 'bored'];
  let listed = 0;

  beforeAll(async () => {
    await synthesize(path.join(data, 'audio'), { corpus: 'ravdess', speakers: 6, clipsPerClass: 2, seconds: 1.0, seed: 9 });
    const clips = scanDataset(path.join(data, 'audio'), 'ravdess').clips.filter((c) => relabel[c.emotion]);
    listed = clips.length;
    const lines = ['speaker,path,label,gender', ...clips.map((c) => `${c.speaker.split(':')[1]},audio/${c.id},${relabel[c.emotion]},${c.gender ?? ''}`)];
    lines.push('07,audio/missing.wav,happy,', '07,"audio/Actor_01/03-01-01-01-01-01-01.wav",,', '07,audio/Actor_01/03-01-01-01-01-01-01.wav,sad,female,extra');
    fs.writeFileSync(list, `${lines.join('\n')}\n`);
  }, 120_000);

  test('prepare records the labels in their order and each bad row with its reason', async () => {
    const summary = await prepare({ manifest: list, output: cache, features: { nMfcc: 20 }, durationSeconds: 1.0, offsetSeconds: 0 });
    expect(summary.rows).toBe(listed);
    expect(summary.skipped).toBe(3);
    const manifest = readManifest(cache);
    expect(manifest.labels).toEqual(labels);
    expect(manifest.corpus).toBe('manifest');
    expect(new Set(manifest.items.map((i) => i.emotion))).toEqual(new Set(labels));
    expect(manifest.items.every((i) => i.speaker.startsWith('clips:') && i.corpus === 'clips')).toBe(true);
    expect(manifest.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(/^clips\.csv line \d+: no such file .*missing\.wav$/),
      expect.stringMatching(/^clips\.csv line \d+: empty label$/),
      expect.stringMatching(/^clips\.csv line \d+: 5 cells where the header has 4 columns/),
    ]);
  }, 120_000);

  test('train, evaluate and predict speak the five labels', async () => {
    await train({ cache, output: run, model: 'small', epochs: 2, batchSize: 8, valSpeakers: ['clips:05'], testSpeakers: ['clips:06'], threads: 1, backend: 'native' });
    const evaluation = await evaluate(run, { backend: 'native', threads: 1 });
    expect(evaluation.folds[0].metrics.labels).toEqual(labels);
    expect(evaluation.folds[0].metrics.confusion.length).toBe(5);
    expect(fs.readFileSync(evaluation.files.report, 'utf8')).toContain('bored');
    const model = await loadModel(run, { backend: 'native', threads: 1 });
    try {
      expect(model.labels).toEqual(labels);
      const file = readManifest(cache).items.find((i) => i.emotion === 'bored')?.id as string;
      const [prediction] = await predictFiles(model, [path.join(data, file)]);
      if ('error' in prediction) throw new Error(prediction.error);
      expect(Object.keys(prediction.probabilities)).toEqual(labels);
      expect(labels).toContain(prediction.emotion);
    } finally {
      model.dispose();
    }
  }, 180_000);

  test('a header with an unknown or a missing column is refused by name; a list with no usable row too', () => {
    const bad = path.join(work, 'bad.csv');
    fs.writeFileSync(bad, 'path,label,speaker,mood\na.wav,happy,1,x\n');
    expect(() => readClipList(bad)).toThrow(InputFileError);
    expect(() => readClipList(bad)).toThrow(/bad\.csv: unknown column 'mood' in the header \(columns: path, label, speaker, gender, corpus\)/);
    fs.writeFileSync(bad, 'path,label\na.wav,happy\n');
    expect(() => readClipList(bad)).toThrow(/the header lacks the column speaker/);
    fs.writeFileSync(bad, 'path,label,speaker\nnothing.wav,happy,1\n');
    expect(() => readClipList(bad)).toThrow(/no usable clip in the list \(1 bad rows; the first: bad\.csv line 2: no such file/);
  });

  test('the CLI prepares from --manifest and refuses a folder and a list together, or neither', async () => {
    const out = path.join(work, 'cli-cache');
    const ok = spawnSync(process.execPath, [CLI, 'prepare', '--manifest', list, '-o', out, '--n-mfcc', '13', '--duration', '1', '--json'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rows: listed, skipped: 3 });
    const both = spawnSync(process.execPath, [CLI, 'prepare', data, '--manifest', list, '-o', out], { encoding: 'utf8' });
    expect(both.status).not.toBe(0);
    expect(both.stderr).toMatch(/a dataset folder or a clip list \(--manifest\), not both/);
    const neither = spawnSync(process.execPath, [CLI, 'prepare', '-o', out], { encoding: 'utf8' });
    expect(neither.stderr).toMatch(/needs a dataset folder or --manifest/);
    await expect(prepare({ manifest: list, output: out, corpus: 'crema' })).rejects.toThrow(OptionsError);
  }, 120_000);
});
