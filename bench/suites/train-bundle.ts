// train-bundle: training at the size of the real workload. `ser train` (native engine) on a
// bundle-sized synthetic cache (8,496 clips in the Kaggle bundle's layout, 17 shards), on the same with
// two augmented copies per clip (25,488 rows, 50 shards: rows in memory, and streamed with
// --cache-memory 256), and beside them on a one-shard cache of 600 clips, in the same run: samples/s,
// the share of the epoch spent waiting for data, and the process's peak RSS.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { EpochRecord } from '../../src/train/checkpoint';
import type { Scenario } from '../framework';
import { packageRoot } from '../framework';

// Three: the same case moved between 824 and 1,065 samples/s over three back-to-back runs (small preset,
// one shard, 1 thread, at a56652f), and a case's fastest round is its figure.
const ROUNDS = 3;

const CLI = () => path.join(packageRoot(), 'dist', 'src', 'cli', 'index.js');

function ser(args: string[]): string {
  const run = spawnSync(process.execPath, [CLI(), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`ser ${args[0]} failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}

interface CacheSpec {
  key: string;
  label: string;
  synth: string[];
  prepare: string[];
}

/** The caches, made once into bench/.data and reused while their recipe stays the same. */
function caches(quick: boolean): { shard: CacheSpec; bundle: CacheSpec; augmented: CacheSpec } {
  const bundleSynth = quick
    ? ['--corpus', 'bundle', '--speakers', '8', '--clips-per-class', '3', '--seconds', '3', '--seed', '1']
    : ['--corpus', 'bundle', '--speakers', '91', '--clips-per-class', '12', '--seconds', '3', '--seed', '1'];
  return {
    shard: {
      key: quick ? 'one-shard-quick' : 'one-shard', label: 'one shard',
      synth: ['--corpus', 'ravdess', '--speakers', quick ? '4' : '10', '--clips-per-class', '8', '--seconds', '3', '--seed', '2'],
      prepare: ['--shard-rows', '1024'],
    },
    bundle: { key: quick ? 'bundle-quick' : 'bundle', label: 'bundle', synth: bundleSynth, prepare: [] },
    augmented: {
      key: quick ? 'bundle-quick-aug2' : 'bundle-aug2', label: 'bundle + 2 augmented copies', synth: bundleSynth,
      prepare: ['--augment', 'noise,shift,stretch,pitch,speed', '--copies', '2'],
    },
  };
}

interface CacheInfo {
  dir: string;
  rows: number;
  shards: number;
}

function makeCache(spec: CacheSpec, log: (line: string) => void): CacheInfo {
  const root = path.join(packageRoot(), 'bench', '.data', 'train-bundle');
  const corpusKey = spec.synth.join('_').replace(/[^a-z0-9_.]/gi, '');
  const corpus = path.join(root, `corpus-${corpusKey}`);
  const dir = path.join(root, `cache-${spec.key}`);
  const marker = path.join(dir, 'bench-recipe.json');
  const recipe = JSON.stringify({ synth: spec.synth, prepare: spec.prepare });
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === recipe) {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { items: unknown[]; shards: unknown[] };
    return { dir, rows: manifest.items.length, shards: manifest.shards.length };
  }
  if (!fs.existsSync(path.join(corpus, 'complete'))) {
    log(`train-bundle: synthesising ${corpusKey} (once; kept in bench/.data)`);
    fs.rmSync(corpus, { recursive: true, force: true });
    ser(['synth', corpus, ...spec.synth]);
    fs.writeFileSync(path.join(corpus, 'complete'), '');
  }
  log(`train-bundle: preparing the ${spec.label} cache (once; kept in bench/.data)`);
  ser(['prepare', corpus, '-o', dir, '--overwrite', ...spec.prepare]);
  fs.writeFileSync(marker, recipe);
  return makeCache(spec, log);
}

interface Case {
  cache: CacheInfo;
  cacheLabel: string;
  preset: 'seed' | 'small';
  threads: number;
  cacheMemory: number | null;
  epochs: number;
}

interface Measured extends Case {
  trainRows: number;
  samplesPerSecond: number;
  dataWaitFraction: number;
  trainSeconds: number;
  epochSeconds: number;
  dataLine: string;
  peakRssMiB: number;
}

/** One `ser train` process; its own peak RSS is VmHWM as it ends. */
function trainOnce(c: Case, work: string): Measured {
  const run = path.join(work, `run-${path.basename(c.cache.dir)}-${c.preset}-${c.threads}-${c.cacheMemory ?? 'default'}`);
  fs.rmSync(run, { recursive: true, force: true });
  const args = [
    'train', c.cache.dir, '-o', run, '--model', c.preset, '--epochs', String(c.epochs), '--backend', 'native', '--threads', String(c.threads), '--seed', '1',
    ...(c.cacheMemory === null ? [] : ['--cache-memory', String(c.cacheMemory)]),
  ];
  const script =
    `require(${JSON.stringify(CLI())}).main(${JSON.stringify(args)}).then((code) => {` +
    `process.stderr.write('VMHWM ' + /VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1] + '\\n'); process.exitCode = code; });`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (child.status !== 0) throw new Error(`ser train failed (${child.status}): ${child.stderr}`);
  const history = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpochRecord);
  const trainRows = Number(/^fold 1\/1: (\d+) training rows/m.exec(child.stderr)?.[1] ?? NaN);
  fs.rmSync(run, { recursive: true, force: true });
  // Over every epoch, first-step costs included: the one-shard cache trains as many steps as the bundle.
  const trainSeconds = history.reduce((a, r) => a + trainRows / r.samplesPerSecond, 0);
  const waitSeconds = history.reduce((a, r) => a + (r.dataWaitFraction * trainRows) / r.samplesPerSecond, 0);
  return {
    ...c, trainRows,
    samplesPerSecond: (trainRows * history.length) / trainSeconds, dataWaitFraction: waitSeconds / trainSeconds,
    trainSeconds: trainSeconds / history.length, epochSeconds: history.reduce((a, r) => a + r.seconds, 0) / history.length,
    dataLine: /^data: (.*)$/m.exec(child.stderr)?.[1] ?? '?',
    peakRssMiB: Number(/VMHWM (\d+)/.exec(child.stderr)?.[1] ?? NaN) / 1024,
  };
}

export const trainBundleScenario: Scenario = {
  name: 'train-bundle',
  title: 'training at the size of the Kaggle bundle: samples/s, data wait and peak RSS against a one-shard cache (ser train, native)',
  async run({ quick, log }) {
    const specs = caches(quick);
    const shard = makeCache(specs.shard, log);
    const bundle = makeCache(specs.bundle, log);
    const augmented = makeCache(specs.augmented, log);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ser-bench-train-bundle-'));
    const cases: Case[] = [];
    // The one-shard cache trains as many rows as one epoch of the bundle (warm-up amortised alike).
    const shardTrainRows = Math.round(shard.rows * 0.7);
    const shardEpochs = Math.max(2, Math.ceil((bundle.rows * 0.7) / shardTrainRows));
    for (const preset of ['small', 'seed'] as const) {
      for (const threads of [1, 2]) {
        cases.push({ cache: shard, cacheLabel: specs.shard.label, preset, threads, cacheMemory: null, epochs: shardEpochs });
        cases.push({ cache: bundle, cacheLabel: specs.bundle.label, preset, threads, cacheMemory: null, epochs: 1 });
        cases.push({ cache: augmented, cacheLabel: specs.augmented.label, preset, threads, cacheMemory: null, epochs: 1 });
        cases.push({ cache: augmented, cacheLabel: `${specs.augmented.label}, --cache-memory 256`, preset, threads, cacheMemory: 256, epochs: 1 });
      }
    }
    // Neighbours on a shared 2-core host slow a whole epoch by 10-15% now and then (seen here: the same
    // case at 140 and 160 samples/s): the cases take turns over ROUNDS rounds, and each keeps its fastest.
    const rounds = quick ? 1 : ROUNDS;
    const best: Measured[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        cases.forEach((c, i) => {
          const m = trainOnce(c, work);
          log(`train-bundle / round ${round + 1}/${rounds} ${c.cacheLabel} ${c.preset} ${c.threads}T: ${m.samplesPerSecond.toFixed(1)} samples/s, ` +
            `data wait ${(100 * m.dataWaitFraction).toFixed(2)}%, peak RSS ${m.peakRssMiB.toFixed(0)} MiB (${m.dataLine})`);
          if (!best[i] || m.samplesPerSecond > best[i].samplesPerSecond) best[i] = { ...m, peakRssMiB: Math.max(m.peakRssMiB, best[i]?.peakRssMiB ?? 0) };
          else best[i].peakRssMiB = Math.max(best[i].peakRssMiB, m.peakRssMiB);
        });
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    const measured = best;
    const reference = (m: Measured) => measured.find((r) => r.cache === shard && r.preset === m.preset && r.threads === m.threads) as Measured;
    const rowBytes = (c: CacheInfo) => {
      const manifest = JSON.parse(fs.readFileSync(path.join(c.dir, 'manifest.json'), 'utf8')) as { frames: number; coeffs: number };
      return manifest.frames * manifest.coeffs * 4;
    };
    const large = measured.filter((m) => m.cache !== shard);
    const worstWait = Math.max(...large.map((m) => m.dataWaitFraction));
    const worstRatio = Math.min(...large.map((m) => m.samplesPerSecond / reference(m).samplesPerSecond));
    const streamed = measured.filter((m) => m.cache === augmented && m.cacheMemory === 256);
    const inMemory = measured.filter((m) => m.cache === augmented && m.cacheMemory === null);
    const streamedRss = Math.max(...streamed.map((m) => m.peakRssMiB));
    const rowsMiB = (m: Measured) => (m.trainRows * rowBytes(m.cache)) / 2 ** 20;
    const memoryOverRows = Math.max(...inMemory.map((m) => m.peakRssMiB - rowsMiB(m)));
    const wholeBundle = measured.find((m) => m.cache === bundle && m.preset === 'seed' && m.threads === 2) as Measured;
    const realBundleClips = 12_162;
    const scale = realBundleClips / bundle.rows;
    return [
      '| cache | rows (shards) | preset | threads | training rows | samples/s | ratio to one shard | data wait (share of epoch) | peak RSS MiB | data path |',
      '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...measured.map((m) => `| ${m.cacheLabel} | ${m.cache.rows.toLocaleString('en-US')} (${m.cache.shards}) | ${m.preset} | ${m.threads} | ${m.trainRows.toLocaleString('en-US')} | ` +
        `${m.samplesPerSecond.toFixed(1)} | ${m.cache === shard ? '1.00x' : `${(m.samplesPerSecond / reference(m).samplesPerSecond).toFixed(2)}x`} | ` +
        `${(100 * m.dataWaitFraction).toFixed(2)}% | ${m.peakRssMiB.toFixed(0)} | ${m.dataLine} |`),
      '',
      `- Caches: \`ser synth\` corpora prepared with the default features (MFCC 40, 3 s crops: 301 x 40, 48,160 bytes a row; 512 rows a shard). ` +
        `bundle: ${bundle.rows.toLocaleString('en-US')} clips in the Kaggle bundle's layout (RAVDESS, CREMA-D, TESS, SAVEE; 91 speakers); ` +
        `bundle + 2 augmented copies: \`--augment noise,shift,stretch,pitch,speed --copies 2\`; one shard: ${shard.rows} RAVDESS-layout clips in one file (\`--shard-rows 1024\`).`,
      '- `ser train --backend native --seed 1` with the default speaker split (15% validation and 15% test speakers), one process per case. ' +
        `The bundle caches train one epoch; the one-shard cache ${shardEpochs} epochs (as many rows as one epoch of the bundle). samples/s and data wait ` +
        'cover every training step, the first included; validation comes after. Loading the rows (or filling the first window) happens before the ' +
        `first step and is in the data-path column. ${rounds} rounds, the cases taking turns; each row is its fastest round (peak RSS: the largest).`,
      '- Without --cache-memory the budget is half of the available memory, so every training row is loaded once; with --cache-memory 256 they stream ' +
        `shard by shard through a shuffle window of ${Math.floor((256 * 2 ** 20) / rowBytes(augmented)).toLocaleString('en-US')} rows.`,
      '',
      `Targets: data wait < 2% on both bundle caches for both presets and thread counts (worst ${(100 * worstWait).toFixed(2)}%: ${worstWait < 0.02 ? 'met' : 'NOT met'}); ` +
        `samples/s on the bundle caches >= 0.95x the one-shard figure (worst ${worstRatio.toFixed(2)}x: ${worstRatio >= 0.95 ? 'met' : 'NOT met'}); ` +
        `peak RSS with --cache-memory 256 on the augmented cache < 900 MiB (worst ${streamedRss.toFixed(0)} MiB: ${streamedRss < 900 ? 'met' : 'NOT met'}); ` +
        `without a limit < the training rows' bytes + 600 MiB (worst: rows + ${memoryOverRows.toFixed(0)} MiB: ${memoryOverRows < 600 ? 'met' : 'NOT met'}).`,
      '',
      `One epoch of the seed preset on 2 threads over the ${bundle.rows.toLocaleString('en-US')}-clip bundle-sized cache: ${(wholeBundle.trainSeconds / 60).toFixed(1)} minutes of training ` +
        `(${(wholeBundle.epochSeconds / 60).toFixed(1)} with validation). The real bundle has ${realBundleClips.toLocaleString('en-US')} clips: at the same rate, ` +
        `${((wholeBundle.trainSeconds * scale) / 60).toFixed(1)} minutes of training an epoch (${((wholeBundle.epochSeconds * scale) / 60).toFixed(1)} with validation).`,
    ];
  },
};
