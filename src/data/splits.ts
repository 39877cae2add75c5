// Train / validation / test partitions of a cache's rows (DESIGN section 5). By speaker by default: no
// speaker is in two partitions, and augmented rows only ever train. A random clip split exists for
// comparison and is marked optimistic wherever it is reported.
import { seededUniform } from '../augment/spec';
import { OptionsError } from '../errors';

export interface SplitRow {
  id: string;
  speaker: string;
  augmented: boolean;
}

export type SplitKind = 'speaker' | 'random';

export interface Split {
  kind: SplitKind;
  /** Row indices into the item list. */
  train: number[];
  val: number[];
  test: number[];
  /** Speakers of each partition (by speaker splits; for random splits every partition lists its speakers too). */
  speakers: { train: string[]; val: string[]; test: string[] };
  /** True for random clip splits: the same speakers appear in training and test. */
  optimistic: boolean;
}

export interface SpeakerSplitOptions {
  valSpeakers?: readonly string[];
  testSpeakers?: readonly string[];
  /** Used for whichever of val/test speakers is not listed (defaults 0.15 and 0.15). */
  valFraction?: number;
  testFraction?: number;
  seed: number;
}

function shuffled<T>(values: readonly T[], seed: number): T[] {
  const random = seededUniform(seed);
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function sortedSpeakers(rows: readonly SplitRow[]): string[] {
  return [...new Set(rows.map((r) => r.speaker))].sort();
}

/**
 * Rows assigned by a key (speaker, or clip id for random splits): rows whose key is in `test` or `val`
 * go there, except augmented ones, which are left out entirely; everything else trains.
 */
function assign(rows: readonly SplitRow[], keyOf: (row: SplitRow) => string, val: Set<string>, test: Set<string>, kind: SplitKind): Split {
  const split: Split = { kind, train: [], val: [], test: [], speakers: { train: [], val: [], test: [] }, optimistic: kind === 'random' };
  rows.forEach((row, index) => {
    const key = keyOf(row);
    if (test.has(key)) {
      if (!row.augmented) split.test.push(index);
    } else if (val.has(key)) {
      if (!row.augmented) split.val.push(index);
    } else {
      split.train.push(index);
    }
  });
  const speakersOf = (indices: number[]) => [...new Set(indices.map((i) => rows[i].speaker))].sort();
  split.speakers = { train: speakersOf(split.train), val: speakersOf(split.val), test: speakersOf(split.test) };
  return split;
}

const bySpeaker = (row: SplitRow) => row.speaker;

function checkFraction(name: string, value: number): void {
  if (!(value >= 0 && value < 1)) throw new OptionsError(`${name} must be in [0, 1), got ${value}`);
}

export function splitBySpeaker(rows: readonly SplitRow[], options: SpeakerSplitOptions): Split {
  const all = sortedSpeakers(rows);
  const known = new Set(all);
  for (const s of [...(options.valSpeakers ?? []), ...(options.testSpeakers ?? [])]) {
    if (!known.has(s)) throw new OptionsError(`speaker ${s} is not in the data (speakers: ${all.join(', ')})`);
  }
  const test = new Set(options.testSpeakers ?? []);
  const val = new Set(options.valSpeakers ?? []);
  for (const s of val) if (test.has(s)) throw new OptionsError(`speaker ${s} cannot be in both validation and test`);
  const valFraction = options.valFraction ?? 0.15;
  const testFraction = options.testFraction ?? 0.15;
  checkFraction('valFraction', valFraction);
  checkFraction('testFraction', testFraction);
  const free = shuffled(all.filter((s) => !val.has(s) && !test.has(s)), options.seed);
  // At least one speaker per asked-for partition, and at least one left to train on.
  const take = (fraction: number) => (fraction > 0 ? Math.max(1, Math.round(fraction * all.length)) : 0);
  if (!options.testSpeakers) for (const s of free.splice(0, take(testFraction))) test.add(s);
  if (!options.valSpeakers) for (const s of free.splice(0, take(valFraction))) val.add(s);
  if (all.every((s) => val.has(s) || test.has(s))) {
    throw new OptionsError(`${all.length} speakers are too few for a speaker-independent split with training, validation and test speakers`);
  }
  return assign(rows, bySpeaker, val, test, 'speaker');
}

/**
 * K speaker-disjoint folds: each speaker is a test speaker in exactly one fold; the validation speakers
 * of a fold are the next fold's test group; the rest train.
 */
export function speakerFolds(rows: readonly SplitRow[], k: number, seed: number): Split[] {
  const speakers = shuffled(sortedSpeakers(rows), seed);
  if (!Number.isInteger(k) || k < 3) throw new OptionsError(`folds must be an integer >= 3 (test, validation and training groups), got ${k}`);
  if (speakers.length < k) throw new OptionsError(`${k} folds need at least ${k} speakers, the data has ${speakers.length}`);
  const groups: string[][] = Array.from({ length: k }, () => []);
  speakers.forEach((s, i) => groups[i % k].push(s));
  return groups.map((group, f) => assign(rows, bySpeaker, new Set(groups[(f + 1) % k]), new Set(group), 'speaker'));
}

/**
 * Random split by clip (optimistic: speakers are shared). Copies follow their source clip: a copy
 * trains only when its source trains, and is left out otherwise.
 */
export function splitRandom(rows: readonly SplitRow[], valFraction: number, testFraction: number, seed: number): Split {
  checkFraction('valFraction', valFraction);
  checkFraction('testFraction', testFraction);
  const clips = shuffled([...new Set(rows.map((r) => r.id))].sort(), seed);
  const nTest = Math.round(testFraction * clips.length);
  const nVal = Math.round(valFraction * clips.length);
  const test = new Set(clips.slice(0, nTest));
  const val = new Set(clips.slice(nTest, nTest + nVal));
  return assign(rows, (row) => row.id, val, test, 'random');
}
