// serve: scoring clips as a server does, through one loaded seed-preset model: `predict(file)` awaited by
// one caller at a time, against 8 callers awaiting it at once (the model's thread scores the clips that
// arrive while it is busy in one batch). Clips per second and each call's latency, in one process.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { Scenario } from '../framework';
import { median } from '../framework';

const CONCURRENT_CALLERS = 8;
const ROUNDS = 3;

interface Pass {
  clipsPerSecond: number;
  latenciesMs: number[];
}

function percentile(values: readonly number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

export const serveScenario: Scenario = {
  name: 'serve',
  title: `Scoring clips from a server: predict() one caller at a time against ${CONCURRENT_CALLERS} at once (seed preset)`,
  async run({ quick, log }) {
    const { loadModel, prepare, synthesize, train, shutdown } = await import('../../src/index');
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ser-bench-serve-'));
    try {
      // A seed-preset run of one short epoch: a forward pass costs the same whatever the weights.
      const corpus = path.join(work, 'corpus');
      await synthesize(corpus, { corpus: 'ravdess', speakers: quick ? 4 : 6, clipsPerClass: quick ? 1 : 2, seconds: 3.5, seed: 3 });
      await prepare({ dataset: corpus, output: path.join(work, 'cache') });
      await train({ cache: path.join(work, 'cache'), output: path.join(work, 'run'), model: 'seed', epochs: 1, batchSize: 8 });
      const clips = fs.readdirSync(corpus, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.wav')).sort().map((f) => path.join(corpus, f));
      const model = await loadModel(path.join(work, 'run'));
      try {
        const pass = async (callers: number): Promise<Pass> => {
          const latenciesMs: number[] = [];
          let next = 0;
          const started = performance.now();
          await Promise.all(Array.from({ length: callers }, async () => {
            while (next < clips.length) {
              const clip = clips[next++];
              const sent = performance.now();
              await model.predict(clip);
              latenciesMs.push(performance.now() - sent);
            }
          }));
          return { clipsPerSecond: clips.length / ((performance.now() - started) / 1000), latenciesMs };
        };
        // Untimed: the first forward passes compile and size the buffers.
        await pass(1);
        await pass(CONCURRENT_CALLERS);
        const alone: Pass[] = [];
        const together: Pass[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          alone.push(await pass(1));
          together.push(await pass(CONCURRENT_CALLERS));
          log(`serve: round ${round + 1}: ${alone[round].clipsPerSecond.toFixed(0)} clips/s alone, ${together[round].clipsPerSecond.toFixed(0)} with ${CONCURRENT_CALLERS} callers`);
        }
        const row = (label: string, passes: Pass[]): string => {
          const latencies = passes.flatMap((p) => p.latenciesMs);
          const rates = passes.map((p) => p.clipsPerSecond);
          return `| ${label} | ${median(rates).toFixed(0)} | ${rates.map((r) => r.toFixed(0)).join(', ')} | ${median(latencies).toFixed(1)} | ${percentile(latencies, 0.95).toFixed(1)} |`;
        };
        const ratios = alone.map((a, i) => together[i].clipsPerSecond / a.clipsPerSecond);
        return [
          `${clips.length} synthetic RAVDESS-layout clips (48 kHz, about 3.5 s), each \`await model.predict(file)\` (read, features and forward pass in the model's thread), one seed-preset model loaded with the default threads (${model.backend}); ${ROUNDS} rounds, each a pass with one caller then one with ${CONCURRENT_CALLERS}, after an untimed pass of each.`,
          '',
          '| callers | clips/s (median) | rounds | latency median ms | latency p95 ms |',
          '|---|---:|---|---:|---:|',
          row('1 (each call awaited before the next)', alone),
          row(`${CONCURRENT_CALLERS} at once (clips that arrive while the model is busy share one forward pass)`, together),
          '',
          `${CONCURRENT_CALLERS} callers / 1: **${median(ratios).toFixed(2)}x** the clips per second (round by round: ${ratios.map((r) => `${r.toFixed(2)}x`).join(', ')}).`,
        ];
      } finally {
        model.dispose();
        await shutdown();
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
};
