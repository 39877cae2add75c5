// Pictures of a run as standalone SVG: the confusion matrix (counts, colour by row share) and the
// training curves (loss and accuracy per epoch, one line per fold and partition).
import type { Metrics } from '../train/metrics';
import type { EpochRecord } from '../train/checkpoint';

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

/** White to deep blue by the share of the row: equal classes look alike whatever their size. */
function cellColour(share: number): string {
  const t = Math.max(0, Math.min(1, share));
  const mix = (from: number, to: number) => Math.round(from + (to - from) * t);
  return `rgb(${mix(247, 8)},${mix(251, 69)},${mix(255, 148)})`;
}

export function confusionSvg(metrics: Metrics, title: string): string {
  const n = metrics.labels.length;
  const cell = 58;
  const left = 110;
  const top = 70;
  const width = left + n * cell + 60;
  const height = top + n * cell + 60;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`);
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600" ${FONT}>${escapeXml(title)}</text>`);
  parts.push(`<text x="${left + (n * cell) / 2}" y="44" text-anchor="middle" font-size="12" fill="#444" ${FONT}>predicted</text>`);
  parts.push(`<text x="16" y="${top + (n * cell) / 2}" text-anchor="middle" font-size="12" fill="#444" transform="rotate(-90 16 ${top + (n * cell) / 2})" ${FONT}>true</text>`);
  metrics.labels.forEach((label, j) => {
    const x = left + j * cell + cell / 2;
    parts.push(`<text x="${x}" y="${top - 8}" text-anchor="middle" font-size="10" ${FONT}>${escapeXml(label)}</text>`);
  });
  metrics.confusion.forEach((row, i) => {
    const support = row.reduce((a, b) => a + b, 0);
    const y = top + i * cell;
    parts.push(`<text x="${left - 8}" y="${y + cell / 2 + 4}" text-anchor="end" font-size="11" ${FONT}>${escapeXml(metrics.labels[i])}</text>`);
    row.forEach((count, j) => {
      const share = support > 0 ? count / support : 0;
      const x = left + j * cell;
      parts.push(`<rect class="cell" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${cellColour(share)}" stroke="#d0d7de" data-count="${count}"><title>${escapeXml(`${metrics.labels[i]} -> ${metrics.labels[j]}: ${count} (${(100 * share).toFixed(1)}% of the row)`)}</title></rect>`);
      const ink = share > 0.55 ? '#fff' : '#111';
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="12" fill="${ink}" ${FONT}>${count}</text>`);
    });
  });
  parts.push(`<text x="${left}" y="${height - 20}" font-size="11" fill="#555" ${FONT}>cells: counts; colour: share of the true class's row (white 0%, blue 100%)</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

export interface CurveSeries {
  name: string;
  history: readonly EpochRecord[];
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

interface Panel {
  title: string;
  lines: { label: string; colour: string; dashed: boolean; points: [number, number][] }[];
  fixedRange?: [number, number];
}

function panelSvg(panel: Panel, x0: number, y0: number, w: number, h: number): string {
  const points = panel.lines.flatMap((l) => l.points).filter(([, v]) => Number.isFinite(v));
  const maxEpoch = Math.max(1, ...points.map(([e]) => e));
  let [low, high] = panel.fixedRange ?? [Math.min(...points.map(([, v]) => v)), Math.max(...points.map(([, v]) => v))];
  if (!Number.isFinite(low) || !Number.isFinite(high)) [low, high] = [0, 1];
  if (high - low < 1e-9) high = low + 1;
  const px = (e: number) => x0 + ((e - 1) / Math.max(1, maxEpoch - 1)) * w;
  const py = (v: number) => y0 + h - ((v - low) / (high - low)) * h;
  const out: string[] = [];
  out.push(`<text x="${x0 + w / 2}" y="${y0 - 12}" text-anchor="middle" font-size="13" font-weight="600" ${FONT}>${escapeXml(panel.title)}</text>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = low + ((high - low) * k) / 4;
    const y = py(v);
    out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="10" ${FONT}>${v.toFixed(2)}</text>`);
  }
  const ticks = Math.min(maxEpoch, 10);
  for (let k = 0; k < ticks; k++) {
    const e = Math.round(1 + ((maxEpoch - 1) * k) / Math.max(1, ticks - 1));
    out.push(`<text x="${px(e)}" y="${y0 + h + 14}" text-anchor="middle" font-size="10" ${FONT}>${e}</text>`);
  }
  out.push(`<text x="${x0 + w / 2}" y="${y0 + h + 30}" text-anchor="middle" font-size="11" fill="#444" ${FONT}>epoch</text>`);
  for (const line of panel.lines) {
    const finite = line.points.filter(([, v]) => Number.isFinite(v));
    if (finite.length === 0) continue;
    const d = finite.map(([e, v], i) => `${i === 0 ? 'M' : 'L'}${px(e).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    out.push(`<path class="curve" d="${d}" fill="none" stroke="${line.colour}" stroke-width="2"${line.dashed ? ' stroke-dasharray="5 4"' : ''}><title>${escapeXml(line.label)}</title></path>`);
  }
  return out.join('\n');
}

export function curvesSvg(series: readonly CurveSeries[], title: string): string {
  const w = 360;
  const h = 220;
  const width = 2 * w + 170;
  const legendRows = series.length * 2;
  const height = Math.max(h + 120, 80 + legendRows * 18) + 20;
  const line = (s: CurveSeries, i: number, key: keyof EpochRecord, label: string, dashed: boolean) => ({
    label: `${s.name} ${label}`, colour: PALETTE[i % PALETTE.length], dashed,
    points: s.history.map((r) => [r.epoch, r[key]] as [number, number]),
  });
  const loss: Panel = { title: 'loss', lines: series.flatMap((s, i) => [line(s, i, 'loss', 'training', false), line(s, i, 'valLoss', 'validation', true)]) };
  const accuracy: Panel = {
    title: 'accuracy', fixedRange: [0, 1],
    lines: series.flatMap((s, i) => [line(s, i, 'accuracy', 'training', false), line(s, i, 'valAccuracy', 'validation', true)]),
  };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`);
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600" ${FONT}>${escapeXml(title)}</text>`);
  parts.push(panelSvg(loss, 50, 60, w - 40, h));
  parts.push(panelSvg(accuracy, w + 60, 60, w - 40, h));
  const legendX = 2 * w + 40;
  loss.lines.forEach((l, k) => {
    const y = 66 + k * 18;
    parts.push(`<line x1="${legendX}" x2="${legendX + 22}" y1="${y}" y2="${y}" stroke="${l.colour}" stroke-width="2"${l.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    parts.push(`<text x="${legendX + 28}" y="${y + 4}" font-size="11" ${FONT}>${escapeXml(l.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
