// ser demo end to end on a smaller corpus: the files it promises exist, and every number of its
// summary is the one the steps wrote (manifest, run config, metrics.json, metrics.jsonl).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { demoTable } from '../src/cli/demo';
import { EMOTIONS } from '../src/data/labels';
import { CLI, tempDir } from './helpers/paths';

const work = tempDir('demo');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('ser demo: synth -> prepare -> train -> eval -> predict under one folder, summary read from real outputs', () => {
  const out = path.join(work, 'demo');
  const run = spawnSync(process.execPath, [CLI, 'demo', '-o', out, '--speakers', '5', '--clips-per-class', '2', '--epochs', '4', '--json'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  const summary = JSON.parse(run.stdout);
  expect(fs.readdirSync(out).sort()).toEqual(['cache', 'corpus', 'run']);
  for (const file of ['cache/manifest.json', 'run/config.json', 'run/folds.json', 'run/metrics.jsonl', 'run/model/model.json', 'run/metrics.json', 'run/confusion.svg', 'run/curves.svg', 'run/report.html']) {
    expect(fs.existsSync(path.join(out, file))).toBe(true);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'cache', 'manifest.json'), 'utf8'));
  expect(summary.cacheRows).toBe(manifest.items.length);
  expect(summary.clips).toBe(manifest.items.filter((i: { augmented: boolean }) => !i.augmented).length);
  expect(summary.cacheRows).toBe(2 * summary.clips);
  const metrics = JSON.parse(fs.readFileSync(path.join(out, 'run', 'metrics.json'), 'utf8'));
  expect(summary.uar).toBe(metrics.summary.uar.mean);
  expect(summary.accuracy).toBe(metrics.summary.accuracy.mean);
  expect(summary.testClips).toBe(metrics.pooled.total);
  expect(summary.testSpeakers).toEqual(['ravdess:04', 'ravdess:05']);
  expect(metrics.folds[0].testSpeakers).toEqual(summary.testSpeakers);
  expect(summary.baselineUar).toBe(metrics.baselineSummary.uar.mean);
  const epochs = fs.readFileSync(path.join(out, 'run', 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  expect(summary.epochs).toBe(epochs);
  const config = JSON.parse(fs.readFileSync(path.join(out, 'run', 'config.json'), 'utf8'));
  expect(summary.backend).toBe(config.backends[0].backend);
  expect(summary.threads).toBe(config.backends[0].threads);
  expect(summary.report).toBe(path.join(out, 'run', 'report.html'));
  expect(summary.featuresRealTimeFactor).toBeGreaterThan(1);
  expect(summary.predictions).toHaveLength(2);
  for (const p of summary.predictions) {
    expect(p.file).toContain(path.join(out, 'corpus'));
    expect(EMOTIONS).toContain(p.emotion);
  }
  const table = demoTable(summary);
  expect(table).toContain(`${(100 * summary.uar).toFixed(1)}%`);
  expect(table).toContain(summary.report);
  // A second demo into the same folder is refused instead of mixing outputs.
  const again = spawnSync(process.execPath, [CLI, 'demo', '-o', out, '--speakers', '5'], { encoding: 'utf8' });
  expect(again.status).toBe(1);
  expect(again.stderr).toMatch(/exists: give ser demo a new or empty folder/);
}, 120_000);
