// report.html: one self-contained page (no network) with the run's numbers, pictures and settings.
import type { Evaluation } from '../eval/evaluate';
import type { Summary } from '../train/metrics';
import { escapeXml as escape } from './svg';

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const meanStd = (s: Summary) => (s.values.length > 1 ? `${pct(s.mean)} ± ${pct(s.std)}` : pct(s.mean));

/** Where a start's steps ran: ", steps on the GPU (name)", ", the tfjs step", or nothing (the engine's on the CPU). */
function onDevice(start: { device?: 'cpu' | 'gpu'; step?: 'engine' | 'tfjs'; gpu?: string }): string {
  if (start.device === 'gpu') return `, steps on the GPU${start.gpu ? ` (${start.gpu})` : ''}`;
  return start.step === 'tfjs' ? ', the tfjs step' : '';
}

function table(headers: string[], rows: string[][], className = ''): string {
  const head = headers.map((h) => `<th>${escape(h)}</th>`).join('');
  const body = rows.map((r) => `<tr${className ? ` class="${className}"` : ''}>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function keyValues(values: Record<string, unknown>): string {
  return table(['setting', 'value'], Object.entries(values).map(([k, v]) => [escape(k), `<code>${escape(typeof v === 'string' ? v : JSON.stringify(v))}</code>`]));
}

export function renderReport(evaluation: Evaluation, confusionSvg: string, curvesSvg: string): string {
  const { config, pooled, summary, folds } = evaluation;
  const settings = config.settings;
  const epochs = folds.reduce((n, f) => n + f.history.length, 0);
  const trainSeconds = folds.reduce((s, f) => s + f.history.reduce((a, r) => a + r.seconds, 0), 0);
  const rates = folds.flatMap((f) => f.history.map((r) => r.samplesPerSecond));
  const meanRate = rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : NaN;
  const seeded = evaluation.seeds > 1;
  const foldCount = new Set(folds.map((f) => f.fold)).size;
  const split = evaluation.optimistic
    ? '<p class="warning"><strong>Random split by clip: optimistic.</strong> The same speakers are in training and test, so these numbers overstate accuracy on new speakers.</p>'
    : `<p>Speaker-independent: no speaker is in two of training, validation and test${foldCount > 1 ? `; ${foldCount} folds, every speaker tested once` : ''}${seeded ? `; ${evaluation.seeds} seeds per split, figures are mean ± std over seeds${foldCount > 1 ? ' and folds' : ''}` : ''}.</p>`;
  const external = evaluation.testSet === 'external'
    ? `<p class="warning">Evaluated on every original clip of another cache (${escape(evaluation.cache)}), none of whose speakers was a test speaker of the run.</p>`
    : '';
  const unitName = (f: (typeof folds)[number]) => `${seeded ? `seed ${f.seed} ` : ''}fold ${f.fold}`;
  const perFold = folds.map((f) => [
    ...(seeded ? [String(f.seed)] : []), String(f.fold), escape(f.testSpeakers.join(', ')), String(f.rows), pct(f.metrics.accuracy), pct(f.metrics.uar), pct(f.metrics.macroF1),
    f.baseline ? pct(f.baseline.uar) : '-', String(f.history.length),
  ]);
  const perClass = pooled.perClass.map((c) => [escape(c.label), String(c.support), String(c.predicted), pct(c.precision), pct(c.recall), c.f1.toFixed(3)]);
  const shownSettings = { ...settings, onlineAugment: settings.onlineAugment ?? 'off' };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ser report: ${escape(evaluation.runDir)}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1000px; padding: 0 1rem; color: #1f2328; }
 h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; }
 table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; } th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; }
 th { background: #f6f8fa; } td:not(:first-child) { font-variant-numeric: tabular-nums; }
 .headline { display: flex; gap: 1rem; flex-wrap: wrap; } .metric { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6rem 1rem; min-width: 10rem; }
 .metric .value { font-size: 1.6rem; font-weight: 600; } .metric .name { color: #57606a; font-size: 0.85rem; }
 .warning { background: #fff8c5; border: 1px solid #d4a72c; padding: 0.6rem; border-radius: 6px; }
 figure { margin: 0.8rem 0; } svg { max-width: 100%; height: auto; } code { font-size: 0.82rem; word-break: break-all; }
 .muted { color: #57606a; }
</style>
</head>
<body>
<h1>Speech emotion recognition: evaluation</h1>
<p class="muted">run <code>${escape(evaluation.runDir)}</code> · cache <code>${escape(evaluation.cache)}</code> · ${escape(config.createdBy)}</p>
${split}
${external}
${evaluation.partition === 'val' ? '<p class="warning">Scored on each fold\'s <strong>validation</strong> speakers (<code>--on val</code>), for choosing settings: these are not test figures.</p>' : ''}
${evaluation.missingFolds.length > 0 ? `<p class="warning">Joined ${folds.length} finished folds; fold(s) ${evaluation.missingFolds.join(', ')} have not finished training and are left out.</p>` : ''}
<div class="headline">
 <div class="metric"><div class="value" id="uar">${meanStd(summary.uar)}</div><div class="name">UAR (unweighted average recall), each clip scored alone</div></div>
 <div class="metric"><div class="value" id="wa">${meanStd(summary.accuracy)}</div><div class="name">WA (accuracy)</div></div>
 <div class="metric"><div class="value" id="f1">${meanStd(summary.macroF1)}</div><div class="name">macro-F1</div></div>
 <div class="metric"><div class="value">${pooled.total}</div><div class="name">test clips (chance UAR ${pct(1 / Math.max(1, pooled.perClass.filter((c) => c.support > 0).length))})</div></div>
</div>
${table(['how each test clip is scored', 'UAR', 'WA', 'macro-F1'], [
    ['model, each clip alone (as <code>ser predict</code> scores a lone file; the headline above)', meanStd(summary.uar), meanStd(summary.accuracy), meanStd(summary.macroF1)],
    ...(evaluation.seedAverage ? [[`model, each clip alone, each fold's ${evaluation.seeds} seeds' probabilities averaged (as <code>ser predict</code> averages a run's models), ${evaluation.seedAverage.folds.length} fold(s)`,
      meanStd(evaluation.seedAverage.summary.uar), meanStd(evaluation.seedAverage.summary.accuracy), meanStd(evaluation.seedAverage.summary.macroF1)]] : []),
    ...(evaluation.scoringSummaries ? ([
      ['model, with the speaker\'s statistics from 1 other clip of the speaker', evaluation.scoringSummaries.enrol1],
      ['model, with the speaker\'s statistics from 4 other clips', evaluation.scoringSummaries.enrol4],
      ['model, with the speaker\'s statistics from all its clips (<code>--speaker-map</code>)', evaluation.scoringSummaries.speakerMap],
    ] as const).map(([name, s]) => [name, meanStd(s.uar), meanStd(s.accuracy), meanStd(s.macroF1)]) : []),
    ...(evaluation.baselineSummary ? [['baseline: logistic regression on each clip\'s coefficient means and standard deviations, standardised as the model\'s rows (same training and test rows)',
      meanStd(evaluation.baselineSummary.uar), meanStd(evaluation.baselineSummary.accuracy), meanStd(evaluation.baselineSummary.macroF1)]] : []),
  ], 'baseline-row')}
${evaluation.baselineSummary ? '' : '<p class="muted">No baseline: evaluated on another cache than the run was trained on.</p>'}
<h2>Confusion matrix</h2>
<figure id="confusion">${confusionSvg}</figure>
<h2>Per class</h2>
${table(['emotion', 'test clips', 'predicted', 'precision', 'recall', 'F1'], perClass, 'class-row')}
<h2>Per ${seeded ? 'seed and ' : ''}fold</h2>
${table([...(seeded ? ['seed'] : []), 'fold', 'test speakers', 'clips', 'WA', 'UAR', 'macro-F1', 'baseline UAR', 'epochs'], perFold)}
<h2>Training curves</h2>
<figure id="curves">${curvesSvg}</figure>
<h2>Split</h2>
${table(['fold', 'training speakers', 'validation speakers', 'test speakers'], folds.filter((f) => f.seed === folds[0].seed).map((f) => [
    String(f.fold), escape(f.splitSpeakers.train.join(', ')), escape(f.splitSpeakers.val.join(', ')), escape(f.testSpeakers.join(', ')),
  ]))}
<h2>Backend and timing</h2>
${table(['', 'value'], [
    ['trained on', escape(config.backends.length > 0
      ? config.backends.map((b) => `${b.backend}${onDevice(b)} (from epoch ${b.fromEpoch + 1})`).join(', ')
      : folds.map((f) => `${unitName(f)}: ${f.starts.map((b) => `${b.backend}, ${b.threads ?? '?'} threads${onDevice(b)} (from epoch ${b.fromEpoch + 1})`).join(', ')}`).join('; '))],
    ['evaluated on', escape(evaluation.evalBackend)],
    [`epochs (all ${seeded ? 'seeds and ' : ''}folds)`, String(epochs)],
    ['training time', `${trainSeconds.toFixed(1)} s`],
    ['training speed', `${Number.isFinite(meanRate) ? meanRate.toFixed(1) : '-'} samples/s`],
  ])}
<h2>Training settings</h2>
${keyValues(shownSettings as unknown as Record<string, unknown>)}
<h2>Feature configuration</h2>
${keyValues({ ...evaluation.featureConfig, cropOffsetSeconds: evaluation.crop.offsetSeconds, cropDurationSeconds: evaluation.crop.durationSeconds })}
</body>
</html>
`;
}
