// The files of `ser eval`: metrics.json, confusion.svg, curves.svg and report.html, written atomically
// from what evaluation produced; and evaluate(), the library call that computes and writes them.
import * as path from 'path';

import { writeFileAtomic } from '../io/atomic';
import { evaluateRun, type Evaluation, type EvaluateOptions } from '../eval/evaluate';
import { renderReport } from './html';
import { confusionSvg, curvesSvg } from './svg';

/** The files evaluate() wrote into the run folder. */
export interface EvaluationFiles {
  metrics: string;
  confusion: string;
  curves: string;
  report: string;
}

/** Writes the evaluation's files into its run folder. */
export function writeEvaluationFiles(evaluation: Evaluation): EvaluationFiles {
  const { runDir, folds, pooled, config } = evaluation;
  // Scoring the validation speakers writes its own files beside the test evaluation's.
  const suffix = evaluation.partition === 'val' ? '-val' : '';
  const files: EvaluationFiles = {
    metrics: path.join(runDir, `metrics${suffix}.json`),
    confusion: path.join(runDir, `confusion${suffix}.svg`),
    curves: path.join(runDir, `curves${suffix}.svg`),
    report: path.join(runDir, `report${suffix}.html`),
  };
  const title = `${folds.length > 1 ? `${folds.length} ${evaluation.seeds > 1 ? 'models' : 'folds'} pooled` : 'test speakers'}: UAR ${(100 * pooled.uar).toFixed(1)}%${evaluation.optimistic ? ' (random split, optimistic)' : ''}`;
  const confusion = confusionSvg(pooled, `Confusion matrix, ${title}`);
  const curveName = (e: (typeof folds)[number]) => [evaluation.seeds > 1 ? `seed ${e.seed}` : '', folds.length > evaluation.seeds ? `fold ${e.fold}` : ''].filter(Boolean).join(' ');
  const curves = curvesSvg(folds.map((e) => ({ name: curveName(e), history: e.history })), 'Training curves');
  const write = (file: string, text: string) => writeFileAtomic(file, Buffer.from(text, 'utf8'));
  const { config: _config, ...forJson } = evaluation;
  write(files.metrics, `${JSON.stringify({ ...forJson, folds: folds.map(({ history: _h, ...rest }) => rest), settings: config.settings, trainedOn: config.backends }, null, 1)}\n`);
  write(files.confusion, confusion);
  write(files.curves, curves);
  write(files.report, renderReport(evaluation, confusion, curves));
  return files;
}

/**
 * Evaluates a trained run on its held-out test speakers (every fold) and writes metrics.json,
 * confusion.svg, curves.svg and report.html into the run folder, as `ser eval` does.
 */
export async function evaluate(runDir: string, options: EvaluateOptions = {}): Promise<Evaluation & { files: EvaluationFiles }> {
  const evaluation = await evaluateRun(runDir, options);
  return { ...evaluation, files: writeEvaluationFiles(evaluation) };
}
