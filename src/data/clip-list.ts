// A corpus described by a clip list (`ser prepare --manifest clips.csv`): any labels, any file names.
// Columns path,label,speaker and optional gender,corpus, in any order, named in a header line; paths
// are relative to the list's folder. A bad row is recorded with its reason and the rest goes on.
import * as fs from 'fs';
import * as path from 'path';

import { InputFileError } from '../errors';
import type { Gender } from './corpora';
import { EMOTIONS } from './labels';
import type { ScannedClip, ScanResult, SkippedFile } from './scan';

const REQUIRED = ['path', 'label', 'speaker'] as const;
const OPTIONAL = ['gender', 'corpus'] as const;
const COLUMNS: readonly string[] = [...REQUIRED, ...OPTIONAL];

/** The cells of one CSV line (RFC 4180 quoting: "a ""b"", c" is one cell), or an error message. */
export function csvCells(line: string): string[] | string {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (c === ',') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
    i++;
  }
  if (quoted) return 'a quoted cell is not closed';
  cells.push(cell.trim());
  return cells;
}

/**
 * The model's label order for a set of labels: the eight emotions that occur, in their usual order,
 * then any others alphabetically (so the same corpus always gives the same output order).
 */
export function labelOrder(labels: Iterable<string>): string[] {
  const present = new Set(labels);
  const known = EMOTIONS.filter((e) => present.has(e));
  const others = [...present].filter((l) => !(EMOTIONS as readonly string[]).includes(l)).sort();
  return [...known, ...others];
}

const corpusName = (file: string) => path.basename(file).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]+/g, '-') || 'manifest';

/** The clips of a clip list, labelled by it; the list's folder is the corpus root (ids are relative to it). */
export function readClipList(file: string): ScanResult & { labels: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputFileError(file, `cannot read the clip list: ${(error as Error).message}`);
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  if (headerAt < 0) throw new InputFileError(file, `the clip list is empty (it needs a header line: ${REQUIRED.join(',')}[,${OPTIONAL.join(',')}])`);
  const header = csvCells(lines[headerAt]);
  if (typeof header === 'string') throw new InputFileError(file, `line ${headerAt + 1} (the header): ${header}`);
  const names = header.map((h) => h.toLowerCase());
  const unknown = names.filter((n) => !COLUMNS.includes(n));
  if (unknown.length > 0) throw new InputFileError(file, `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')} in the header (columns: ${COLUMNS.join(', ')})`);
  const missing = REQUIRED.filter((r) => !names.includes(r));
  if (missing.length > 0) throw new InputFileError(file, `the header lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (it has ${names.join(', ')})`);
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (repeated.length > 0) throw new InputFileError(file, `the header names ${repeated[0]} twice`);
  const column = (name: string) => names.indexOf(name);

  const root = path.dirname(path.resolve(file));
  const defaultCorpus = corpusName(file);
  const clips: ScannedClip[] = [];
  const skipped: SkippedFile[] = [];
  const seen = new Set<string>();
  for (let n = headerAt + 1; n < lines.length; n++) {
    const line = lines[n];
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const where = `${path.basename(file)} line ${n + 1}`;
    const cells = csvCells(line);
    if (typeof cells === 'string') {
      skipped.push({ path: where, reason: cells });
      continue;
    }
    const cell = (name: string) => (column(name) < 0 ? '' : (cells[column(name)] ?? ''));
    const relative = cell('path');
    const skip = (reason: string) => skipped.push({ path: relative === '' ? where : relative, reason: `${where}: ${reason}` });
    if (cells.length !== names.length) {
      skip(`${cells.length} cells where the header has ${names.length} columns (${names.join(', ')}): a cell in an unknown column, or one missing`);
      continue;
    }
    if (relative === '') {
      skip('empty path');
      continue;
    }
    const label = cell('label');
    if (label === '') {
      skip('empty label');
      continue;
    }
    const speaker = cell('speaker');
    if (speaker === '') {
      skip('empty speaker');
      continue;
    }
    const genderText = cell('gender').toLowerCase();
    if (genderText !== '' && genderText !== 'male' && genderText !== 'female') {
      skip(`gender must be male, female or empty, got '${cell('gender')}'`);
      continue;
    }
    const absolute = path.resolve(root, relative);
    let isFile = false;
    try {
      isFile = fs.statSync(absolute).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) {
      skip(`no such file ${absolute}`);
      continue;
    }
    const id = path.relative(root, absolute).split(path.sep).join('/');
    if (seen.has(id)) {
      skip(`${id} is listed twice`);
      continue;
    }
    seen.add(id);
    const corpus = cell('corpus') || defaultCorpus;
    clips.push({
      id, path: absolute, corpus, speaker: `${corpus}:${speaker}`,
      gender: genderText === '' ? null : (genderText as Gender), emotion: label, intensity: null,
    });
  }
  clips.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (clips.length === 0) throw new InputFileError(file, `no usable clip in the list${skipped.length > 0 ? ` (${skipped.length} bad rows; the first: ${skipped[0].reason})` : ''}`);
  return { root, clips, skipped, labels: labelOrder(clips.map((c) => c.emotion)) };
}
