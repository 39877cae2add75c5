// `ser eval <run>` and `ser predict <run> <file.wav...>`.
import * as path from 'path';

import { Command, Option } from 'commander';

import { BACKENDS, type BackendChoice } from '../backend';
import { loadModel, predictFiles } from '../eval/model';
import { evaluate } from '../report/write';
import { PartialFailure } from './errors';
import { threadsOption } from './options';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a trained run on its held-out test speakers: metrics.json, confusion.svg, curves.svg, report.html')
    .argument('<run>', 'run folder from ser train')
    .option('--cache <cache>', 'evaluate on this cache instead of the run\'s (same feature settings)')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default('auto'))
    .addOption(threadsOption())
    .option('--json', 'print metrics as JSON')
    .action(async (run: string, opts: { cache?: string; backend: BackendChoice; threads?: number; json?: boolean }) => {
      const evaluation = await evaluate(run, { cache: opts.cache, backend: opts.backend, threads: opts.threads });
      const { summary, pooled } = evaluation;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({
          splitKind: evaluation.splitKind, optimistic: evaluation.optimistic, testSet: evaluation.testSet,
          folds: evaluation.folds.map((f) => ({ fold: f.fold, testSpeakers: f.testSpeakers, rows: f.rows, accuracy: f.metrics.accuracy, uar: f.metrics.uar, macroF1: f.metrics.macroF1 })),
          accuracy: summary.accuracy, uar: summary.uar, macroF1: summary.macroF1, confusion: pooled.confusion, labels: pooled.labels, files: evaluation.files,
        })}\n`);
        return;
      }
      const lines: string[] = [];
      if (evaluation.optimistic) lines.push('WARNING: random split by clip: speakers are shared between training and test, so these numbers are optimistic');
      for (const f of evaluation.folds) {
        lines.push(`fold ${f.fold}: ${f.rows} test clips (${f.testSpeakers.join(', ')}): WA ${pct(f.metrics.accuracy)}  UAR ${pct(f.metrics.uar)}  macro-F1 ${pct(f.metrics.macroF1)}`);
      }
      const pm = (s: typeof summary.uar) => (s.values.length > 1 ? `${pct(s.mean)} ± ${pct(s.std)}` : pct(s.mean));
      lines.push(`${evaluation.folds.length > 1 ? 'mean ± std' : 'test'}: WA ${pm(summary.accuracy)}  UAR ${pm(summary.uar)}  macro-F1 ${pm(summary.macroF1)}`);
      lines.push(`${'class'.padEnd(10)} ${'n'.padStart(5)} ${'prec'.padStart(6)} ${'recall'.padStart(6)} ${'F1'.padStart(6)}`);
      for (const c of pooled.perClass) {
        lines.push(`${c.label.padEnd(10)} ${String(c.support).padStart(5)} ${c.precision.toFixed(3).padStart(6)} ${c.recall.toFixed(3).padStart(6)} ${c.f1.toFixed(3).padStart(6)}`);
      }
      lines.push(`report: ${path.resolve(evaluation.files.report)}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('predict the emotion of WAV files with a trained run (JSON lines: file, emotion, confidence, probabilities)')
    .argument('<run>', 'run folder from ser train (or its model/ folder)')
    .argument('<files...>', 'WAV files')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default('auto'))
    .addOption(threadsOption())
    .option('--json', 'print one JSON array instead of JSON lines')
    .action(async (run: string, files: string[], opts: { backend: BackendChoice; threads?: number; json?: boolean }) => {
      const model = await loadModel(run, { backend: opts.backend, threads: opts.threads });
      let results;
      try {
        results = await predictFiles(model, files, (result) => {
          if ('error' in result) process.stderr.write(`ser predict: ${result.file}: ${result.error}\n`);
          if (!opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        });
      } finally {
        model.dispose();
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(results)}\n`);
      const failed = results.filter((r) => 'error' in r).length;
      if (failed > 0) throw new PartialFailure(`${failed} of ${results.length} files could not be predicted`);
    });
}
