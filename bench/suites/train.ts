// train: training samples/s of the `small` and `seed` models (batch 32, 301 x 40 MFCC) on every
// TensorFlow.js backend that loads here, each in a fresh `ser train` process on a synthetic cache,
// with the share of step time spent waiting for data, from the cache and with online augmentation.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { EpochRecord } from '../../src/train/checkpoint';
import type { Scenario } from '../framework';
import { packageRoot } from '../framework';

const CLI = () => path.join(packageRoot(), 'dist', 'src', 'cli', 'index.js');

function ser(args: string[]): string {
  const run = spawnSync(process.execPath, [CLI(), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`ser ${args[0]} failed (${run.status}): ${run.stderr}`);
  return run.stderr;
}

interface Case {
  backend: string;
  model: 'small' | 'seed';
  epochs: number;
  online: boolean;
}

interface Measured extends Case {
  params: number;
  samplesPerSecond: number;
  dataWaitFraction: number;
}

function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

export const trainScenario: Scenario = {
  name: 'train',
  title: 'training throughput, batch 32, 301 x 40 MFCC input, one process per case (ser train)',
  async run({ quick, log }) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ser-bench-train-'));
    try {
      const corpus = path.join(work, 'corpus');
      const cache = path.join(work, 'cache');
      // 64 clips of 3.5 s: two steps of 32 per epoch; 3 s crops give the seed config's 301 x 40 MFCC.
      ser(['synth', corpus, '--corpus', 'ravdess', '--speakers', '4', '--clips-per-class', '2', '--seconds', '3.5', '--seed', '3']);
      ser(['prepare', corpus, '-o', cache, '--keep-audio']);
      // The tfjs cpu backend needs minutes per seed-model step: it trains on one batch of 32 clips.
      const smallCorpus = path.join(work, 'corpus32');
      const cache32 = path.join(work, 'cache32');
      ser(['synth', smallCorpus, '--corpus', 'ravdess', '--speakers', '4', '--clips-per-class', '1', '--seconds', '3.5', '--seed', '3']);
      ser(['prepare', smallCorpus, '-o', cache32]);
      const backends = [
        ...(installed('@tensorflow/tfjs-node-gpu') ? ['tensorflow-gpu'] : []),
        ...(installed('@tensorflow/tfjs-node') ? ['tensorflow'] : []),
        'native', 'wasm', 'cpu',
      ];
      const cases: Case[] = [];
      for (const backend of backends) {
        const slow = backend === 'cpu';
        cases.push({ backend, model: 'small', epochs: slow ? 1 : 3, online: false });
        if (!quick) cases.push({ backend, model: 'seed', epochs: slow ? 1 : 2, online: false });
      }
      cases.push({ backend: 'wasm', model: 'small', epochs: 3, online: true });
      const measured: Measured[] = [];
      for (const c of cases) {
        const run = path.join(work, `run-${c.backend}-${c.model}-${c.online ? 'online' : 'cache'}`);
        const stderr = ser([
          'train', c.backend === 'cpu' ? cache32 : cache, '-o', run, '--model', c.model, '--epochs', String(c.epochs), '--batch-size', '32',
          '--val-fraction', '0', '--test-fraction', '0', '--backend', c.backend, '--threads', '1', '--seed', '1',
          ...(c.online ? ['--online-augment', '--workers', '2'] : []),
        ]);
        const params = Number(/; (\d+) parameters/.exec(stderr)?.[1] ?? NaN);
        const history = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpochRecord);
        // The first epoch carries one-off costs (kernel set-up, worker start) unless it is the only one.
        const warm = history.length > 1 ? history.slice(1) : history;
        const samplesPerSecond = warm.reduce((a, r) => a + r.samplesPerSecond, 0) / warm.length;
        const dataWaitFraction = warm.reduce((a, r) => a + r.dataWaitFraction, 0) / warm.length;
        log(`train / ${c.backend} ${c.model}${c.online ? ' online augment' : ''}: ${samplesPerSecond.toFixed(2)} samples/s, data wait ${(100 * dataWaitFraction).toFixed(2)}%`);
        measured.push({ ...c, params, samplesPerSecond, dataWaitFraction });
      }
      const cpuRate = (model: string) => measured.find((m) => m.backend === 'cpu' && m.model === model && !m.online)?.samplesPerSecond ?? NaN;
      const maxWait = Math.max(...measured.map((m) => m.dataWaitFraction));
      return [
        '| backend | model | parameters | data | samples/s | ratio to cpu backend | data wait (share of epoch) |',
        '| --- | --- | ---: | --- | ---: | ---: | ---: |',
        ...measured.map((m) => `| ${m.backend} | ${m.model} | ${m.params.toLocaleString('en-US')} | ${m.online ? 'online augmentation (2 workers)' : 'cache'} | ` +
          `${m.samplesPerSecond.toFixed(2)} | ${(m.samplesPerSecond / cpuRate(m.model)).toFixed(1)}x | ${(100 * m.dataWaitFraction).toFixed(2)}% |`),
        '',
        '- 64 synthetic clips (3.5 s, RAVDESS layout) prepared with the default features (MFCC 40, 3 s crops from 0.5 s: 301 x 40);',
        '  no validation (so the epoch is all training steps); Adam, mixup 0.2. samples/s is the mean over epochs after the first.',
        '  The cpu cases train one epoch of 32 clips (one step, first-step costs included). tfjs cpu and wasm use one core.',
        '- native is this package\'s engine (fused convolution blocks, BiLSTM and Adam in C++), run here with --threads 1',
        '  like the single-threaded wasm and cpu backends; the train-engine section has 2 threads and the Python peers.',
        '',
        `Target: data wait < 5% of step time with prefetch (worst case here ${(100 * maxWait).toFixed(2)}%: ${maxWait < 0.05 ? 'met' : 'NOT met'}).`,
      ];
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
};
