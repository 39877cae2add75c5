// The trainer end to end through the CLI: learning above chance on held-out speakers, the run folder,
// eval's outputs, predict's per-file errors, exact resume after kill -9, folds, a missing backend.
import { spawn, spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { selectBackend } from '../src/backend';
import { native } from '../src/native';
import { loadModelFolder } from '../src/train/checkpoint';
import { CLI, maxAbsDiff, tempDir } from './helpers/paths';
import { predictWithStockTfjs } from './helpers/stock-tfjs';
import { writeDataset } from './helpers/dataset';

const work = tempDir('train');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function ser(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function expectOk(run: SpawnSyncReturns<string>): void {
  if (run.status !== 0) throw new Error(`exit ${run.status} ${run.signal ?? ''}: ${run.stderr}`);
}

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

describe('on a synthesised RAVDESS-layout corpus (native backend)', () => {
  const corpus = path.join(work, 'synth');
  const cache = path.join(work, 'synth-cache');
  const run = path.join(work, 'synth-run');
  const testSpeakers = ['ravdess:07', 'ravdess:08'];
  let trainOutput: SpawnSyncReturns<string>;

  beforeAll(() => {
    expectOk(ser(['synth', corpus, '--corpus', 'ravdess', '--speakers', '8', '--clips-per-class', '4', '--seconds', '2', '--seed', '5']));
    expectOk(ser(['prepare', corpus, '-o', cache, '--offset', '0.1', '--duration', '1.5', '--n-mfcc', '20']));
    trainOutput = ser([
      'train', cache, '-o', run, '--model', 'small', '--epochs', '20', '--batch-size', '16', '--lr', '3e-3', '--seed', '3',
      '--test-speakers', testSpeakers.join(','), '--val-speakers', 'ravdess:06', '--backend', 'native',
      // Speaker normalisation (not the default): eval then also scores with speaker statistics, which
      // the tests below compare with ser predict --speaker-map and --enroll.
      '--normalize', 'speaker',
      // 1 MiB holds 86 of the 160 training rows: they stream through a shuffle window, as a cache
      // larger than the memory budget does.
      '--cache-memory', '1',
    ]);
  }, 240_000);

  test('the small model learns: test UAR on two held-out speakers is far above chance', () => {
    expectOk(trainOutput);
    expect(trainOutput.stderr).toMatch(/^backend: native/m);
    expect(trainOutput.stderr).toMatch(/^data: 160 training rows \(2 MiB\) streamed shard by shard through a shuffle window of 86 rows/m);
    const evaluation = ser(['eval', run, '--json', '--backend', 'native']);
    expectOk(evaluation);
    const result = JSON.parse(evaluation.stdout) as {
      uar: { mean: number }; accuracy: { mean: number }; optimistic: boolean; baseline: { uar: { mean: number } };
      folds: { rows: number; testSpeakers: string[]; uar: number; baseline: { rows: number; uar: number } }[];
    };
    expect(result.optimistic).toBe(false);
    expect(result.folds[0].testSpeakers).toEqual(testSpeakers);
    expect(result.folds[0].rows).toBe(64);
    // The baseline is scored on exactly the model's test rows, standardised as the headline scores them:
    // under speaker normalisation a lone clip is standardised by its own statistics, which leaves its
    // clip means 0 and standard deviations 1, so the baseline can only guess one class.
    expect(result.folds[0].baseline.rows).toBe(64);
    expect(result.baseline.uar.mean).toBe(result.folds[0].baseline.uar);
    expect(result.folds[0].baseline.uar).toBe(0.125);
    // Same rows, class by class: the two confusion matrices have the same row sums.
    const written = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8')) as { folds: { metrics: { confusion: number[][] }; baseline: { confusion: number[][] } }[] };
    const rowSums = (m: number[][]) => m.map((r) => r.reduce((a, b) => a + b, 0));
    expect(rowSums(written.folds[0].baseline.confusion)).toEqual(rowSums(written.folds[0].metrics.confusion));
    // Chance is 0.125; a guesser's UAR over 64 balanced clips has a std of about 0.04, so 0.30 is more
    // than 4 std above it. The model learned with speaker statistics, so it is judged with them (the
    // speaker-map scoring): seeds 1-6 measured 0.41-0.56 here. The headline scores each clip alone,
    // standardised by its own statistics, which loses what speaker normalisation learned: seeds 1-6
    // measured 0.11-0.30 (the reason global normalisation is the default); the tests below check that
    // it is exactly what ser predict gives.
    const scorings = (JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8')) as { folds: { scorings: Record<string, { uar: number }> }[] }).folds[0].scorings;
    expect(scorings.speakerMap.uar).toBeGreaterThanOrEqual(0.3);
  }, 60_000);

  test('eval\'s headline is each clip scored alone, exactly as ser predict scores the same files one by one; --enroll with a speaker\'s clips equals its speaker map', () => {
    const evaluation = ser(['eval', run, '--json', '--backend', 'native']);
    expectOk(evaluation);
    const result = JSON.parse(evaluation.stdout) as {
      uar: { mean: number }; accuracy: { mean: number };
      scorings: { enrol1: { uar: { mean: number } }; enrol4: { uar: { mean: number } }; speakerMap: { uar: { mean: number } } };
    };
    // One seed: no seed-averaged scoring beside the headline.
    expect((JSON.parse(evaluation.stdout) as { seedAverage: unknown }).seedAverage).toBeNull();
    const manifest = JSON.parse(fs.readFileSync(path.join(cache, 'manifest.json'), 'utf8')) as { items: { path: string; speaker: string; emotion: string; augmented: boolean }[] };
    const tested = manifest.items.filter((item) => testSpeakers.includes(item.speaker) && !item.augmented);
    expect(tested).toHaveLength(64);
    const files = tested.map((item) => path.join(corpus, item.path));
    const predicted = ser(['predict', run, ...files, '--json', '--backend', 'native']);
    expectOk(predicted);
    expect(predicted.stderr).toMatch(/without a speaker map each file is standardised by its own statistics/);
    const emotions = (JSON.parse(predicted.stdout) as { emotion: string }[]).map((p) => p.emotion);
    const labels = [...new Set(tested.map((item) => item.emotion))];
    const recall = labels.map((label) => {
      const of = tested.map((item, i) => ({ item, i })).filter(({ item }) => item.emotion === label);
      return of.filter(({ i }) => emotions[i] === label).length / of.length;
    });
    expect(result.uar.mean).toBeCloseTo(recall.reduce((a, b) => a + b, 0) / labels.length, 10);
    expect(result.accuracy.mean).toBeCloseTo(tested.filter((item, i) => emotions[i] === item.emotion).length / tested.length, 10);
    for (const scoring of [result.scorings.enrol1, result.scorings.enrol4, result.scorings.speakerMap]) expect(scoring.uar.mean).toBeGreaterThan(0.125);
    // Enrolment with all of a speaker's clips gives its speaker map's statistics.
    const speakerFiles = files.filter((_, i) => tested[i].speaker === testSpeakers[0]);
    const map = path.join(work, 'speakers.csv');
    fs.writeFileSync(map, speakerFiles.map((f) => `${f},${testSpeakers[0]}`).join('\n'));
    const byMap = ser(['predict', run, ...speakerFiles.slice(0, 3), '--speaker-map', map, '--json', '--backend', 'native']);
    const byEnrolment = ser(['predict', run, ...speakerFiles.slice(0, 3), '--enroll', speakerFiles.join(','), '--json', '--backend', 'native']);
    expectOk(byMap);
    expectOk(byEnrolment);
    const probabilities = (out: string) => (JSON.parse(out) as { probabilities: Record<string, number> }[]).map((p) => Object.values(p.probabilities));
    // The map's statistics cover all the speaker's files given to the map; enrolment the same files.
    const mapAll = ser(['predict', run, ...speakerFiles, '--speaker-map', map, '--json', '--backend', 'native']);
    expectOk(mapAll);
    expect(maxAbsDiff(probabilities(byEnrolment.stdout).flat(), probabilities(mapAll.stdout).slice(0, 3).flat())).toBeLessThan(1e-5);
    expect(byMap.status).toBe(0);
    const both = ser(['predict', run, files[0], '--enroll', files[1], '--speaker-map', map]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--enroll.*--speaker-map|give one/);
  }, 120_000);

  test('the model trained on native runs in plain @tensorflow/tfjs, without ser-native, as ser runs it', async () => {
    await selectBackend('cpu');
    const { model, preprocessing } = await loadModelFolder(path.join(run, 'model'));
    const shape = [2, preprocessing.frames, preprocessing.coeffs, 1];
    const input = Float32Array.from({ length: 2 * preprocessing.frames * preprocessing.coeffs }, (_, i) => Math.sin(i * 0.11) * 1.5);
    const ours = (model.predict(tf.tensor(input, shape)) as tf.Tensor).dataSync();
    const stock = predictWithStockTfjs(path.join(run, 'model'), input, shape, path.join(work, 'stock-input.bin'));
    expect(stock.loaded).toEqual([]);
    expect(maxAbsDiff(stock.probabilities, ours)).toBeLessThan(1e-6);
    model.dispose();
  });

  test('the run folder: config, speaker-disjoint folds.json, one metrics line per epoch, checkpoints, the best model', () => {
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.settings).toMatchObject({ modelPreset: 'small', epochs: 20, batchSize: 16, seed: 3, split: 'speaker' });
    expect(config.backends[0].backend).toBe('native');
    const [fold] = JSON.parse(fs.readFileSync(path.join(run, 'folds.json'), 'utf8'));
    const { train, val, test: heldOut } = fold.speakers as { train: string[]; val: string[]; test: string[] };
    expect(heldOut).toEqual(testSpeakers);
    expect(val).toEqual(['ravdess:06']);
    for (const s of train) expect([...val, ...heldOut]).not.toContain(s);
    const history = lines(path.join(run, 'metrics.jsonl')).map((l) => JSON.parse(l));
    expect(history.length).toBeGreaterThanOrEqual(9);
    history.forEach((r, i) => {
      expect(r.epoch).toBe(i + 1);
      for (const key of ['loss', 'accuracy', 'valLoss', 'valAccuracy', 'lr', 'seconds', 'samplesPerSecond', 'dataWaitFraction']) expect(Number.isFinite(r[key])).toBe(true);
    });
    expect(history[history.length - 1].loss).toBeLessThan(history[0].loss);
    const checkpoints = fs.readdirSync(path.join(run, 'checkpoints'));
    expect(checkpoints).toContain(`epoch-${String(history.length).padStart(4, '0')}`);
    for (const file of ['model.json', 'weights.bin', 'preprocessing.json']) expect(fs.existsSync(path.join(run, 'model', file))).toBe(true);
    const preprocessing = JSON.parse(fs.readFileSync(path.join(run, 'model', 'preprocessing.json'), 'utf8'));
    expect(preprocessing.labels).toHaveLength(8);
    expect(preprocessing.normalisation.mean).toHaveLength(20);
    expect(preprocessing.featureConfig.nMfcc).toBe(20);
  });

  test('eval writes metrics.json, both pictures and a report that embeds them', () => {
    const metrics = JSON.parse(fs.readFileSync(path.join(run, 'metrics.json'), 'utf8'));
    const confusion: number[][] = metrics.pooled.confusion;
    expect(confusion.flat().reduce((a, b) => a + b, 0)).toBe(64);
    const recalls = confusion.map((row, i) => row[i] / row.reduce((a, b) => a + b, 0));
    expect(metrics.pooled.uar).toBeCloseTo(recalls.reduce((a, b) => a + b, 0) / 8, 10);
    const svg = fs.readFileSync(path.join(run, 'confusion.svg'), 'utf8');
    const counts = [...svg.matchAll(/data-count="(\d+)"/g)].map((m) => Number(m[1]));
    expect(counts).toEqual(confusion.flat());
    const curves = fs.readFileSync(path.join(run, 'curves.svg'), 'utf8');
    expect((curves.match(/class="curve"/g) ?? []).length).toBe(4);
    const report = fs.readFileSync(path.join(run, 'report.html'), 'utf8');
    expect((report.match(/<tr class="class-row">/g) ?? []).length).toBe(8);
    expect(report).toContain('<svg');
    expect(report).toContain('Speaker-independent');
    expect(report).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  test('predict: one good and one bad file give one result, one error, exit 1', () => {
    const good = path.join(corpus, 'Actor_07', fs.readdirSync(path.join(corpus, 'Actor_07'))[0]);
    const bad = path.join(work, 'broken.wav');
    fs.writeFileSync(bad, 'RIFF....WAVEjunk');
    const predicted = ser(['predict', run, good, bad, '--backend', 'native']);
    expect(predicted.status).toBe(1);
    const out = predicted.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(out).toHaveLength(2);
    expect(out[0].file).toBe(good);
    expect(Object.keys(out[0].probabilities)).toHaveLength(8);
    const total = Object.values(out[0].probabilities as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 4);
    expect(out[0].confidence).toBe(Math.max(...Object.values(out[0].probabilities as Record<string, number>)));
    expect(out[1]).toEqual({ file: bad, error: expect.stringMatching(/RIFF|WAVE|short|chunk/i) });
    expect(predicted.stderr).toContain(bad);
    // The same clip, predicted twice in one call, gets the same probabilities; --json gives one array.
    const twice = ser(['predict', run, good, good, '--json', '--backend', 'native']);
    expectOk(twice);
    const array = JSON.parse(twice.stdout);
    expect(array[0].probabilities).toEqual(array[1].probabilities);
    expect(array[0].probabilities).toEqual(out[0].probabilities);
  }, 60_000);
});

describe('on small tone datasets (cpu backend for exact repeatability)', () => {
  const data = path.join(work, 'tones');
  const cache = path.join(work, 'tones-cache');
  beforeAll(() => {
    writeDataset(data, { ravdessActors: 4, cremaActors: 3, seconds: 1 });
    expectOk(ser(['prepare', data, '-o', cache, '--offset', '0', '--duration', '0.4', '--n-mfcc', '12', '--keep-audio', '--augment', 'noise', '--copies', '1']));
  }, 60_000);

  const tiny = ['--model', 'small', '--conv-filters', '4,8', '--lstm-units', '6', '--attention-units', '6', '--batch-size', '8', '--seed', '2'];

  // The native engine (fused ops, 2 threads) as well as the cpu backend: every kernel is deterministic.
  // Native epochs take a fraction of cpu's: more of them leave time to kill the run midway.
  // The third case streams its rows through a window of 10 rows (a budget smaller than the cache); the
  // resume is given no budget and keeps the window its checkpoint records.
  test.each([
    ['cpu', '1', 6, 'rows in memory', []],
    ['native', '2', 16, 'rows in memory', []],
    ['native', '2', 16, 'rows streamed', ['--cache-memory', '0.02']],
  ])('on %s with %s thread(s), %s epochs, %s: kill -9 after an epoch, --resume, and the final weights equal an uninterrupted run\'s', async (backend, threads, epochs, _rows, extra) => {
    const args = ['train', cache, ...tiny, '--epochs', String(epochs), '--backend', backend, '--threads', threads, '--test-speakers', 'crema:1003', '--val-speakers', 'ravdess:04', ...extra];
    const whole = path.join(work, `whole-${backend}-${extra.length}`);
    expectOk(ser([...args, '-o', whole]));
    const interrupted = path.join(work, `interrupted-${backend}-${extra.length}`);
    const child = spawn(process.execPath, [CLI, ...args, '-o', interrupted], { stdio: 'ignore' });
    const metrics = path.join(interrupted, 'metrics.jsonl');
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
      const poll = setInterval(() => {
        if (fs.existsSync(metrics) && lines(metrics).length >= 2) {
          clearInterval(poll);
          child.kill('SIGKILL');
        }
      }, 10);
      child.on('exit', (_code, sig) => {
        clearInterval(poll);
        resolve(sig);
      });
    });
    expect(signal).toBe('SIGKILL');
    const doneBeforeKill = lines(metrics).length;
    expect(doneBeforeKill).toBeLessThan(epochs);
    const resumed = ser(['train', '-o', interrupted, '--resume', '--backend', backend, '--threads', threads]);
    expectOk(resumed);
    expect(resumed.stderr).toMatch(extra.length > 0 ? /^data: \d+ training rows .* shuffle window of 10 rows/m : /^data: \d+ training rows .* in memory/m);
    const last = `checkpoints/epoch-${String(epochs).padStart(4, '0')}`;
    for (const file of [`${last}/weights.bin`, `${last}/optimizer.bin`, 'model/weights.bin']) {
      expect(fs.readFileSync(path.join(interrupted, file)).equals(fs.readFileSync(path.join(whole, file)))).toBe(true);
    }
    const strip = (l: string) => {
      const { seconds: _s, samplesPerSecond: _r, dataWaitFraction: _w, ...rest } = JSON.parse(l);
      return rest;
    };
    expect(lines(metrics).map(strip)).toEqual(lines(path.join(whole, 'metrics.jsonl')).map(strip));
    const config = JSON.parse(fs.readFileSync(path.join(interrupted, 'config.json'), 'utf8'));
    expect(config.backends.map((b: { fromEpoch: number }) => b.fromEpoch)).toEqual([0, doneBeforeKill]);
    expect(config.backends.map((b: { backend: string; threads: number }) => `${b.backend}/${b.threads}`)).toEqual([`${backend}/${threads}`, `${backend}/${threads}`]);
    // A finished run resumes to no further work; training over it without --resume is refused.
    expectOk(ser(['train', '-o', interrupted, '--resume', '--backend', backend, '--threads', threads]));
    expect(lines(metrics)).toHaveLength(epochs);
    const again = ser([...args, '-o', interrupted]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already holds a run; resume it with --resume/);
  }, 240_000);

  // On native the CPU trains with the engine's whole-model step (native/nn/model_step.h: weights,
  // moments and averages resident, the tfjs objects updated each epoch), the same code the GPU runs
  // over its own ops. SER_STEP_ENGINE=tfjs keeps the tfjs step (fused ops inside optimizer.minimize):
  // the two runs agree, and a run moves between the two at an epoch boundary.
  test("the engine's whole-model step (also the GPU path's host logic) trains as the tfjs step does, and a run resumes across the two", async () => {
    const args = ['train', cache, ...tiny, '--epochs', '6', '--backend', 'native', '--device', 'cpu', '--threads', '2', '--test-speakers', 'crema:1003', '--val-speakers', 'ravdess:04'];
    const tfjsEnv = { ...process.env, SER_STEP_ENGINE: 'tfjs' };
    const reference = path.join(work, 'engine-reference');
    const referenceRun = spawnSync(process.execPath, [CLI, ...args, '-o', reference], { encoding: 'utf8', env: tfjsEnv });
    expectOk(referenceRun);
    expect(referenceRun.stderr).toMatch(/^device: cpu, the tfjs step on native$/m);
    expect(referenceRun.stderr).toMatch(/^native: 2 convolution blocks and 1 recurrent layer\(s\) fused$/m);
    const engine = path.join(work, 'engine-whole');
    const engineRun = ser([...args, '-o', engine]);
    expectOk(engineRun);
    expect(engineRun.stderr).toMatch(/^device: cpu, the engine's whole-model step$/m);
    expect(engineRun.stderr).not.toMatch(/fused/);
    const config = JSON.parse(fs.readFileSync(path.join(engine, 'config.json'), 'utf8'));
    expect(config.backends.map((b: { device: string }) => b.device)).toEqual(['cpu']);
    const weightsOf = async (run: string) => {
      await selectBackend('cpu');
      const { model } = await loadModelFolder(path.join(run, 'model'));
      const values = model.weights.map((w) => ({ name: w.originalName, data: w.read().dataSync() as Float32Array }));
      model.dispose();
      return values;
    };
    const relative = (a: Float32Array, b: Float32Array) => maxAbsDiff(a, b) / Math.max(1e-6, ...Array.from(b, Math.abs));
    const expected = await weightsOf(reference);
    const strip = (l: string) => {
      const { loss, valLoss } = JSON.parse(l) as { loss: number; valLoss: number };
      return [loss, valLoss];
    };
    const referenceLosses = lines(path.join(reference, 'metrics.jsonl')).map(strip);
    const compare = async (run: string) => {
      const got = await weightsOf(run);
      expect(got.map((w) => w.name)).toEqual(expected.map((w) => w.name));
      // Six epochs of float32 steps summed in other orders: the runs stay within 1e-3 of each other.
      expect(got.map((w, i) => [w.name, relative(w.data, expected[i].data)]).filter(([, d]) => !((d as number) <= 1e-3))).toEqual([]);
      lines(path.join(run, 'metrics.jsonl')).map(strip).forEach(([loss, valLoss], epoch) => {
        expect(Math.abs(loss - referenceLosses[epoch][0])).toBeLessThan(1e-3 * referenceLosses[epoch][0]);
        expect(Math.abs(valLoss - referenceLosses[epoch][1])).toBeLessThan(1e-3 * referenceLosses[epoch][1]);
      });
    };
    await compare(engine);
    // Three epochs with the engine's step, then --resume on the tfjs step from its checkpoint.
    const mixed = path.join(work, 'engine-then-tfjs');
    const child = spawn(process.execPath, [CLI, ...args, '-o', mixed], { stdio: 'ignore' });
    const metrics = path.join(mixed, 'metrics.jsonl');
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (fs.existsSync(metrics) && lines(metrics).length >= 3) child.kill('SIGKILL');
      }, 10);
      child.on('exit', () => {
        clearInterval(poll);
        resolve();
      });
    });
    const done = lines(metrics).length;
    expect(done).toBeLessThan(6);
    expectOk(spawnSync(process.execPath, [CLI, 'train', '-o', mixed, '--resume', '--backend', 'native', '--device', 'cpu', '--threads', '2'], { encoding: 'utf8', env: tfjsEnv }));
    expect(lines(metrics)).toHaveLength(6);
    const starts = JSON.parse(fs.readFileSync(path.join(mixed, 'config.json'), 'utf8')).backends as { fromEpoch: number; device: string; step: string }[];
    expect(starts.map((b) => b.fromEpoch)).toEqual([0, done]);
    expect(starts.map((b) => `${b.device}/${b.step}`)).toEqual(['cpu/engine', 'cpu/tfjs']);
    await compare(mixed);
  }, 240_000);

  test('--folds 3: every speaker is tested exactly once; eval reports mean and std over folds', () => {
    const run = path.join(work, 'folds');
    expectOk(ser(['train', cache, ...tiny, '--epochs', '1', '--folds', '3', '--backend', 'wasm', '-o', run]));
    const folds = JSON.parse(fs.readFileSync(path.join(run, 'folds.json'), 'utf8')) as { dir: string; speakers: { train: string[]; val: string[]; test: string[] }; counts: { test: number } }[];
    const items = (JSON.parse(fs.readFileSync(path.join(cache, 'manifest.json'), 'utf8')) as { items: { speaker: string; augmented: boolean }[] }).items;
    expect(items.filter((i) => i.augmented)).toHaveLength(25);
    expect(folds.map((f) => f.dir)).toEqual(['fold-1', 'fold-2', 'fold-3']);
    const tested = folds.flatMap((f) => f.speakers.test).sort();
    const speakers = ['crema:1001', 'crema:1002', 'crema:1003', 'ravdess:01', 'ravdess:02', 'ravdess:03', 'ravdess:04'];
    expect(tested).toEqual(speakers);
    for (const f of folds) {
      for (const s of f.speakers.train) expect([...f.speakers.val, ...f.speakers.test]).not.toContain(s);
      // The test rows are exactly the test speakers' original clips: their augmented copies never test.
      expect(f.counts.test).toBe(items.filter((i) => !i.augmented && f.speakers.test.includes(i.speaker)).length);
      expect(fs.existsSync(path.join(run, f.dir, 'model', 'model.json'))).toBe(true);
    }
    const evaluation = ser(['eval', run, '--json', '--backend', 'wasm']);
    expectOk(evaluation);
    const result = JSON.parse(evaluation.stdout);
    expect(result.folds).toHaveLength(3);
    expect(result.uar.values).toHaveLength(3);
    const mean = result.uar.values.reduce((a: number, b: number) => a + b, 0) / 3;
    expect(result.uar.mean).toBeCloseTo(mean, 12);
    expect(result.folds.reduce((n: number, f: { rows: number }) => n + f.rows, 0)).toBe(16 + 9);
  }, 120_000);

  test('--split random is marked optimistic in the run and in eval', () => {
    const run = path.join(work, 'random');
    const trained = ser(['train', cache, ...tiny, '--epochs', '1', '--split', 'random', '--backend', 'wasm', '-o', run]);
    expectOk(trained);
    expect(trained.stderr).toMatch(/OPTIMISTIC/);
    const evaluation = ser(['eval', run, '--backend', 'wasm']);
    expectOk(evaluation);
    expect(evaluation.stdout).toMatch(/WARNING: random split.*optimistic/);
    expect(fs.readFileSync(path.join(run, 'report.html'), 'utf8')).toMatch(/Random split by clip: optimistic/);
  }, 60_000);

  test('--online-augment trains from kept audio; a cache without audio is refused by name', () => {
    const run = path.join(work, 'online');
    const trained = ser(['train', cache, ...tiny, '--epochs', '1', '--online-augment', 'noise,pitch', '--workers', '2', '--backend', 'wasm', '-o', run]);
    expectOk(trained);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).settings.onlineAugment).toHaveProperty('pitch');
    const noAudio = path.join(work, 'no-audio-cache');
    expectOk(ser(['prepare', data, '-o', noAudio, '--offset', '0', '--duration', '0.4', '--n-mfcc', '12']));
    const refused = ser(['train', noAudio, ...tiny, '--epochs', '1', '--online-augment', '--backend', 'wasm', '-o', path.join(work, 'online2')]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(noAudio);
    expect(refused.stderr).toMatch(/--keep-audio/);
  }, 60_000);

  test('--backend tensorflow without the package: exit 2 with the install hint, nothing written', () => {
    let installed = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      installed = false;
    }
    if (installed) return;
    const run = path.join(work, 'no-backend');
    const attempt = ser(['train', cache, ...tiny, '--epochs', '1', '--backend', 'tensorflow', '-o', run]);
    expect(attempt.status).toBe(2);
    expect(attempt.stderr).toMatch(/@tensorflow\/tfjs-node is not installed\. Install it with: npm install @tensorflow\/tfjs-node@4\.22\.0/);
    expect(fs.existsSync(run)).toBe(false);
  });

  test('bad training options are usage errors (exit 2) that name the flag', () => {
    for (const [flag, value] of [['--epochs', '0'], ['--lr', '-1'], ['--lr-factor', '1.5'], ['--folds', '2'], ['--conv-filters', '8,x'], ['--dropout', '1']]) {
      const attempt = ser(['train', cache, '-o', path.join(work, 'bad'), flag, value]);
      expect(attempt.status).toBe(2);
      expect(attempt.stderr).toContain(flag);
    }
    expect(ser(['train', '-o', path.join(work, 'bad')]).status).toBe(2);
    for (const [command, value] of [['train', '0'], ['eval', '1000'], ['predict', '1.5']]) {
      const args = command === 'train' ? ['train', cache, '-o', path.join(work, 'bad')] : [command, path.join(work, 'bad'), ...(command === 'predict' ? ['x.wav'] : [])];
      const attempt = ser([...args, '--threads', value]);
      expect(attempt.status).toBe(2);
      expect(attempt.stderr).toContain('--threads');
    }
    expect(ser(['train', cache, '-o', path.join(work, 'bad'), '--device', 'tpu']).stderr).toMatch(/--device.*tpu/);
    // Asking for the GPU where none can be used fails before anything is written, saying why.
    if (!native.gpuInfo().available) {
      const gpu = ser(['train', cache, '-o', path.join(work, 'bad'), '--device', 'gpu']);
      expect(gpu.status).toBe(2);
      expect(gpu.stderr).toMatch(/device \(--device\) gpu: .+/);
    }
    expect(fs.existsSync(path.join(work, 'bad'))).toBe(false);
  });
});
