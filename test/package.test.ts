// The package as a user gets it: `npm pack`, the tarball installed into a fresh project (its install
// script builds the addon there), then `ser-native` imported by name from CommonJS and ESM scripts,
// a TypeScript consumer type-checked against the shipped .d.ts, and the README's "Use from code"
// examples run as written.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { extractFeatures, loadModel, prepare, shutdown, synthesize, train } from '../src/index';
import { FIXTURES, ROOT, tempDir } from './helpers/paths';

const work = tempDir('package');
const project = path.join(work, 'consumer');
const wav = path.join(FIXTURES, 'speech_a_source48k_s16.wav');
const run = path.join(work, 'run');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

afterAll(async () => {
  await shutdown();
  fs.rmSync(work, { recursive: true, force: true });
});

function node(args: string[], cwd = project): string {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** The fenced blocks of the README's "Use from code" section, each named by its first line's comment. */
export function readmeExamples(readme: string): { file: string; code: string }[] {
  const section = /^## Use from code\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => {
    const file = /^\/\/ (\S+\.(?:cjs|mjs))/.exec(m[1])?.[1];
    if (!file) throw new Error(`a "Use from code" example does not start with a // <name>.cjs|mjs line:\n${m[1]}`);
    return { file, code: m[1] };
  });
}

beforeAll(async () => {
  // A tiny trained run for the scripts to load.
  const corpus = path.join(work, 'corpus');
  await synthesize(corpus, { corpus: 'ravdess', speakers: 4, clipsPerClass: 1, seconds: 1.6, seed: 3 });
  await prepare({ dataset: corpus, output: path.join(work, 'cache'), features: { nMfcc: 20 }, offsetSeconds: 0.1, durationSeconds: 1.5 });
  await train({ cache: path.join(work, 'cache'), output: run, model: 'small', epochs: 1, batchSize: 8, valSpeakers: ['ravdess:03'], testSpeakers: ['ravdess:04'], threads: 1 });

  execFileSync(npm, ['pack', '--pack-destination', work], { cwd: ROOT, stdio: 'pipe' });
  const tarball = fs.readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack made no tarball');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // As a user installs it: no flags that leave anything out. tfjs-node and -node-gpu are optional peers,
  // so nothing downloads libtensorflow.
  execFileSync(npm, ['install', path.join(work, tarball), '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, stdio: 'pipe' });
}, 600_000);

test('the tarball ships the built JS, the types, the native sources and no build outputs', () => {
  const installed = path.join(project, 'node_modules', 'ser-native');
  for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/binding.d.ts', 'dist/src/workers/api-task.js', 'binding.d.ts', 'CMakeLists.txt', 'native/binding.cc', 'build/Release/ser_native.node']) {
    expect([file, fs.existsSync(path.join(installed, file))]).toEqual([file, true]);
  }
  expect(fs.existsSync(path.join(installed, 'test'))).toBe(false);
  expect(fs.existsSync(path.join(installed, 'node_modules', '.cache'))).toBe(false);
});

test('a default install brings no tfjs-node, and auto trains and predicts on native', () => {
  for (const name of ['tfjs-node', 'tfjs-node-gpu']) expect([name, fs.existsSync(path.join(project, 'node_modules', '@tensorflow', name))]).toEqual([name, false]);
  const lock = JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  expect(Object.keys(lock.packages).filter((p) => /tfjs-node/.test(p))).toEqual([]);
  fs.writeFileSync(path.join(project, 'auto.cjs'), `
const ser = require('ser-native');
ser.loadModel(process.argv[2], { threads: 1 }).then((model) => { console.log(model.backend); model.dispose(); });
`);
  expect(node(['auto.cjs', run]).trim()).toBe('native');
}, 60_000);

test('importing the package or ser-native/features loads no TensorFlow.js, nor does a loaded model on the caller\'s thread (it runs in its own)', () => {
  fs.writeFileSync(path.join(project, 'light.cjs'), `
const tfjsLoaded = () => Object.keys(require.cache).some((file) => file.includes('@tensorflow'));
const ser = require('ser-native');
const seen = { imported: tfjsLoaded() };
ser.extractFeatures(process.argv[2], { nMfcc: 20 }).then(async (features) => {
  seen.features = [features.frames, tfjsLoaded()];
  const model = await ser.loadModel(process.argv[3], { threads: 1 });
  seen.model = tfjsLoaded();
  model.dispose();
  await ser.shutdown();
  console.log(JSON.stringify(seen));
});
`);
  expect(JSON.parse(node(['light.cjs', wav, run]))).toEqual({ imported: false, features: [151, false], model: false });
  fs.writeFileSync(path.join(project, 'light.mjs'), `
import { createRequire } from 'module';
import { extractFeatures, shutdown } from 'ser-native/features';
const cache = createRequire(import.meta.url).cache;
const features = await extractFeatures(process.argv[2], { nMfcc: 20 });
await shutdown();
const loaded = Object.keys(cache);
console.log(JSON.stringify({ frames: features.frames, addon: loaded.some((f) => f.endsWith('ser_native.node')), tfjs: loaded.some((f) => f.includes('@tensorflow')) }));
`);
  expect(JSON.parse(node(['light.mjs', wav]))).toEqual({ frames: 151, addon: true, tfjs: false });
}, 60_000);

describe('imported by name', () => {
  let expected: { frames: number; coeffs: number; prediction: unknown };

  beforeAll(async () => {
    const features = await extractFeatures(wav, { nMfcc: 20 });
    const model = await loadModel(run, { threads: 1 });
    try {
      expected = { frames: features.frames, coeffs: features.coeffs, prediction: await model.predict(wav) };
    } finally {
      model.dispose();
    }
  });

  test('from CommonJS: features of a WAV and a prediction equal to this checkout\'s', () => {
    fs.writeFileSync(path.join(project, 'use.cjs'), `
const ser = require('ser-native');
(async () => {
  const features = await ser.extractFeatures(process.argv[2], { nMfcc: 20 });
  const model = await ser.loadModel(process.argv[3], { threads: 1 });
  const prediction = await model.predict(process.argv[2]);
  model.dispose();
  const missing = await ser.extractFeatures('missing.wav').catch((e) => e);
  console.log(JSON.stringify({ frames: features.frames, coeffs: features.coeffs, prediction, error: [missing instanceof ser.InputFileError, missing.file] }));
})();
`);
    const out = JSON.parse(node(['use.cjs', wav, run]));
    expect(out).toEqual({ ...expected, error: [true, 'missing.wav'] });
  }, 60_000);

  test('from ESM: the same, with named imports', () => {
    fs.writeFileSync(path.join(project, 'use.mjs'), `
import { extractFeatures, loadModel, OptionsError } from 'ser-native';
const features = await extractFeatures(process.argv[2], { nMfcc: 20 });
const model = await loadModel(process.argv[3], { threads: 1 });
const prediction = await model.predict(process.argv[2]);
model.dispose();
const bad = await extractFeatures(process.argv[2], { nMfcc: 0 }).catch((e) => e);
console.log(JSON.stringify({ frames: features.frames, coeffs: features.coeffs, prediction, error: bad instanceof OptionsError }));
`);
    const out = JSON.parse(node(['use.mjs', wav, run]));
    expect(out).toEqual({ ...expected, error: true });
  }, 60_000);

  test('TypeScript consumers (CommonJS and ESM) type-check against the shipped .d.ts, and wrong types are refused', () => {
    const consumer = `
import { extractFeatures, loadModel, train, InputFileError, type EmotionPrediction, type TrainOptions } from 'ser-native';

export async function main(file: string): Promise<number> {
  const features = await extractFeatures(file, { kind: 'logmel', nMels: 64, signal: AbortSignal.timeout(1000) });
  const rows: Float32Array = features.data;
  const model = await loadModel('run');
  const prediction: EmotionPrediction = await model.predict({ samples: rows, sampleRate: 16000 });
  const options: TrainOptions = { cache: 'cache', output: 'run', model: 'small', onEpoch: ({ record }) => console.log(record.valUar) };
  await train(options);
  // @ts-expect-error data is a Float32Array (the addon's types in binding.d.ts resolve from dist/)
  const wrongData: string = features.data;
  // @ts-expect-error nMfcc is a number
  await extractFeatures(file, { nMfcc: 'forty' });
  // @ts-expect-error there is no such preset
  await train({ output: 'run', model: 'huge' });
  const error: unknown = null;
  if (error instanceof InputFileError) console.log(error.file, error.reason);
  return prediction.confidence + features.frames + wrongData.length;
}
`;
    fs.writeFileSync(path.join(project, 'consumer.ts'), consumer);
    fs.writeFileSync(path.join(project, 'consumer.mts'), consumer);
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    // tfjs's own declarations do not pass a strict library check; unresolved types of ours would turn
    // into any, which the @ts-expect-error lines above catch.
    const common = ['--noEmit', '--strict', '--skipLibCheck', '--target', 'ES2022', '--lib', 'ES2022,DOM', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types')];
    node([tsc, ...common, '--module', 'commonjs', '--moduleResolution', 'node10', 'consumer.ts']);
    node([tsc, ...common, '--module', 'nodenext', '--moduleResolution', 'nodenext', 'consumer.mts']);
    // The check can fail: a consumer that misuses the API does not compile.
    fs.writeFileSync(path.join(project, 'wrong.ts'), "import { loadModel } from 'ser-native';\nexport const p: Promise<string> = loadModel('run');\n");
    const wrong = spawnSync(process.execPath, [tsc, ...common, '--module', 'commonjs', '--moduleResolution', 'node10', 'wrong.ts'], { cwd: project, encoding: 'utf8' });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stdout).toMatch(/EmotionModel/);
  }, 120_000);
});

test('the installed ser command runs: --version, and bench --data on a folder of clips', () => {
  const ser = path.join(project, 'node_modules', '.bin', 'ser');
  const version = spawnSync(ser, ['--version'], { cwd: project, encoding: 'utf8' });
  expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  const bench = spawnSync(ser, ['bench', '--data', path.join(work, 'corpus'), '--workers', '2', '--json'], { cwd: project, encoding: 'utf8' });
  expect(bench.status).toBe(0);
  const report = JSON.parse(bench.stdout) as { cases: { workers: number; clips: number }[] };
  expect(report.cases.map((c) => [c.workers, c.clips])).toEqual([[1, 32], [2, 32]]);
}, 120_000);

test('the README\'s "Use from code" examples run as written', () => {
  const examples = readmeExamples(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  expect(examples.map((e) => e.file)).toEqual(['features.cjs', 'pipeline.cjs', 'predict.mjs']);
  fs.copyFileSync(wav, path.join(project, 'clip.wav'));
  fs.cpSync(path.join(work, 'corpus'), path.join(project, 'corpus'), { recursive: true });
  const outputs: Record<string, string> = {};
  for (const { file, code } of examples) {
    fs.writeFileSync(path.join(project, file), code);
    outputs[file] = node([file]);
  }
  expect(outputs['features.cjs']).toMatch(/^151 frames x 40 MFCC from 1.5 s at 48000 Hz$/m);
  expect(fs.existsSync(path.join(project, 'run', 'report.html'))).toBe(true);
  expect(outputs['pipeline.cjs']).toMatch(/^test UAR \d/m);
  expect(outputs['predict.mjs']).toMatch(/^clip\.wav: (neutral|calm|happy|sad|angry|fearful|disgust|surprised) \(\d+%\)$/m);
  expect(outputs['predict.mjs']).toMatch(/^missing\.wav: no such file$/m);
}, 300_000);
