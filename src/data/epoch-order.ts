// The order of one training epoch and how its batches are mixed: a pure function of the seed, the
// epoch, the training items and (when the rows are streamed) the shuffle window and where the rows
// lie. Nothing here reads data, so the main thread, a batch worker and a resumed run all agree.
import { seededUniform } from '../augment/random';
import type { RowPlace } from './rows';

export interface BatchOptions {
  batchSize: number;
  seed: number;
  /** Beta(alpha, alpha) mixup on each batch; 0 disables it. */
  mixupAlpha: number;
  classes: number;
}

/** Row b of a mixed batch is lambda * row b + (1 - lambda) * row partner[b], features and labels alike. */
export interface Mixup {
  lambda: number;
  partner: Int32Array;
}

/** Which rows make up one batch, and how it is mixed. */
export interface BatchPlan {
  members: number[];
  mixup: Mixup | null;
}

/**
 * Streaming: the rows are read shard after shard and shuffled within a window of `rows` rows, as
 * tf.data's shuffle buffer does. `places[item]` says where each item lies.
 */
export interface ShuffleWindow {
  rows: number;
  places: readonly RowPlace[];
}

/** One epoch's order, and the order the rows are read in to produce it. */
export interface EpochOrder {
  /** Training items in the order they are trained on. */
  order: number[];
  /**
   * The order rows are read in. Before order[p] is produced, the first min(n, window + p) of these
   * must have been read (and order[p] is among them); with no window (or one holding every row), all.
   */
  stream: number[];
  window: number;
}

/** Gamma(shape, 1) by Marsaglia and Tsang (with the shape < 1 boost), from a seeded uniform stream. */
function gamma(shape: number, random: () => number): number {
  if (shape < 1) return gamma(shape + 1, random) * random() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      const u1 = 1 - random();
      const u2 = random();
      x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

function shuffleInPlace<T>(values: T[], random: () => number): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
}

/** Items by shard, then row. */
function byPlace(items: readonly number[], places: readonly RowPlace[]): number[] {
  return [...items].sort((a, b) => places[a].shard - places[b].shard || places[a].row - places[b].row || a - b);
}

/**
 * The epoch's order. Without a window, or with one that holds every row: a uniform shuffle of `items`
 * (the order runs have always had). With a smaller window: the shards in a seeded order, each shard's
 * rows in row order, through a shuffle buffer of `window.rows` rows. `random` continues into mixup.
 */
function orderEpoch(items: readonly number[], random: () => number, window?: ShuffleWindow): EpochOrder {
  const n = items.length;
  if (!window || window.rows >= n) {
    const order = [...items];
    shuffleInPlace(order, random);
    return { order, stream: window ? byPlace(items, window.places) : [...items], window: n };
  }
  const size = Math.max(1, Math.floor(window.rows));
  const { places } = window;
  const shards = [...new Set(items.map((item) => places[item].shard))].sort((a, b) => a - b);
  shuffleInPlace(shards, random);
  const rank = new Map(shards.map((shard, k) => [shard, k]));
  const stream = [...items].sort((a, b) => (rank.get(places[a].shard) as number) - (rank.get(places[b].shard) as number) || places[a].row - places[b].row || a - b);
  const buffer: number[] = [];
  const order: number[] = [];
  for (const item of stream) {
    if (buffer.length < size) {
      buffer.push(item);
      continue;
    }
    const j = Math.floor(random() * size);
    order.push(buffer[j]);
    buffer[j] = item;
  }
  while (buffer.length > 0) {
    const j = Math.floor(random() * buffer.length);
    order.push(buffer[j]);
    buffer[j] = buffer[buffer.length - 1];
    buffer.pop();
  }
  return { order, stream, window: size };
}

/**
 * One epoch: its order (see orderEpoch) cut into batches. With mixup, each batch is mixed with a
 * shuffled copy of itself by one lambda ~ Beta(alpha, alpha) per batch, features and labels alike.
 * The seed and epoch alone decide it, so a resumed run sees the same batches.
 */
export function epochSchedule(items: readonly number[], options: BatchOptions, epoch: number, window?: ShuffleWindow): EpochOrder & { plans: BatchPlan[] } {
  const random = seededUniform(options.seed * 1000003 + epoch);
  const ordered = orderEpoch(items, random, window);
  const plans: BatchPlan[] = [];
  for (let first = 0; first < ordered.order.length; first += options.batchSize) {
    const members = ordered.order.slice(first, first + options.batchSize);
    const size = members.length;
    let mixup: Mixup | null = null;
    if (options.mixupAlpha > 0 && size > 1) {
      const a = gamma(options.mixupAlpha, random);
      const lambda = a / (a + gamma(options.mixupAlpha, random));
      const partner = Int32Array.from({ length: size }, (_, i) => i);
      shuffleInPlace(partner as unknown as number[], random);
      mixup = { lambda, partner };
    }
    plans.push({ members, mixup });
  }
  return { ...ordered, plans };
}

/** The batches of one epoch (epochSchedule without the read order). */
export function epochPlan(items: readonly number[], options: BatchOptions, epoch: number, window?: ShuffleWindow): BatchPlan[] {
  return epochSchedule(items, options, epoch, window).plans;
}
