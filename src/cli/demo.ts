// `ser demo [-o dir]`: what `npm start` runs; prints a summary table read from the steps' outputs.
import { Command, Option } from 'commander';

import { BACKENDS, demo, type BackendChoice, type DemoSummary } from '../index';
import { parseInteger, threadsOption } from './options';
import { ProgressReporter } from './progress';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export function demoTable(s: DemoSummary): string {
  const rows: [string, string][] = [
    ['clips', `${s.clips} synthesised (${(s.audioSeconds / 60).toFixed(1)} min of audio), ${s.cacheRows} cache rows with augmented copies`],
    ['features', `${Math.round(s.featuresRealTimeFactor).toLocaleString('en-US')}x real time`],
    ['backend', `${s.backend}, ${s.threads} thread${s.threads === 1 ? '' : 's'}`],
    ['epochs', String(s.epochs)],
    ['test speakers', `${s.testSpeakers.join(', ')} (${s.testClips} clips, never seen in training)`],
    ['test UAR', `${pct(s.uar)} (chance 12.5%${s.baselineUar === null ? '' : `; baseline on clip statistics ${pct(s.baselineUar)}`})`],
    ['test WA', pct(s.accuracy)],
    ['macro-F1', pct(s.macroF1)],
    ...s.predictions.map((p): [string, string] => ['predicted', 'error' in p ? `${p.file}: ${p.error}` : `${p.file.split(/[\\/]/).pop()}: ${p.emotion} (${pct(p.confidence)})`]),
    ['time', `${s.seconds.toFixed(0)} s`],
    ['report', s.report],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('see the whole pipeline work: synth a small corpus, prepare, train, evaluate, predict (a few minutes)')
    .option('-o, --output <dir>', 'folder for everything the demo writes', 'ser-demo')
    .option('--speakers <n>', 'synthetic speakers (2 are held out for test, 1 for validation)', parseInteger, 8)
    .option('--clips-per-class <n>', 'clips per speaker and emotion', parseInteger, 4)
    .option('--epochs <n>', 'most training epochs', parseInteger, 25)
    .option('--seed <n>', 'seed of the corpus, split and training', parseInteger, 3)
    .option('--workers <n>', 'worker threads (default: one per core)', parseInteger)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default('auto'))
    .addOption(threadsOption())
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { output: string; speakers: number; clipsPerClass: number; epochs: number; seed: number; workers?: number; backend: BackendChoice; threads?: number; json?: boolean }) => {
      const tty = Boolean(process.stderr.isTTY);
      let bar: ProgressReporter | null = null;
      const summary = await demo({
        out: opts.output, speakers: opts.speakers, clipsPerClass: opts.clipsPerClass, epochs: opts.epochs, backend: opts.backend,
        threads: opts.threads, workers: opts.workers, seed: opts.seed,
        log: (line) => process.stderr.write(`${line}\n`),
        onTrainStep: ({ progress: p }) => {
          if (p.batch === 1) bar = new ProgressReporter(`epoch ${p.epoch}/${p.epochs}`, 'batches', process.stderr, tty ? 2 : 1e9);
          bar?.update({ done: p.batch, total: p.batches, elapsedSeconds: p.elapsedSeconds, detail: `loss ${p.loss.toFixed(3)} acc ${p.accuracy.toFixed(3)}` }, tty && p.batch === p.batches);
        },
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      process.stdout.write(`\nser demo: done\n${demoTable(summary)}\n\nOpen the report in a browser: file://${summary.report}\n`);
    });
}
