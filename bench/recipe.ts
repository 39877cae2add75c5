// The recipe study (issue 15): which training recipe earns its keep on speakers never seen in training.
// node dist/bench/recipe.js [--work <dir>] [--only <config>[,<config>]] [--corpora A,B] [--out <file>]
//
// Each synthetic corpus is made with `ser synth` (its own layout, seed and speaker count), prepared once
// with its audio kept (online augmentation needs it), and every configuration is trained with
// `ser train --seeds 3` on the corpus's one speaker-disjoint split, then scored by `ser eval`, whose
// baseline (logistic regression on clip statistics) is fitted on the same training rows. Everything
// goes through the CLI as a user runs it. A finished configuration is skipped when the study is run
// again, an interrupted one resumes (--resume), so the study can be stopped and continued.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../src/io/atomic';

interface Corpus {
  name: string;
  synth: string[];
  split: string[];
  description: string;
}

const CORPORA: readonly Corpus[] = [
  {
    name: 'A', description: 'RAVDESS layout, 10 voices, 8 emotions, 460 clips; test 3 voices, validation 1',
    synth: ['--corpus', 'ravdess', '--speakers', '10', '--clips-per-class', '6', '--seed', '11'],
    split: ['--test-fraction', '0.3', '--val-fraction', '0.1'],
  },
  {
    name: 'B', description: 'CREMA-D layout, 12 voices, 6 emotions, 432 clips; test 3 voices, validation 2',
    synth: ['--corpus', 'crema', '--speakers', '12', '--clips-per-class', '6', '--seed', '22'],
    split: ['--test-fraction', '0.25', '--val-fraction', '0.15'],
  },
];

/** The schedule that lets the seed model converge on a few hundred clips (the short one stopped some seeds early). */
const LONG = ['--epochs', '100', '--patience', '15', '--lr-patience', '5'];

const AVERAGE = ['--weight-average', '0.99'];

/** Configurations: name, what changes against the default, and its `ser train` flags. */
const CONFIGS: readonly { name: string; label: string; args: string[] }[] = [
  { name: 'seed-global', label: 'seed preset, global normalisation (the old default)', args: ['--model', 'seed', '--normalize', 'global'] },
  { name: 'seed-speaker', label: 'seed preset, speaker normalisation', args: ['--model', 'seed', '--normalize', 'speaker'] },
  { name: 'seed-utterance', label: 'seed preset, utterance normalisation', args: ['--model', 'seed', '--normalize', 'utterance'] },
  { name: 'small-global', label: 'small preset, global normalisation', args: ['--model', 'small', '--normalize', 'global'] },
  { name: 'small-speaker', label: 'small preset, speaker normalisation', args: ['--model', 'small', '--normalize', 'speaker'] },
  { name: 'seed-speaker-long', label: 'seed preset, speaker normalisation, long schedule: up to 100 epochs, patience 15, learning-rate patience 5', args: ['--model', 'seed', '--normalize', 'speaker', ...LONG] },
  { name: 'small-speaker-long', label: 'small preset, speaker normalisation, long schedule', args: ['--model', 'small', '--normalize', 'speaker', ...LONG] },
  { name: 'seed-speaker-long-ema', label: 'seed preset, speaker normalisation, long schedule, weight average 0.99 (the new defaults)', args: ['--model', 'seed', '--normalize', 'speaker', ...LONG, ...AVERAGE] },
  { name: 'seed-speaker-long-ema-2blocks', label: 'new defaults, 2 convolution blocks (32,64: the LSTM sees 75 steps, not 37)', args: ['--model', 'seed', '--normalize', 'speaker', ...LONG, ...AVERAGE, '--conv-filters', '32,64'] },
  { name: 'seed-speaker-long-ema-valuar', label: 'new defaults, --monitor val_uar', args: ['--model', 'seed', '--normalize', 'speaker', ...LONG, ...AVERAGE, '--monitor', 'val_uar'] },
  { name: 'seed-speaker-long-ema-nomixup', label: 'new defaults, no mixup', args: ['--model', 'seed', '--normalize', 'speaker', ...LONG, ...AVERAGE, '--mixup', '0'] },
  { name: 'seed-speaker-long-ema-online', label: 'new defaults, online augmentation (noise, shift, pitch, stretch)', args: ['--model', 'seed', '--normalize', 'speaker', ...LONG, ...AVERAGE, '--online-augment'] },
  { name: 'small-speaker-long-ema', label: 'small preset, new defaults', args: ['--model', 'small', '--normalize', 'speaker', ...LONG, ...AVERAGE] },
];

interface Args {
  work: string;
  only: string[];
  corpora: string[];
  out: string;
  seeds: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { work: path.resolve('.recipe'), only: [], corpora: CORPORA.map((c) => c.name), out: path.resolve('bench/recipe.md'), seeds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return next;
    };
    const arg = argv[i];
    if (arg === '--work') args.work = path.resolve(value());
    else if (arg === '--only') args.only = value().split(',');
    else if (arg === '--corpora') args.corpora = value().split(',');
    else if (arg === '--out') args.out = path.resolve(value());
    else if (arg === '--seeds') args.seeds = Number(value());
    else throw new Error(`unknown argument ${arg}\nusage: node dist/bench/recipe.js [--work dir] [--only configs] [--corpora A,B] [--seeds n] [--out file]`);
  }
  return args;
}

const SER = path.join(__dirname, '..', 'src', 'cli', 'index.js');

function ser(args: string[], quiet = false): string {
  return execFileSync(process.execPath, [SER, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', quiet ? 'ignore' : 'inherit'], maxBuffer: 1 << 28 });
}

interface Evaluated {
  corpus: string;
  config: string;
  uar: number[];
  accuracy: number[];
  baselineUar: number;
  epochs: number[];
  bestEpochs: number[];
  seconds: number;
}

interface EvalJson {
  folds: { seed: number; uar: number; accuracy: number; baseline: { uar: number } | null; epochs: number; bestEpoch: number }[];
}

function prepareCorpus(work: string, corpus: Corpus): string {
  const cache = path.join(work, `${corpus.name}.cache`);
  if (fs.existsSync(path.join(cache, 'manifest.json'))) return cache;
  const clips = path.join(work, corpus.name);
  ser(['synth', clips, ...corpus.synth], true);
  ser(['prepare', clips, '-o', cache, '--keep-audio', '--overwrite'], true);
  return cache;
}

function runConfig(work: string, corpus: Corpus, cache: string, config: (typeof CONFIGS)[number], seeds: number): Evaluated {
  const run = path.join(work, 'runs', corpus.name, config.name);
  const resultFile = path.join(run, 'study.json');
  if (fs.existsSync(resultFile)) return JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Evaluated;
  const started = performance.now();
  const resume = fs.existsSync(path.join(run, 'config.json'));
  process.stderr.write(`recipe: ${corpus.name} ${config.name}${resume ? ' (resuming)' : ''}\n`);
  ser(resume ? ['train', '-o', run, '--resume', '--json'] : ['train', cache, '-o', run, '--seeds', String(seeds), ...corpus.split, ...config.args, '--json'], true);
  const evaluation = JSON.parse(ser(['eval', run, '--json'], true)) as EvalJson;
  const result: Evaluated = {
    corpus: corpus.name, config: config.name,
    uar: evaluation.folds.map((f) => f.uar), accuracy: evaluation.folds.map((f) => f.accuracy),
    baselineUar: evaluation.folds[0].baseline?.uar ?? NaN,
    epochs: evaluation.folds.map((f) => f.epochs), bestEpochs: evaluation.folds.map((f) => f.bestEpoch),
    seconds: (performance.now() - started) / 1000,
  };
  writeFileAtomic(resultFile, Buffer.from(`${JSON.stringify(result)}\n`, 'utf8'));
  return result;
}

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: readonly number[]) => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / Math.max(v.length - 1, 1));

function render(results: readonly Evaluated[], args: Args): string {
  const corpora = CORPORA.filter((c) => args.corpora.includes(c.name));
  const lines = [
    '# Recipe study: held-out-speaker UAR by training recipe',
    '',
    `Written by \`node dist/bench/recipe.js\` (${new Date().toISOString().slice(0, 10)}). Every cell: mean ± std over ${args.seeds} seeds of \`ser train --seeds ${args.seeds}\` on one speaker-disjoint split; Δ is the mean minus the baseline (logistic regression on clip means and standard deviations, same training and test rows).`,
    '',
    ...corpora.map((c) => `- corpus ${c.name}: ${c.description} (\`ser synth ${c.synth.join(' ')}\`, \`ser train ${c.split.join(' ')}\`)`),
    '',
    `| configuration | ${corpora.map((c) => `${c.name}: UAR | ${c.name}: Δ baseline`).join(' | ')} | mean Δ | epochs (best) | minutes (wall, shared machine) |`,
    `| --- | ${corpora.map(() => '---: | ---:').join(' | ')} | ---: | ---: | ---: |`,
  ];
  for (const config of CONFIGS) {
    const rows = corpora.map((c) => results.find((r) => r.corpus === c.name && r.config === config.name));
    if (rows.every((r) => r === undefined)) continue;
    const cells = rows.map((r) => (r ? `${mean(r.uar).toFixed(3)} ± ${std(r.uar).toFixed(3)} | ${(mean(r.uar) - r.baselineUar >= 0 ? '+' : '')}${(mean(r.uar) - r.baselineUar).toFixed(3)}` : '– | –'));
    const done = rows.filter((r): r is Evaluated => r !== undefined);
    const deltas = done.map((r) => mean(r.uar) - r.baselineUar);
    const epochs = done.flatMap((r) => r.epochs);
    const best = done.flatMap((r) => r.bestEpochs);
    lines.push(`| ${config.label} | ${cells.join(' | ')} | ${(mean(deltas) >= 0 ? '+' : '')}${mean(deltas).toFixed(3)} | ${mean(epochs).toFixed(0)} (${mean(best).toFixed(0)}) | ${(done.reduce((a, r) => a + r.seconds, 0) / 60).toFixed(1)} |`);
  }
  const baselines = corpora.map((c) => results.find((r) => r.corpus === c.name)?.baselineUar);
  lines.push('', `Baseline UAR: ${corpora.map((c, i) => `${c.name} ${baselines[i]?.toFixed(3) ?? '–'}`).join(', ')}.`, '');
  lines.push('Per seed (UAR):', '');
  for (const r of results) lines.push(`- ${r.corpus} ${r.config}: ${r.uar.map((u) => u.toFixed(3)).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.work, { recursive: true });
  const configs = CONFIGS.filter((c) => args.only.length === 0 || args.only.includes(c.name));
  const results: Evaluated[] = [];
  const corpora = CORPORA.filter((c) => args.corpora.includes(c.name));
  const caches = new Map(corpora.map((corpus) => [corpus.name, prepareCorpus(args.work, corpus)]));
  // Configuration by configuration, each on every corpus, so a partial study already compares corpora.
  for (const config of CONFIGS) {
    for (const corpus of corpora) {
      const resultFile = path.join(args.work, 'runs', corpus.name, config.name, 'study.json');
      if (configs.includes(config)) results.push(runConfig(args.work, corpus, caches.get(corpus.name) as string, config, args.seeds));
      else if (fs.existsSync(resultFile)) results.push(JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Evaluated);
      writeFileAtomic(args.out, Buffer.from(render(results, args), 'utf8'));
    }
  }
  process.stdout.write(render(results, args));
}

main();
