// The real-speech study (issue: accuracy on real speech): training recipes compared on real RAVDESS
// with speaker-disjoint cross-validation, chosen on validation speakers only.
// node dist/bench/real-speech.js --data <RAVDESS folder> [--work <dir>] [--only <candidate>[,...]] [--folds 6] [--out <file>]
//
// The data is never committed and never needed by a test: give its folder (Actor_01 ... Actor_24).
// Every candidate goes through the CLI as a user runs it: `ser prepare` once per feature setting, then
// `ser train --folds K` (each fold's validation speakers are another fold's actors, inside the fold's
// training actors; its test actors inform nothing), then `ser eval --on val` (what choices are made on)
// and `ser eval` (the test figures, reported beside them). A finished candidate is skipped when the
// study runs again, an interrupted one resumes (--resume).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../src/io/atomic';

interface Candidate {
  name: string;
  label: string;
  prepare: string[];
  train: string[];
}

// Screened with the small preset (about 2 minutes a fold here), finalists confirmed with the seed preset.
const CANDIDATES: readonly Candidate[] = [
  { name: 'small-speaker', label: 'small preset, speaker normalisation', prepare: [], train: ['--model', 'small', '--normalize', 'speaker'] },
  { name: 'small-global', label: 'small preset, global normalisation', prepare: [], train: ['--model', 'small', '--normalize', 'global'] },
  { name: 'small-utterance', label: 'small preset, per-clip normalisation', prepare: [], train: ['--model', 'small', '--normalize', 'utterance'] },
  { name: 'small-global-specaug', label: 'small preset, global normalisation, SpecAugment 2,20,2,4', prepare: [], train: ['--model', 'small', '--normalize', 'global', '--spec-augment'] },
  { name: 'small-speaker-enrol4', label: 'small preset, speaker normalisation from 4 random clips in training', prepare: [], train: ['--model', 'small', '--normalize', 'speaker', '--enrol-clips', '4'] },
  { name: 'seed-speaker', label: 'seed preset, speaker normalisation (the defaults)', prepare: [], train: ['--model', 'seed', '--normalize', 'speaker'] },
  { name: 'seed-global', label: 'seed preset, global normalisation', prepare: [], train: ['--model', 'seed', '--normalize', 'global'] },
  // The spread over seeds: fold 0 only, three models from their own seeds (eval reports over the seeds).
  { name: 'seed-global-fold0-seeds3', label: 'seed preset, global normalisation, fold 0 only, 3 seeds', prepare: [], train: ['--model', 'seed', '--normalize', 'global', '--fold', '0', '--seeds', '3'] },
  { name: 'seed-global-logmel64', label: 'seed preset, global normalisation, 64 log-mel bands', prepare: ['--kind', 'logmel', '--n-mels', '64'], train: ['--model', 'seed', '--normalize', 'global'] },
  { name: 'small-global-logmel64', label: 'small preset, global normalisation, 64 log-mel bands', prepare: ['--kind', 'logmel', '--n-mels', '64'], train: ['--model', 'small', '--normalize', 'global'] },
  { name: 'small-global-online', label: 'small preset, global normalisation, online pitch, stretch and noise', prepare: ['--keep-audio'], train: ['--model', 'small', '--normalize', 'global', '--online-augment', 'pitch,stretch,noise'] },
  { name: 'small-global-crop4', label: 'small preset, global normalisation, 4 s crop from 0.25 s', prepare: ['--duration', '4', '--offset', '0.25'], train: ['--model', 'small', '--normalize', 'global'] },
  { name: 'small-global-nomixup', label: 'small preset, global normalisation, no mixup', prepare: [], train: ['--model', 'small', '--normalize', 'global', '--mixup', '0'] },
  { name: 'small-global-classweights', label: 'small preset, global normalisation, class weights', prepare: [], train: ['--model', 'small', '--normalize', 'global', '--class-weights'] },
  // What averaging three models of each fold (`--seeds 3`; ser predict averages a run's models) buys.
  { name: 'small-global-seeds3', label: 'small preset, global normalisation, 3 seeds', prepare: [], train: ['--model', 'small', '--normalize', 'global', '--seeds', '3'] },
  { name: 'small-global-valuar', label: 'small preset, global normalisation, schedule on validation UAR', prepare: [], train: ['--model', 'small', '--normalize', 'global', '--monitor', 'val_uar'] },
  // Offline augmented copies (as the bundle bench prepares them): three times the training rows; validation and test score originals only.
  { name: 'small-global-aug2', label: 'small preset, global normalisation, 2 augmented copies (noise, shift, stretch, pitch, speed)', prepare: ['--augment', 'noise,shift,stretch,pitch,speed', '--copies', '2'], train: ['--model', 'small', '--normalize', 'global'] },
  { name: 'small-global-aug2-seeds3', label: 'small preset, global normalisation, 2 augmented copies, 3 seeds', prepare: ['--augment', 'noise,shift,stretch,pitch,speed', '--copies', '2'], train: ['--model', 'small', '--normalize', 'global', '--seeds', '3'] },
];

interface Args {
  data: string;
  work: string;
  only: string[];
  folds: number;
  out: string;
}

const USAGE = 'usage: node dist/bench/real-speech.js --data <RAVDESS folder> [--work dir] [--only candidates] [--folds k] [--out file]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { data: '', work: path.resolve('.real-speech'), only: [], folds: 6, out: path.resolve('bench/real-speech.md') };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value\n${USAGE}`);
      return next;
    };
    const arg = argv[i];
    if (arg === '--data') args.data = path.resolve(value());
    else if (arg === '--work') args.work = path.resolve(value());
    else if (arg === '--only') args.only = value().split(',');
    else if (arg === '--folds') args.folds = Number(value());
    else if (arg === '--out') args.out = path.resolve(value());
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (!args.data || !fs.existsSync(args.data)) throw new Error(`--data must name the RAVDESS folder\n${USAGE}`);
  for (const name of args.only) if (!CANDIDATES.some((c) => c.name === name)) throw new Error(`unknown candidate ${name} (${CANDIDATES.map((c) => c.name).join(', ')})`);
  return args;
}

const SER = path.join(__dirname, '..', 'src', 'cli', 'index.js');

function ser(args: string[]): string {
  return execFileSync(process.execPath, [SER, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
}

type Figures = { uar: { mean: number; std: number; values: number[] } };

interface EvalJson {
  uar: Figures['uar'];
  baseline: Figures | null;
  scorings: { enrol1: Figures; enrol4: Figures; speakerMap: Figures } | null;
  /** Runs of several seeds: each clip scored by its fold's seeds' averaged probabilities. */
  seedAverage?: Figures | null;
  folds: { epochs: number; bestEpoch: number }[];
}

interface Result {
  candidate: string;
  val: { single: number; speakerMap: number | null; seedAverage?: number | null };
  test: { single: Figures['uar']; enrol1: number | null; enrol4: number | null; speakerMap: number | null; baseline: number | null; seedAverage?: Figures['uar'] | null };
  epochs: number;
  bestEpoch: number;
  minutes: number;
}

function cacheFor(args: Args, candidate: Candidate): string {
  const key = candidate.prepare.length === 0 ? 'default' : candidate.prepare.join('_').replace(/[^a-z0-9_]/gi, '');
  const cache = path.join(args.work, `cache-${key}`);
  if (!fs.existsSync(path.join(cache, 'manifest.json'))) ser(['prepare', args.data, '-o', cache, '--corpus', 'ravdess', '--overwrite', ...candidate.prepare]);
  return cache;
}

function runCandidate(args: Args, candidate: Candidate): Result {
  const run = path.join(args.work, 'runs', candidate.name);
  const resultFile = path.join(run, 'study.json');
  if (fs.existsSync(resultFile)) return JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Result;
  const started = performance.now();
  const cache = cacheFor(args, candidate);
  const resume = fs.existsSync(path.join(run, 'config.json'));
  process.stderr.write(`real-speech: ${candidate.name}${resume ? ' (resuming)' : ''}\n`);
  ser(resume ? ['train', '-o', run, '--resume', '--json'] : ['train', cache, '-o', run, '--folds', String(args.folds), '--seed', '1', ...candidate.train, '--json']);
  const val = JSON.parse(ser(['eval', run, '--on', 'val', '--json'])) as EvalJson;
  const test = JSON.parse(ser(['eval', run, '--json'])) as EvalJson;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const result: Result = {
    candidate: candidate.name,
    val: { single: val.uar.mean, speakerMap: val.scorings?.speakerMap.uar.mean ?? null, seedAverage: val.seedAverage?.uar.mean ?? null },
    test: {
      single: test.uar, enrol1: test.scorings?.enrol1.uar.mean ?? null, enrol4: test.scorings?.enrol4.uar.mean ?? null,
      speakerMap: test.scorings?.speakerMap.uar.mean ?? null, baseline: test.baseline?.uar.mean ?? null,
      seedAverage: test.seedAverage?.uar ?? null,
    },
    epochs: mean(test.folds.map((f) => f.epochs)), bestEpoch: mean(test.folds.map((f) => f.bestEpoch)),
    minutes: (performance.now() - started) / 60000,
  };
  writeFileAtomic(resultFile, Buffer.from(`${JSON.stringify(result)}\n`, 'utf8'));
  return result;
}

function render(results: readonly Result[], args: Args): string {
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(3));
  const chosen = [...results].sort((a, b) => b.val.single - a.val.single)[0];
  return [
    '# Real-speech study: RAVDESS, speaker-disjoint cross-validation',
    '',
    `Written by \`node dist/bench/real-speech.js\` (${new Date().toISOString().slice(0, 10)}): real RAVDESS speech (24 actors x 60 clips), ` +
      `\`ser train --folds ${args.folds} --seed 1\` (4 test actors a fold, the next fold's 4 actors for validation, 16 training), ` +
      'scored by `ser eval --on val` (validation speakers: what the choice is made on) and `ser eval` (test speakers). UAR, mean over folds ' +
      '(test single clip: ± std over folds, or over every seed and fold for runs of several seeds). Single clip: each clip scored alone, as `ser predict` scores a lone file; k clips: the ' +
      'speaker\'s statistics from k other clips; map: from all the speaker\'s clips; baseline: logistic regression on clip statistics standardised as the model\'s rows.',
    '',
    '| candidate | val: single clip | val: map | test: single clip | test: 1 clip | test: 4 clips | test: map | test: baseline | epochs (best) | minutes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${CANDIDATES.find((c) => c.name === r.candidate)?.label ?? r.candidate} | ${f(r.val.single)} | ${f(r.val.speakerMap)} | ` +
      `${r.test.single.mean.toFixed(3)} ± ${r.test.single.std.toFixed(3)} | ${f(r.test.enrol1)} | ${f(r.test.enrol4)} | ${f(r.test.speakerMap)} | ${f(r.test.baseline)} | ` +
      `${r.epochs.toFixed(0)} (${r.bestEpoch.toFixed(0)}) | ${r.minutes.toFixed(0)} |`),
    '',
    ...results.filter((r) => r.val.seedAverage != null && r.test.seedAverage != null).map((r) =>
      `${CANDIDATES.find((c) => c.name === r.candidate)?.label ?? r.candidate}, each clip scored by its fold's seeds' averaged probabilities (as ser predict averages a run's models): ` +
      `val ${f(r.val.seedAverage ?? null)}, test ${r.test.seedAverage?.mean.toFixed(3)} ± ${r.test.seedAverage?.std.toFixed(3)}.`),
    '',
    chosen ? `Best on validation (single clip): ${chosen.candidate}.` : '',
    '',
  ].join('\n');
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.work, { recursive: true });
  const results: Result[] = [];
  for (const candidate of CANDIDATES) {
    const resultFile = path.join(args.work, 'runs', candidate.name, 'study.json');
    if (args.only.length === 0 || args.only.includes(candidate.name)) results.push(runCandidate(args, candidate));
    else if (fs.existsSync(resultFile)) results.push(JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Result);
    writeFileAtomic(args.out, Buffer.from(render(results, args), 'utf8'));
  }
  process.stdout.write(render(results, args));
}

try {
  main();
} catch (error) {
  process.stderr.write(`real-speech: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
