// timeline.html: one self-contained page (no network) with a recording's emotion probabilities over
// time as a stacked area, the dominant emotion per segment as a strip, and the segments as a table.
import type { Timeline } from '../eval/timeline';
import { writeFileAtomic } from '../io/atomic';
import { escapeXml as escape } from './svg';

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
const SILENCE_COLOUR = '#e3e3e3';
const PALETTE: Record<string, string> = {
  neutral: '#4e79a7', calm: '#76b7b2', happy: '#edc948', sad: '#59a14f',
  angry: '#e15759', fearful: '#b07aa1', disgust: '#9c755f', surprised: '#f28e2b',
};
const EXTRA = ['#ff9da7', '#bab0ac', '#1f77b4', '#2ca02c'];

/** The colour of an emotion (or silence) in the timeline. */
export function labelColour(label: string, labels: readonly string[]): string {
  if (label === 'silence') return SILENCE_COLOUR;
  return PALETTE[label] ?? EXTRA[Math.max(0, labels.indexOf(label)) % EXTRA.length];
}

const clock = (seconds: number): string => {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  return `${m}:${(s - 60 * m).toFixed(1).padStart(4, '0')}`;
};

/** Ticks at a round step giving about eight along the axis. */
function ticks(seconds: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => seconds / s <= 8) ?? 7200;
  const out: number[] = [];
  for (let t = 0; t <= seconds + 1e-9; t += step) out.push(t);
  return out;
}

/** Stacked probabilities over time (silent windows stand as a grey band) and the segment strip below. */
export function timelineSvg(timeline: Timeline): string {
  const { labels, windows, segments, seconds } = timeline;
  const left = 48;
  const plotWidth = 900;
  const areaTop = 36;
  const areaHeight = 220;
  const stripTop = areaTop + areaHeight + 18;
  const stripHeight = 34;
  const height = stripTop + stripHeight + 44;
  const width = left + plotWidth + 20;
  const x = (t: number) => left + (seconds > 0 ? (t / seconds) * plotWidth : 0);
  const y = (p: number) => areaTop + areaHeight * (1 - p);
  const parts: string[] = [];
  const title = `Emotion over time: ${timeline.file}`;
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}">`);
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="${left}" y="22" font-size="14" font-weight="600" ${FONT}>${escape(title)}</text>`);
  // Each window's probabilities hold over the hop around its centre: a step area, stacked in label order.
  const cells = windows.map((w, i) => {
    const centre = (w.start + w.end) / 2;
    const from = i === 0 ? 0 : Math.max(0, centre - timeline.hopSeconds / 2);
    const to = i === windows.length - 1 ? seconds : Math.min(seconds, centre + timeline.hopSeconds / 2);
    return { from, to, w };
  });
  const below = cells.map(() => 0);
  labels.forEach((label) => {
    const upper: string[] = [];
    const lower: string[] = [];
    cells.forEach(({ from, to, w }, i) => {
      const p = w.probabilities?.[label] ?? 0;
      const top = below[i] + p;
      upper.push(`${x(from).toFixed(1)},${y(top).toFixed(1)} ${x(to).toFixed(1)},${y(top).toFixed(1)}`);
      lower.unshift(`${x(to).toFixed(1)},${y(below[i]).toFixed(1)} ${x(from).toFixed(1)},${y(below[i]).toFixed(1)}`);
      below[i] = top;
    });
    if (cells.length > 0) {
      parts.push(`<polygon class="area" data-label="${escape(label)}" points="${upper.join(' ')} ${lower.join(' ')}" fill="${labelColour(label, labels)}" fill-opacity="0.9"/>`);
    }
  });
  for (const { from, to, w } of cells) {
    if (w.silent) parts.push(`<rect class="silence" x="${x(from).toFixed(1)}" y="${areaTop}" width="${Math.max(0.5, x(to) - x(from)).toFixed(1)}" height="${areaHeight}" fill="${SILENCE_COLOUR}"/>`);
  }
  parts.push(`<rect x="${left}" y="${areaTop}" width="${plotWidth}" height="${areaHeight}" fill="none" stroke="#888"/>`);
  for (const p of [0, 0.5, 1]) {
    parts.push(`<text x="${left - 6}" y="${(y(p) + 4).toFixed(1)}" text-anchor="end" font-size="10" ${FONT}>${p}</text>`);
  }
  parts.push(`<text x="12" y="${areaTop + areaHeight / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${areaTop + areaHeight / 2})" ${FONT}>probability</text>`);
  for (const seg of segments) {
    const w = Math.max(0.5, x(seg.end) - x(seg.start));
    parts.push(`<rect class="segment" data-label="${escape(seg.label)}" x="${x(seg.start).toFixed(1)}" y="${stripTop}" width="${w.toFixed(1)}" height="${stripHeight}" fill="${labelColour(seg.label, labels)}" stroke="#fff" stroke-width="0.5"><title>${escape(`${seg.label}: ${clock(seg.start)} - ${clock(seg.end)}`)}</title></rect>`);
    if (w > 7 * seg.label.length) {
      parts.push(`<text x="${(x(seg.start) + w / 2).toFixed(1)}" y="${stripTop + stripHeight / 2 + 4}" text-anchor="middle" font-size="11" fill="#111" ${FONT}>${escape(seg.label)}</text>`);
    }
  }
  for (const t of ticks(seconds)) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${stripTop + stripHeight}" y2="${stripTop + stripHeight + 5}" stroke="#555"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${stripTop + stripHeight + 18}" text-anchor="middle" font-size="10" ${FONT}>${clock(t)}</text>`);
  }
  parts.push(`<text x="${left + plotWidth / 2}" y="${height - 6}" text-anchor="middle" font-size="11" ${FONT}>time (min:s)</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** A timeline as one self-contained HTML page: stacked probabilities, the segment strip, the segments. */
export function renderTimelinePage(timeline: Timeline): string {
  const { labels, windows, segments } = timeline;
  const silent = windows.filter((w) => w.silent).length;
  const totals = new Map<string, number>();
  for (const s of segments) totals.set(s.label, (totals.get(s.label) ?? 0) + (s.end - s.start));
  const legend = [...labels, 'silence'].map((label) => `<span class="key"><span class="swatch" style="background:${labelColour(label, labels)}"></span>${escape(label)}${totals.has(label) ? ` <span class="muted">${(totals.get(label) ?? 0).toFixed(1)} s</span>` : ''}</span>`).join('\n');
  const rows = segments.map((s) => `<tr><td>${clock(s.start)}</td><td>${clock(s.end)}</td><td><span class="swatch" style="background:${labelColour(s.label, labels)}"></span>${escape(s.label)}</td><td>${s.windows}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ser timeline: ${escape(timeline.file)}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1000px; padding: 0 1rem; color: #1f2328; }
 h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; }
 table { border-collapse: collapse; font-size: 0.9rem; } th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; font-variant-numeric: tabular-nums; }
 th { background: #f6f8fa; } svg { max-width: 100%; height: auto; } .muted { color: #57606a; }
 .key { display: inline-block; margin: 0 1rem 0.3rem 0; } .swatch { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.3rem; vertical-align: -0.1rem; border-radius: 2px; }
</style>
</head>
<body>
<h1>Emotion over time</h1>
<p class="muted"><code>${escape(timeline.file)}</code> · ${clock(timeline.seconds)} · ${windows.length} windows of ${timeline.windowSeconds} s every ${timeline.hopSeconds} s · ${silent} silent (more than ${timeline.silenceDb} dB below the recording's loudness)</p>
<div id="legend">${legend}</div>
<figure id="timeline">${timelineSvg(timeline)}</figure>
<h2>Segments</h2>
<table id="segments"><thead><tr><th>from</th><th>to</th><th>dominant</th><th>windows</th></tr></thead><tbody>
${rows}
</tbody></table>
</body>
</html>
`;
}

/** Writes a timeline's page (renderTimelinePage) to a file, atomically. */
export function writeTimelinePage(file: string, timeline: Timeline): void {
  writeFileAtomic(file, Buffer.from(renderTimelinePage(timeline), 'utf8'));
}
