// The many-machines recipes on a real scheduler: a one-node Slurm cluster (test/helpers/slurm-cluster.sh,
// Debian's slurm-wlm and munge; .ci/run installs them) runs `ser prepare --shards` and `ser train
// --folds --fold auto` as array jobs. Skipped, with a message, only where Slurm is not installed.
// The README's Kubernetes recipes are parsed and checked here too.
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { parseAllDocuments } from 'yaml';

import { CLI, ROOT, tempDir } from './helpers/paths';

const SCRIPT = path.join(ROOT, 'test', 'helpers', 'slurm-cluster.sh');
const slurmInstalled = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch'].every((f) => fs.existsSync(f));
if (!slurmInstalled) {
  // eslint-disable-next-line no-console
  console.warn('slurm.test: Slurm is not installed (apt-get install slurm-wlm munge); the scheduler tests are skipped');
}
const work = tempDir('slurm');
const cluster = path.join(work, 'cluster');
const env = { ...process.env, SLURM_CONF: path.join(cluster, 'slurm.conf') };

function run(command: string, args: string[], options: { cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: 'utf8', env, cwd: options.cwd ?? work });
}

function ok(result: SpawnSyncReturns<string>): string {
  if (result.status !== 0) throw new Error(`exit ${result.status}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

function ser(...args: string[]): string {
  return ok(run(process.execPath, [CLI, ...args]));
}

/** Submits an array job; with wait, returns when every task has ended. */
function sbatch(array: string, command: string, wait = true): string {
  const out = ok(run('sbatch', ['--parsable', ...(wait ? ['--wait'] : []), `--array=${array}`, '-o', path.join(work, 'slurm-%A_%a.out'), '--wrap', command]));
  return out.trim().split(';')[0];
}

function cacheRows(cache: string): { ids: string[]; features: Buffer } {
  const manifest = JSON.parse(fs.readFileSync(path.join(cache, 'manifest.json'), 'utf8')) as { items: { id: string }[]; shards: { file: string }[] };
  // The rows in order: each shard's data after its NPY header.
  const features = Buffer.concat(manifest.shards.map((s) => {
    const bytes = fs.readFileSync(path.join(cache, s.file));
    return bytes.subarray(10 + bytes.readUInt16LE(8));
  }));
  return { ids: manifest.items.map((i) => i.id), features };
}

const describeSlurm = slurmInstalled ? describe : describe.skip;

describeSlurm('on a one-node Slurm cluster', () => {
  const corpus = path.join(work, 'corpus');
  const node = process.execPath;

  beforeAll(() => {
    ok(run('bash', [SCRIPT, 'start', cluster]));
    ser('synth', corpus, '--corpus', 'ravdess', '--speakers', '6', '--clips-per-class', '3', '--seconds', '1.5', '--seed', '8');
    ser('prepare', corpus, '-o', path.join(work, 'single'), '--offset', '0.1', '--duration', '1.2', '--n-mfcc', '20', '--shard-rows', '16');
  }, 120_000);

  afterAll(() => {
    run('bash', [SCRIPT, 'stop', cluster]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('sbatch --array=0-3 of prepare --shards 4, then merge: the single-machine cache, row for row', () => {
    const slices = path.join(work, 'slices');
    sbatch('0-3', `${node} ${CLI} prepare ${corpus} --shards 4 --workers 1 --offset 0.1 --duration 1.2 --n-mfcc 20 --shard-rows 16 -o ${slices}/part-$SLURM_ARRAY_TASK_ID`);
    ser('merge', ...[0, 1, 2, 3].map((k) => path.join(slices, `part-${k}`)), '-o', path.join(work, 'merged'));
    const single = cacheRows(path.join(work, 'single'));
    const merged = cacheRows(path.join(work, 'merged'));
    expect(merged.ids).toEqual(single.ids);
    expect(merged.features.equals(single.features)).toBe(true);
  }, 180_000);

  test('a task cancelled with scancel midway, the array resubmitted: the slices finish and the merge is the same', () => {
    const slices = path.join(work, 'slices-cancelled');
    // One clip per task and one row per shard, so task 1 is still running when it is cancelled.
    const command = `${node} ${CLI} prepare ${corpus} --shards 4 --workers 1 --clips-per-task 1 --offset 0.1 --duration 1.2 --n-mfcc 20 --shard-rows 16 -o ${slices}/part-$SLURM_ARRAY_TASK_ID`;
    const job = sbatch('0-3', command, false);
    const stateFile = path.join(slices, 'part-1', 'prepare-state.json');
    for (let i = 0; i < 600 && !fs.existsSync(stateFile); i++) spawnSync('sleep', ['0.05']);
    ok(run('scancel', [`${job}_1`]));
    // Wait for the rest of the array to end.
    for (let i = 0; i < 1200; i++) {
      const queue = run('squeue', ['-h', '-j', job]).stdout.trim();
      if (queue === '') break;
      spawnSync('sleep', ['0.1']);
    }
    expect(fs.existsSync(path.join(slices, 'part-1', 'manifest.json'))).toBe(false);
    sbatch('0-3', command);
    ser('merge', ...[0, 1, 2, 3].map((k) => path.join(slices, `part-${k}`)), '-o', path.join(work, 'merged-cancelled'));
    const single = cacheRows(path.join(work, 'single'));
    const merged = cacheRows(path.join(work, 'merged-cancelled'));
    expect(merged.ids).toEqual(single.ids);
    expect(merged.features.equals(single.features)).toBe(true);
  }, 180_000);

  test('sbatch --array=0-2 of train --folds 3 --fold auto, then eval: each speaker tested once, the folds of one sequential run', () => {
    const cache = path.join(work, 'single');
    const options = ['--folds', '3', '--model', 'small', '--epochs', '3', '--batch-size', '16', '--seed', '5', '--threads', '1'];
    const parallel = path.join(work, 'run-array');
    sbatch('0-2', `${node} ${CLI} train ${cache} -o ${parallel} --fold auto ${options.join(' ')}`);
    const joined = JSON.parse(ser('eval', parallel, '--json', '--threads', '1')) as {
      missingFolds: number[]; folds: { fold: number; testSpeakers: string[]; rows: number; accuracy: number; uar: number; macroF1: number }[];
    };
    expect(joined.missingFolds).toEqual([]);
    const speakers = joined.folds.flatMap((f) => f.testSpeakers).sort();
    expect(speakers).toEqual([...new Set(speakers)]);
    expect(speakers).toHaveLength(6);
    const sequential = path.join(work, 'run-sequential');
    ser('train', cache, '-o', sequential, ...options);
    const one = JSON.parse(ser('eval', sequential, '--json', '--threads', '1')) as typeof joined;
    expect(joined.folds).toEqual(one.folds);
    // Config and folds were written once and agree; each fold kept its own starts.
    for (const file of ['config.json', 'folds.json']) expect(fs.existsSync(path.join(parallel, file))).toBe(true);
    for (const fold of [1, 2, 3]) expect(JSON.parse(fs.readFileSync(path.join(parallel, `fold-${fold}`, 'starts.json'), 'utf8'))).toHaveLength(1);
  }, 300_000);

  test('eval joins the finished folds and names the missing ones; --require-all makes that an error', () => {
    const cache = path.join(work, 'single');
    const partial = path.join(work, 'run-partial');
    const options = ['--folds', '3', '--model', 'small', '--epochs', '2', '--batch-size', '16', '--seed', '5', '--threads', '1'];
    ser('train', cache, '-o', partial, '--fold', '0', ...options);
    ser('train', cache, '-o', partial, '--fold', '2', ...options);
    const joined = JSON.parse(ser('eval', partial, '--json', '--threads', '1')) as { missingFolds: number[]; folds: { fold: number }[] };
    expect(joined.missingFolds).toEqual([2]);
    expect(joined.folds.map((f) => f.fold)).toEqual([1, 3]);
    const strict = run(process.execPath, [CLI, 'eval', partial, '--require-all']);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toMatch(/fold\(s\) 2 of 3 have not finished training/);
    const other = run(process.execPath, [CLI, 'train', cache, '-o', partial, '--fold', '1', ...options.map((o) => (o === '5' ? '6' : o))]);
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/other settings/);
  }, 180_000);
});

test('the README\'s Kubernetes recipes parse and set what they rely on', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = /^## Many machines\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  const jobs = blocks.flatMap((b) => parseAllDocuments(b).map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join('; '));
    return d.toJS() as { kind: string; spec: { completions: number; completionMode: string; template: { spec: { containers: { command: string[]; volumeMounts: { mountPath: string; name: string }[] }[]; volumes: { name: string; persistentVolumeClaim: { claimName: string } }[] } } } };
  }));
  const commands: string[] = [];
  for (const job of jobs) {
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    const pod = job.spec.template.spec;
    const container = pod.containers[0];
    commands.push(container.command.join(' '));
    // The command writes under the mounted volume, and the volume is a claim.
    const mount = container.volumeMounts[0];
    expect(pod.volumes.map((v) => v.name)).toContain(mount.name);
    expect(pod.volumes[0].persistentVolumeClaim.claimName).toBeTruthy();
    expect(container.command.join(' ')).toContain(mount.mountPath);
  }
  const prepare = jobs[commands.findIndex((c) => /ser prepare/.test(c))];
  expect(commands.find((c) => /ser prepare/.test(c))).toMatch(new RegExp(`--shards ${prepare.spec.completions}\\b`));
  const train = jobs[commands.findIndex((c) => /ser train/.test(c))];
  expect(commands.find((c) => /ser train/.test(c))).toMatch(new RegExp(`--folds ${train.spec.completions}\\b.*--fold auto|--fold auto.*--folds ${train.spec.completions}\\b`));
});
