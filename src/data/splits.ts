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

/** The corpus of a speaker id `<corpus>:<speaker>` ('' for ids without a corpus part: one corpus). */
export const corpusOf = (speaker: string): string => {
  const cut = speaker.indexOf(':');
  return cut < 0 ? '' : speaker.slice(0, cut);
};

/** Speakers grouped by corpus, corpora in sorted order, each group in the order given. */
function speakersByCorpus(speakers: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const corpus of [...new Set(speakers.map(corpusOf))].sort()) groups.set(corpus, []);
  for (const s of speakers) groups.get(corpusOf(s))?.push(s);
  return groups;
}

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
  // Stratified by corpus: each corpus gives its share of its own speakers, at least one per asked-for
  // partition where it has three or more (so one is left to train on); a corpus with fewer trains
  // only, unless it is the only corpus. With one corpus this is the plain draw.
  const perCorpus = speakersByCorpus(all);
  const take = (fraction: number, speakers: number) => {
    if (fraction <= 0) return 0;
    return speakers >= 3 || perCorpus.size === 1 ? Math.max(1, Math.round(fraction * speakers)) : Math.round(fraction * speakers);
  };
  const draw = (fraction: number, into: Set<string>) => {
    for (const [corpus, speakers] of perCorpus) {
      const chosen = free.filter((s) => corpusOf(s) === corpus).slice(0, take(fraction, speakers.length));
      for (const s of chosen) {
        into.add(s);
        free.splice(free.indexOf(s), 1);
      }
    }
    // Corpora too small to give one each: the partition still gets a speaker, from the largest corpus.
    if (into.size === 0 && fraction > 0 && free.length > 0) {
      const largest = [...perCorpus].sort((a, b) => b[1].length - a[1].length)[0][0];
      const s = free.find((f) => corpusOf(f) === largest) ?? free[0];
      into.add(s);
      free.splice(free.indexOf(s), 1);
    }
  };
  if (!options.testSpeakers) draw(testFraction, test);
  if (!options.valSpeakers) draw(valFraction, val);
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
  const shuffledSpeakers = shuffled(sortedSpeakers(rows), seed);
  if (!Number.isInteger(k) || k < 3) throw new OptionsError(`folds must be an integer >= 3 (test, validation and training groups), got ${k}`);
  if (shuffledSpeakers.length < k) throw new OptionsError(`${k} folds need at least ${k} speakers, the data has ${shuffledSpeakers.length}`);
  // Dealt corpus by corpus (each in its shuffled order), so every corpus spreads over the folds.
  const speakers = [...speakersByCorpus(shuffledSpeakers).values()].flat();
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
