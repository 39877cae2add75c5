// `ser bench --data <dir>`: prepare throughput on the user's own clips, 1 worker against N, each into
// a temporary cache that is removed afterwards.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { prepareCache, type PrepareSummary } from '../src/clips/prepare';
import { resolveFeatureConfig } from '../src/features/config';

export interface UserDataCase {
  workers: number;
  clips: number;
  failed: number;
  audioSeconds: number;
  wallSeconds: number;
  realTimeFactor: number;
  clipsPerSecond: number;
}

export interface UserDataReport {
  data: string;
  cases: UserDataCase[];
  /** Throughput with N workers over 1 worker. */
  scaling: number;
}

export async function benchUserData(data: string, workers: number, log: (line: string) => void): Promise<UserDataReport> {
  if (!fs.existsSync(data) || !fs.statSync(data).isDirectory()) throw new Error(`${data}: not a folder of clips`);
  const counts = [...new Set([1, workers])];
  const cases: UserDataCase[] = [];
  for (const n of counts) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ser-bench-data-'));
    try {
      const started = performance.now();
      const summary: PrepareSummary = await prepareCache({
        dataset: data, out, corpus: 'auto', manifest: null, features: resolveFeatureConfig({}), crop: { offsetSeconds: 0.5, durationSeconds: 3 },
        augment: null, copies: 0, seed: 1, workers: n, slice: null, shardRows: 512, clipsPerTask: 8, keepAudio: false, overwrite: true,
      });
      const wallSeconds = (performance.now() - started) / 1000;
      if (summary.rows === 0) throw new Error(`${data}: no clip could be read (${summary.failed} failed, ${summary.skipped} not in a known corpus layout)`);
      cases.push({
        workers: n, clips: summary.rows, failed: summary.failed, audioSeconds: summary.audioSeconds, wallSeconds,
        realTimeFactor: summary.audioSeconds / wallSeconds, clipsPerSecond: summary.rows / wallSeconds,
      });
      log(`bench --data: ${n} worker(s): ${summary.rows} clips in ${wallSeconds.toFixed(1)} s`);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }
  return { data, cases, scaling: cases[cases.length - 1].clipsPerSecond / cases[0].clipsPerSecond };
}

export function renderUserData(report: UserDataReport): string {
  return [
    `ser prepare on ${report.data} (MFCC 40, 3 s crops; whole pipeline incl. reads and shard writes)`,
    '',
    '| workers | clips | failed | audio h | wall s | x real time | clips/s | ratio to 1 worker |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.cases.map((c) => `| ${c.workers} | ${c.clips} | ${c.failed} | ${(c.audioSeconds / 3600).toFixed(2)} | ${c.wallSeconds.toFixed(1)} | ` +
      `${Math.round(c.realTimeFactor).toLocaleString('en-US')}x | ${c.clipsPerSecond.toFixed(0)} | ${(c.clipsPerSecond / report.cases[0].clipsPerSecond).toFixed(2)}x |`),
  ].join('\n');
}
