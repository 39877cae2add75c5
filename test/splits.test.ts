// Splits: no speaker in two partitions, augmented rows never in validation or test, folds cover every
// speaker exactly once as test, random splits flagged optimistic.
import { speakerFolds, splitBySpeaker, splitRandom, type Split, type SplitRow } from '../src/data/splits';

function rows(speakers: number, clipsPerSpeaker: number, copies: number): SplitRow[] {
  const out: SplitRow[] = [];
  for (let s = 0; s < speakers; s++) {
    for (let c = 0; c < clipsPerSpeaker; c++) {
      const id = `spk${s}/clip${c}.wav`;
      out.push({ id, speaker: `corpus:${s}`, augmented: false });
      for (let k = 0; k < copies; k++) out.push({ id, speaker: `corpus:${s}`, augmented: true });
    }
  }
  return out;
}

function expectSpeakerDisjoint(data: SplitRow[], split: Split): void {
  const speakersOf = (indices: number[]) => new Set(indices.map((i) => data[i].speaker));
  const [train, val, test] = [speakersOf(split.train), speakersOf(split.val), speakersOf(split.test)];
  for (const s of val) expect(train.has(s) || test.has(s)).toBe(false);
  for (const s of test) expect(train.has(s)).toBe(false);
  for (const i of [...split.val, ...split.test]) expect(data[i].augmented).toBe(false);
  expect(new Set([...split.train, ...split.val, ...split.test]).size).toBe(split.train.length + split.val.length + split.test.length);
}

describe('speaker split', () => {
  const data = rows(20, 5, 2);

  test('by fractions: disjoint speakers, copies only in training, every original used once', () => {
    const split = splitBySpeaker(data, { valFraction: 0.15, testFraction: 0.15, seed: 1 });
    expectSpeakerDisjoint(data, split);
    expect(split.speakers.test).toHaveLength(3);
    expect(split.speakers.val).toHaveLength(3);
    const originalsUsed = [...split.train, ...split.val, ...split.test].filter((i) => !data[i].augmented);
    expect(originalsUsed).toHaveLength(100);
    // Copies of val/test speakers are left out, not moved into training.
    expect(split.train.filter((i) => data[i].augmented)).toHaveLength(14 * 5 * 2);
    expect(split.optimistic).toBe(false);
  });

  test('named speakers, and the same seed gives the same split', () => {
    const split = splitBySpeaker(data, { testSpeakers: ['corpus:3'], valSpeakers: ['corpus:7', 'corpus:8'], seed: 9 });
    expect(split.speakers.test).toEqual(['corpus:3']);
    expect(split.speakers.val).toEqual(['corpus:7', 'corpus:8']);
    expectSpeakerDisjoint(data, split);
    expect(splitBySpeaker(data, { seed: 4 })).toEqual(splitBySpeaker(data, { seed: 4 }));
    expect(splitBySpeaker(data, { seed: 4 }).speakers.test).not.toEqual(splitBySpeaker(data, { seed: 5 }).speakers.test);
  });

  test('bad requests are refused', () => {
    expect(() => splitBySpeaker(data, { testSpeakers: ['nobody'], seed: 1 })).toThrow(/speaker nobody is not in the data/);
    expect(() => splitBySpeaker(data, { testSpeakers: ['corpus:1'], valSpeakers: ['corpus:1'], seed: 1 })).toThrow(/both/);
    expect(() => splitBySpeaker(rows(2, 3, 0), { seed: 1 })).toThrow(/too few/);
  });
});

test('k-fold: every speaker is a test speaker exactly once; folds are speaker-disjoint', () => {
  const data = rows(11, 3, 1);
  const folds = speakerFolds(data, 5, 2);
  expect(folds).toHaveLength(5);
  const asTest = folds.flatMap((f) => f.speakers.test).sort();
  expect(asTest).toEqual([...new Set(data.map((r) => r.speaker))].sort());
  for (const fold of folds) expectSpeakerDisjoint(data, fold);
  expect(() => speakerFolds(data, 2, 1)).toThrow(/>= 3/);
  expect(() => speakerFolds(rows(3, 1, 0), 4, 1)).toThrow(/at least 4 speakers/);
});

test('random split: by clip, copies follow their source, flagged optimistic', () => {
  const data = rows(6, 10, 1);
  const split = splitRandom(data, 0.2, 0.2, 3);
  expect(split.optimistic).toBe(true);
  const idsOf = (indices: number[]) => new Set(indices.map((i) => data[i].id));
  const [train, test] = [idsOf(split.train), idsOf(split.test)];
  for (const id of test) expect(train.has(id)).toBe(false);
  for (const i of [...split.val, ...split.test]) expect(data[i].augmented).toBe(false);
  expect(split.test).toHaveLength(12);
  // Speakers are shared: that is exactly why it is optimistic.
  expect(split.speakers.test.some((s) => split.speakers.train.includes(s))).toBe(true);
});

describe('stratified by corpus', () => {
  // The Kaggle bundle's speaker counts: RAVDESS 24, CREMA-D 91, TESS 2, SAVEE 4.
  const bundle: SplitRow[] = [['ravdess', 24], ['crema', 91], ['tess', 2], ['savee', 4]].flatMap(([corpus, speakers]) =>
    Array.from({ length: speakers as number }, (_, s) => [0, 1].map((c) => ({ id: `${corpus}/${s}/${c}.wav`, speaker: `${corpus}:${s}`, augmented: false }))).flat());
  const corpusCount = (split: Split, part: 'train' | 'val' | 'test') => {
    const counts: Record<string, number> = {};
    for (const s of split.speakers[part]) counts[s.split(':')[0]] = (counts[s.split(':')[0]] ?? 0) + 1;
    return counts;
  };

  test('every corpus with three or more speakers has speakers in each partition; TESS (2) only trains, whatever the seed', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const split = splitBySpeaker(bundle, { valFraction: 0.15, testFraction: 0.15, seed });
      expectSpeakerDisjoint(bundle, split);
      expect(corpusCount(split, 'test')).toEqual({ crema: 14, ravdess: 4, savee: 1 });
      expect(corpusCount(split, 'val')).toEqual({ crema: 14, ravdess: 4, savee: 1 });
      expect(corpusCount(split, 'train')).toEqual({ crema: 63, ravdess: 16, savee: 2, tess: 2 });
    }
  });

  test('folds deal each corpus over the folds: no fold holds both TESS speakers or all of SAVEE', () => {
    const folds = speakerFolds(bundle, 6, 1);
    for (const fold of folds) {
      const test = corpusCount(fold, 'test');
      expect(test.tess ?? 0).toBeLessThanOrEqual(1);
      expect(test.savee ?? 0).toBeLessThanOrEqual(1);
      expect(test.ravdess).toBe(4);
      expect([15, 16]).toContain(test.crema);
    }
    expect(folds.flatMap((f) => f.speakers.test).sort()).toEqual([...new Set(bundle.map((r) => r.speaker))].sort());
  });

  test('one corpus draws exactly as before stratification (the runs of earlier versions keep their splits)', () => {
    const one = rows(20, 2, 0);
    // Recorded with the code before corpora were stratified (commit 37b6957), same rows and seed.
    const split = splitBySpeaker(one, { valFraction: 0.15, testFraction: 0.15, seed: 1 });
    expect(split.speakers.test).toEqual(['corpus:10', 'corpus:13', 'corpus:3']);
    expect(split.speakers.val).toEqual(['corpus:12', 'corpus:15', 'corpus:9']);
    expect(speakerFolds(one, 5, 1).map((f) => f.speakers.test)).toEqual([
      ['corpus:1', 'corpus:12', 'corpus:13', 'corpus:6'], ['corpus:10', 'corpus:14', 'corpus:16', 'corpus:17'],
      ['corpus:2', 'corpus:3', 'corpus:7', 'corpus:8'], ['corpus:11', 'corpus:15', 'corpus:18', 'corpus:5'],
      ['corpus:0', 'corpus:19', 'corpus:4', 'corpus:9'],
    ]);
  });
});
