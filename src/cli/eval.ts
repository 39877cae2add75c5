// `ser eval <run>` and `ser predict <run> <file.wav...>`.
import * as path from 'path';

import { Command, Option } from 'commander';

import {
  BACKENDS, evaluate, TIMELINE_DEFAULTS, InputFileError, loadModel, OptionsError, predictFiles, readSpeakerMap, writeTimelinePage, type BackendChoice, type EmotionModel,
} from '../index';
import { PartialFailure } from './errors';
import { parseNumber, threadsOption } from './options';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

export function evalCommand(): Command {
  return new Command('eval')
    .description('evaluate a trained run on its held-out test speakers: metrics.json, confusion.svg, curves.svg, report.html')
    .argument('<run>', 'run folder from ser train')
    .option('--cache <cache>', 'evaluate on this cache instead of the run\'s (same feature settings)')
    .addOption(new Option('--on <speakers>', 'score each fold\'s test speakers, or its validation speakers (to choose settings without looking at the test)').choices(['test', 'val']).default('test'))
    .option('--require-all', 'fail when a fold has not finished training (default: join the finished folds and name the others)')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default('auto'))
    .addOption(threadsOption())
    .option('--json', 'print metrics as JSON')
    .action(async (run: string, opts: { cache?: string; backend: BackendChoice; threads?: number; json?: boolean; requireAll?: boolean; on: 'test' | 'val' }) => {
      const evaluation = await evaluate(run, { cache: opts.cache, backend: opts.backend, threads: opts.threads, requireAll: opts.requireAll, partition: opts.on });
      const { summary, pooled } = evaluation;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({
          partition: evaluation.partition, splitKind: evaluation.splitKind, optimistic: evaluation.optimistic, testSet: evaluation.testSet, missingFolds: evaluation.missingFolds,
          seeds: evaluation.seeds,
          folds: evaluation.folds.map((f) => ({
            fold: f.fold, seed: f.seed, epochs: f.history.length, bestEpoch: f.bestEpoch,
            testSpeakers: f.testSpeakers, rows: f.rows, accuracy: f.metrics.accuracy, uar: f.metrics.uar, macroF1: f.metrics.macroF1,
            baseline: f.baseline && { accuracy: f.baseline.accuracy, uar: f.baseline.uar, macroF1: f.baseline.macroF1, rows: f.baseline.total },
            scorings: f.scorings && Object.fromEntries(Object.entries(f.scorings).map(([name, m]) => [name, { accuracy: m.accuracy, uar: m.uar, macroF1: m.macroF1 }])),
          })),
          baseline: evaluation.baselineSummary,
          scorings: evaluation.scoringSummaries,
          seedAverage: evaluation.seedAverage && { ...evaluation.seedAverage.summary, folds: evaluation.seedAverage.folds.map((a) => ({ fold: a.fold, accuracy: a.metrics.accuracy, uar: a.metrics.uar, macroF1: a.metrics.macroF1 })) },
          accuracy: summary.accuracy, uar: summary.uar, macroF1: summary.macroF1, confusion: pooled.confusion, labels: pooled.labels, files: evaluation.files,
        })}\n`);
        return;
      }
      const lines: string[] = [];
      if (evaluation.optimistic) lines.push('WARNING: random split by clip: speakers are shared between training and test, so these numbers are optimistic');
      for (const f of evaluation.folds) {
        lines.push(`${evaluation.seeds > 1 ? `seed ${f.seed} ` : ''}fold ${f.fold}: ${f.rows} test clips (${f.testSpeakers.join(', ')}): WA ${pct(f.metrics.accuracy)}  UAR ${pct(f.metrics.uar)}  macro-F1 ${pct(f.metrics.macroF1)}` +
          (f.baseline ? `  (baseline UAR ${pct(f.baseline.uar)})` : ''));
      }
      if (evaluation.missingFolds.length > 0) {
        lines.push(`missing: fold(s) ${evaluation.missingFolds.join(', ')} have not finished training; joined the ${evaluation.folds.length} that have`);
      }
      const pm = (s: typeof summary.uar) => (s.values.length > 1 ? `${pct(s.mean)} ± ${pct(s.std)}` : pct(s.mean));
      const over = [evaluation.seeds > 1 ? `${evaluation.seeds} seeds` : '', evaluation.folds.length > evaluation.seeds ? 'folds' : ''].filter(Boolean).join(' and ');
      const figures = (s: typeof summary) => `WA ${pm(s.accuracy)}  UAR ${pm(s.uar)}  macro-F1 ${pm(s.macroF1)}`;
      lines.push(`${evaluation.folds.length > 1 ? `mean ± std over ${over}` : 'test'}, each clip scored alone (as ser predict scores a lone file): ${figures(summary)}`);
      if (evaluation.seedAverage) {
        const averaged = evaluation.seedAverage.folds.length;
        const folds = new Set([...evaluation.folds.map((f) => f.fold), ...evaluation.missingFolds]).size;
        const over = averaged < folds ? ` (${averaged} of ${folds} folds have every seed)` : averaged > 1 ? `, mean ± std over ${averaged} folds` : '';
        lines.push(`  each fold's ${evaluation.seeds} seeds averaged (as ser predict averages a run's models)${over}: ${figures(evaluation.seedAverage.summary)}`);
      }
      const scorings = evaluation.scoringSummaries;
      if (scorings) {
        lines.push(`  with the speaker's statistics from 1 other clip of the speaker: ${figures(scorings.enrol1)}`);
        lines.push(`  with the speaker's statistics from 4 other clips: ${figures(scorings.enrol4)}`);
        lines.push(`  with the speaker's statistics from all its clips (ser predict --speaker-map): ${figures(scorings.speakerMap)}`);
      }
      const base = evaluation.baselineSummary;
      if (base) lines.push(`baseline (logistic regression on each clip's coefficient means and stds, standardised as the model's rows, same rows): ${figures(base)}`);
      lines.push(`${'class'.padEnd(10)} ${'n'.padStart(5)} ${'prec'.padStart(6)} ${'recall'.padStart(6)} ${'F1'.padStart(6)}`);
      for (const c of pooled.perClass) {
        lines.push(`${c.label.padEnd(10)} ${String(c.support).padStart(5)} ${c.precision.toFixed(3).padStart(6)} ${c.recall.toFixed(3).padStart(6)} ${c.f1.toFixed(3).padStart(6)}`);
      }
      lines.push(`report: ${path.resolve(evaluation.files.report)}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

interface PredictCliOptions {
  backend: BackendChoice;
  threads?: number;
  json?: boolean;
  timeline?: boolean;
  window?: number;
  hop?: number;
  silenceDb?: number;
  output?: string;
  speakerMap?: string;
  enroll?: string;
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('predict the emotion of WAV files with a trained run (JSON lines: file, emotion, confidence, probabilities); --timeline for emotion over time')
    .argument('<run>', 'run folder from ser train (or one of its fold-N/ or model/ folders)')
    .argument('<files...>', 'WAV files (- reads standard input)')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', ...BACKENDS]).default('auto'))
    .addOption(threadsOption())
    .option('--json', 'print one JSON array instead of JSON lines')
    .option('--speaker-map <file>', 'for runs trained with --normalize speaker: each file\'s speaker (lines "file,speaker" or a JSON object; names relative to the map\'s folder); without it each file is standardised on its own')
    .option('--enroll <files>', 'for runs trained with --normalize speaker: a few clips of the speaker of every file, comma-separated; each file is standardised by their statistics')
    .option('--timeline', 'slide the model\'s window over each recording: JSON lines {file, start, end, emotion, confidence, probabilities} per window')
    .option('--window <seconds>', 'timeline window (default: the training duration)', parseNumber)
    .option('--hop <seconds>', `timeline step between windows (default ${TIMELINE_DEFAULTS.hopSeconds})`, parseNumber)
    .option('--silence-db <dB>', `timeline windows this far below the recording's loudness are silence (default ${TIMELINE_DEFAULTS.silenceDb})`, parseNumber)
    .option('-o, --output <timeline.html>', 'with --timeline and one file: also write the timeline as a self-contained page')
    .action(async (run: string, files: string[], opts: PredictCliOptions) => {
      if (!opts.timeline && (opts.window !== undefined || opts.hop !== undefined || opts.silenceDb !== undefined || opts.output !== undefined)) {
        throw new OptionsError('--window, --hop, --silence-db and -o go with --timeline');
      }
      if (opts.output !== undefined && files.length !== 1) throw new OptionsError('-o writes the timeline of one file; give one file');
      if (opts.timeline && opts.enroll !== undefined) throw new OptionsError('--enroll goes with file predictions, not --timeline (a timeline takes its recording as one speaker)');
      if (opts.timeline && opts.speakerMap !== undefined) throw new OptionsError('--speaker-map goes with file predictions, not --timeline (a timeline takes its recording as one speaker)');
      const speakers = opts.speakerMap === undefined ? undefined : readSpeakerMap(opts.speakerMap);
      const model = await loadModel(run, { backend: opts.backend, threads: opts.threads });
      const warn = (message: string) => process.stderr.write(`ser predict: warning: ${message}\n`);
      try {
        if (speakers && model.normalisation !== 'speaker') warn(`${run} was trained with ${model.normalisation} normalisation: the speaker map is not needed and is not used`);
        if (opts.timeline) {
          if (model.normalisation === 'speaker' && files.includes('-')) warn(`${run} was trained with speaker normalisation; standard input cannot be read twice, so its timeline windows are standardised each by its own statistics`);
          await timelines(model, files, opts);
          return;
        }
        const results = await predictFiles(model, files, (result) => {
          if ('error' in result) process.stderr.write(`ser predict: ${result.file}: ${result.error}\n`);
          if (!opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        }, { speakers, warn, enroll: opts.enroll === undefined ? undefined : opts.enroll.split(',').map((f) => f.trim()).filter(Boolean) });
        if (opts.json) process.stdout.write(`${JSON.stringify(results)}\n`);
        const failed = results.filter((r) => 'error' in r).length;
        if (failed > 0) throw new PartialFailure(`${failed} of ${results.length} files could not be predicted`);
      } finally {
        model.dispose();
      }
    });
}

async function timelines(model: EmotionModel, files: string[], opts: PredictCliOptions): Promise<void> {
  const all: unknown[] = [];
  let failed = 0;
  for (const file of files) {
    let timeline;
    try {
      timeline = await model.timeline(file, { windowSeconds: opts.window, hopSeconds: opts.hop, silenceDb: opts.silenceDb });
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      process.stderr.write(`ser predict: ${error.file}: ${error.reason}\n`);
      failed++;
      continue;
    }
    const lines = timeline.windows.map((w) => ({
      file: timeline.file, start: Number(w.start.toFixed(3)), end: Number(w.end.toFixed(3)),
      emotion: w.silent ? 'silence' : w.emotion, confidence: w.confidence, probabilities: w.probabilities,
    }));
    if (opts.json) all.push({ file: timeline.file, seconds: timeline.seconds, windows: lines, segments: timeline.segments });
    else for (const line of lines) process.stdout.write(`${JSON.stringify(line)}\n`);
    if (opts.output) {
      writeTimelinePage(opts.output, timeline);
      process.stderr.write(`timeline: ${path.resolve(opts.output)}\n`);
    }
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(all)}\n`);
  if (failed > 0) throw new PartialFailure(`${failed} of ${files.length} files could not be read`);
}
