// Finds the WAV files under a dataset folder and labels them; the rest is reported, not guessed.
import * as fs from 'fs';
import * as path from 'path';

import { parseClipPath, type ClipLabels, type CorpusChoice } from './corpora';

export interface ScannedClip extends ClipLabels {
  /** Path relative to the dataset root, '/' separated: the clip's id. */
  id: string;
  /** Absolute path. */
  path: string;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export interface ScanResult {
  root: string;
  clips: ScannedClip[];
  skipped: SkippedFile[];
  /** A clip list's labels in output order; absent for the corpus conventions (the eight emotions). */
  labels?: string[];
}

function walk(dir: string, found: string[]): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, found);
    else if (entry.isFile() && /\.wav$/i.test(entry.name)) found.push(full);
  }
}

/** Every .wav below `root` in a stable order (sorted by relative path), labelled by `corpus`. */
export function scanDataset(root: string, corpus: CorpusChoice = 'auto'): ScanResult {
  const absoluteRoot = path.resolve(root);
  if (!fs.existsSync(absoluteRoot) || !fs.statSync(absoluteRoot).isDirectory()) {
    throw new Error(`${root}: not a folder`);
  }
  const files: string[] = [];
  walk(absoluteRoot, files);
  const clips: ScannedClip[] = [];
  const skipped: SkippedFile[] = [];
  for (const file of files) {
    const id = path.relative(absoluteRoot, file).split(path.sep).join('/');
    const parsed = parseClipPath(file, corpus);
    if (parsed.ok) clips.push({ id, path: file, ...parsed.labels });
    else skipped.push({ path: id, reason: parsed.reason });
  }
  clips.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { root: absoluteRoot, clips, skipped };
}
