// Speaker statistics as a user has them at prediction time: from k other clips of the same speaker,
// drawn at random (never the clip being scored). Evaluation scores every test clip this way for k = 1
// and 4, between a lone clip (its own statistics) and a speaker map (all of the speaker's clips).
import { seededUniform } from '../augment/random';
import { MomentAccumulator, type Moments } from '../features/normalise';
import type { CacheReader } from '../train/dataset';

/** Each scored item's key, and the moments of its enrolment clips under that key. */
export interface Enrolment {
  keyOf: (item: number) => string;
  moments: Map<string, Moments>;
  /** Items whose speaker had fewer than k other clips (all of them were used). */
  short: number;
}

/**
 * For each of `items`, the moments of k other items of the same speaker among `items`, drawn with a
 * seed of (seed, item) so every evaluation draws the same clips. Rows are read once, in shard order.
 */
export function enrolmentMoments(reader: CacheReader, items: readonly number[], k: number, seed: number): Enrolment {
  const { coeffs } = reader.manifest;
  const own = new Map<number, MomentAccumulator>();
  reader.forEachRow(items, (row, item) => {
    const accumulator = new MomentAccumulator(coeffs);
    accumulator.add(row);
    own.set(item, accumulator);
  });
  const bySpeaker = new Map<string, number[]>();
  for (const item of items) {
    const speaker = reader.manifest.items[item].speaker;
    const list = bySpeaker.get(speaker);
    if (list) list.push(item);
    else bySpeaker.set(speaker, [item]);
  }
  const moments = new Map<string, Moments>();
  let short = 0;
  for (const item of items) {
    const others = (bySpeaker.get(reader.manifest.items[item].speaker) as number[]).filter((other) => other !== item);
    if (others.length === 0) continue;
    if (others.length < k) short++;
    const random = seededUniform(seed * 1000003 + item * 7919 + k);
    // A partial Fisher-Yates: the first k of a seeded shuffle.
    const pool = [...others];
    const take = Math.min(k, pool.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const accumulator = new MomentAccumulator(coeffs);
    for (const chosen of pool.slice(0, take)) accumulator.merge(own.get(chosen) as MomentAccumulator);
    moments.set(`enrol:${item}`, accumulator.moments());
  }
  return { keyOf: (item) => `enrol:${item}`, moments, short };
}
