// Training batches made ready for the model: rows gathered from memory (every training row loaded once,
// shard by shard) or streamed through a bounded shuffle window, standardised and mixed. No TensorFlow
// here: this runs in the batch worker (batch-worker.ts), off the thread that runs the training steps.
import { epochSchedule, type BatchOptions, type BatchPlan, type Mixup } from '../data/epoch-order';
import { ShardRows, type RowPlace, type ShardLayout } from '../data/rows';
import { native } from '../native';
import { maskRow, maskSeed, type SpecAugmentSpec } from '../augment/spec-augment';
import { seededUniform } from '../augment/random';
import { MomentAccumulator, standardiseRows, type Moments, type Normalisation } from '../features/normalise';

/** A batch as the model takes it. */
export interface Batch {
  /** [size, frames, coeffs]: standardised (and mixed, when the plan mixes). */
  features: Float32Array;
  /** [size, classes]: one-hot, or mixed targets. */
  labels: Float32Array;
  size: number;
}

/** Where the training rows live while a run trains. */
export type RowResidence =
  /** Every training row loaded once into memory. */
  | { mode: 'memory' }
  /** Rows read anew each epoch, shard by shard, through a shuffle window of `windowRows` rows. */
  | { mode: 'stream'; windowRows: number };

/** What the assembler needs to know of the cache and the run (all plain data: it crosses to a worker). */
export interface AssemblerInput {
  layout: ShardLayout;
  /** Training items (cache item indices), in the run's split order. */
  items: Int32Array;
  /** Per training item (aligned with `items`): where it lies, its class, its speaker. */
  places: RowPlace[];
  labels: Int32Array;
  speakers: string[];
  coeffs: number;
  options: BatchOptions;
  norm: Normalisation;
  residence: RowResidence;
  /** SpecAugment masks drawn per (seed, epoch, item), or none. */
  specAugment?: SpecAugmentSpec | null;
  /**
   * Speaker normalisation with the statistics a user has: each row standardised by the moments of this
   * many other original clips of its speaker, drawn anew per (seed, epoch, item); 0 or absent: all of the
   * speaker's clips (norm.speakers).
   */
  enrolClips?: number;
  /** Per training item (aligned with `items`): whether it is an augmented copy, and its source clip. */
  augmented?: Uint8Array;
  sourceIds?: string[];
}

/** Recycled batch buffers kept at most (a few batches are in flight at once). */
const MAX_SPARE_BUFFERS = 8;

/** Rows read at a time into the staging buffer that memory mode copies its rows through (2.3 MiB). */
const STAGING_ROWS = 48;

/** Values per slab: rows live in slabs of at most 256 MiB, so no single allocation grows with the cache. */
const SLAB_BYTES = 256 * 1024 * 1024;

/** Fixed-size row slots in slabs. */
class RowSlots {
  private readonly slabs: Float32Array[] = [];
  private readonly rowsPerSlab: number;

  constructor(readonly capacity: number, readonly rowSize: number, touch = false) {
    this.rowsPerSlab = Math.max(1, Math.floor(SLAB_BYTES / (rowSize * 4)));
    for (let first = 0; first < capacity; first += this.rowsPerSlab) {
      const slab = new Float32Array(Math.min(this.rowsPerSlab, capacity - first) * rowSize);
      // Fresh memory costs a page fault per page on first write (about 3.5 ms per MiB on these VMs):
      // paid here, when asked, rather than inside an epoch.
      if (touch) slab.fill(0);
      this.slabs.push(slab);
    }
  }

  /** The slab holding `slot`, and the slot's value offset in it. */
  locate(slot: number): { slab: Float32Array; at: number } {
    const slab = this.slabs[Math.floor(slot / this.rowsPerSlab)];
    return { slab, at: (slot % this.rowsPerSlab) * this.rowSize };
  }

  view(slot: number): Float32Array {
    const { slab, at } = this.locate(slot);
    return slab.subarray(at, at + this.rowSize);
  }
}

/**
 * Mixes a batch into `out`: row b becomes fround(lambda) * row b + fround(1 - lambda) * row partner[b],
 * each product and the sum rounded to float (the addon's loop).
 */
export function mixRows(values: Float32Array, size: number, mixup: Mixup, out: Float32Array = new Float32Array(values.length)): Float32Array {
  native.mixRows(values, size, mixup.partner, Math.fround(mixup.lambda), Math.fround(1 - mixup.lambda), out);
  return out;
}

/** One-hot labels of classes. */
export function oneHot(classes: readonly number[], count: number): Float32Array {
  const labels = new Float32Array(classes.length * count);
  classes.forEach((label, b) => {
    labels[b * count + label] = 1;
  });
  return labels;
}

/**
 * Raw rows of a plan made ready for the model: standardised under `norm` (each row's speaker from
 * `speakers`), then mixed as the plan says; labels one-hot and mixed alike.
 */
/** SpecAugment of one epoch: the masks of each row are drawn from (seed, epoch, item). */
export interface EpochMasks {
  spec: SpecAugmentSpec;
  seed: number;
  epoch: number;
}

export function readyBatch(
  raw: Float32Array, plan: BatchPlan, classOf: readonly number[], classes: number, coeffs: number, norm: Normalisation,
  speakers: readonly (string | undefined)[], mixInto?: Float32Array, masks?: EpochMasks | null,
): Batch {
  const size = plan.members.length;
  standardiseRows(norm, raw, size, coeffs, speakers);
  if (masks) {
    const rowSize = raw.length / size;
    plan.members.forEach((item, b) => maskRow(raw.subarray(b * rowSize, (b + 1) * rowSize), coeffs, masks.spec, maskSeed(masks.seed, masks.epoch, item)));
  }
  const labels = oneHot(classOf, classes);
  if (!plan.mixup) return { features: raw, labels, size };
  return { features: mixRows(raw, size, plan.mixup, mixInto), labels: mixRows(labels, size, plan.mixup), size };
}

/**
 * Produces an epoch's batches in the order epochSchedule fixes. In memory mode the training rows are
 * read once (load()); in stream mode each epoch reads every training row once, shard after shard, and
 * holds at most `windowRows` rows at any time.
 */
export class BatchAssembler {
  private readonly rows: ShardRows;
  /** Training item -> its position in `input.items`. */
  private readonly position = new Map<number, number>();
  private memory: RowSlots | null = null;
  /** Memory mode: slot of each position. */
  private memorySlot: Int32Array | null = null;
  /** Stream mode: the shuffle window's slots. */
  private window: RowSlots | null = null;
  private resident = 0;
  private peak = 0;
  /** Enrolment during training: each training position's own sums, and the speaker's original positions. */
  private ownMoments: MomentAccumulator[] | null = null;
  private originalsOf: Map<string, number[]> | null = null;
  /** Batch-sized buffers handed back by the consumer (recycle), reused so no batch touches fresh pages. */
  private readonly spare: Float32Array[] = [];

  constructor(private readonly input: AssemblerInput) {
    this.rows = new ShardRows(input.layout);
    input.items.forEach((item, k) => this.position.set(item, k));
  }

  /** Rows held right now, and the most ever held. */
  get residentRows(): number {
    return this.resident;
  }

  get peakResidentRows(): number {
    return this.peak;
  }

  get rowSize(): number {
    return this.rows.rowSize;
  }

  private hold(delta: number): void {
    this.resident += delta;
    if (this.resident > this.peak) this.peak = this.resident;
  }

  /** A buffer of `length` values: a recycled one when there is one. */
  private buffer(length: number): Float32Array {
    const k = this.spare.findIndex((b) => b.length === length);
    return k >= 0 ? this.spare.splice(k, 1)[0] : new Float32Array(length);
  }

  /** Takes back a batch's features buffer once the consumer is done with it. */
  recycle(buffer: Float32Array): void {
    if (this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(buffer);
  }

  /**
   * Memory mode: reads every training row once, shard by shard. Stream mode: sets up the shuffle
   * window (its memory touched now, not during the first epoch).
   */
  load(): void {
    this.loadEnrolment();
    const { residence } = this.input;
    if (residence.mode === 'stream') {
      const capacity = Math.min(this.input.items.length, Math.max(1, Math.floor(residence.windowRows)));
      if (!this.window) this.window = new RowSlots(capacity, this.rows.rowSize, true);
      return;
    }
    if (this.memory) return;
    const { items, places } = this.input;
    const n = items.length;
    const slots = new RowSlots(n, this.rows.rowSize);
    const slotOf = new Int32Array(n);
    // Slots in shard order: the reads run through each shard once, front to back.
    const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => places[a].shard - places[b].shard || places[a].row - places[b].row);
    order.forEach((k, slot) => {
      slotOf[k] = slot;
    });
    const staging = new Float32Array(Math.min(n, STAGING_ROWS) * this.rows.rowSize);
    let k = 0;
    while (k < n) {
      let end = k + 1;
      const first = places[order[k]];
      const { slab, at } = slots.locate(k);
      // Consecutive rows of one shard that land in one slab are read with one call.
      while (end < n && places[order[end]].shard === first.shard && places[order[end]].row === first.row + (end - k) && slots.locate(end).slab === slab) end++;
      this.rows.readRunStaged(first.shard, first.row, end - k, slab, at, staging);
      k = end;
    }
    this.memory = slots;
    this.memorySlot = slotOf;
    this.hold(n);
  }

  /** With enrolClips: every training row's own sums (one read of each row, in shard order). */
  private loadEnrolment(): void {
    const { input } = this;
    if (!input.enrolClips || this.ownMoments) return;
    const n = input.items.length;
    const own: MomentAccumulator[] = new Array(n);
    const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => input.places[a].shard - input.places[b].shard || input.places[a].row - input.places[b].row);
    const row = new Float32Array(this.rows.rowSize);
    for (const k of order) {
      this.rows.readRun(input.places[k].shard, input.places[k].row, 1, row, 0);
      own[k] = new MomentAccumulator(input.coeffs);
      own[k].add(row);
    }
    const originalsOf = new Map<string, number[]>();
    for (let k = 0; k < n; k++) {
      if (input.augmented?.[k]) continue;
      const speaker = input.speakers[k];
      const list = originalsOf.get(speaker);
      if (list) list.push(k);
      else originalsOf.set(speaker, [k]);
    }
    this.ownMoments = own;
    this.originalsOf = originalsOf;
  }

  /** The moments of `enrolClips` other original clips of position k's speaker, drawn for this epoch. */
  private enrolmentMoments(k: number, epoch: number): Moments | null {
    const { input } = this;
    const clips = input.enrolClips as number;
    const source = input.sourceIds?.[k];
    const others = (this.originalsOf?.get(input.speakers[k]) ?? []).filter((o) => o !== k && (source === undefined || input.sourceIds?.[o] !== source));
    if (others.length === 0) return null;
    const random = seededUniform(input.options.seed * 1000003 + epoch * 104729 + input.items[k] * 7919 + clips);
    const take = Math.min(clips, others.length);
    const merged = new MomentAccumulator(input.coeffs);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(random() * (others.length - i));
      [others[i], others[j]] = [others[j], others[i]];
      merged.merge((this.ownMoments as MomentAccumulator[])[others[i]]);
    }
    return merged.moments();
  }

  /** The epoch's batches, each ready for the model. */
  *epoch(epoch: number): Generator<Batch> {
    const { input } = this;
    const { residence } = input;
    const items = Array.from(input.items);
    const placesByItem: RowPlace[] = [];
    items.forEach((item, k) => {
      placesByItem[item] = input.places[k];
    });
    const window = residence.mode === 'stream' ? { rows: residence.windowRows, places: placesByItem } : undefined;
    const schedule = epochSchedule(items, input.options, epoch, window);
    const rowSize = this.rows.rowSize;
    if (residence.mode === 'memory') {
      this.load();
      const slots = this.memory as RowSlots;
      const slotOf = this.memorySlot as Int32Array;
      for (const plan of schedule.plans) {
        const raw = this.buffer(plan.members.length * rowSize);
        plan.members.forEach((item, b) => raw.set(slots.view(slotOf[this.position.get(item) as number]), b * rowSize));
        yield this.ready(raw, plan, epoch);
      }
      return;
    }
    // Streaming: read rows in schedule.stream order into free slots of the window; before position p is
    // produced, min(n, window + p) rows of the stream have been read.
    const n = items.length;
    const capacity = Math.min(n, schedule.window);
    // The window's slots are allocated once and reused by every epoch.
    if (!this.window || this.window.capacity !== capacity) this.window = new RowSlots(capacity, rowSize, true);
    const slots = this.window;
    const free = Array.from({ length: capacity }, (_, s) => capacity - 1 - s);
    const slotOf = new Map<number, number>();
    let read = 0;
    let produced = 0;
    try {
      for (const plan of schedule.plans) {
        const raw = this.buffer(plan.members.length * rowSize);
        plan.members.forEach((item, b) => {
          const needed = Math.min(n, schedule.window + produced);
          while (read < needed) {
            const next = schedule.stream[read++];
            const slot = free.pop();
            if (slot === undefined) throw new Error('shuffle window overflow (a bug: the schedule read ahead of its window)');
            const place = placesByItem[next];
            const { slab, at } = slots.locate(slot);
            this.rows.readRun(place.shard, place.row, 1, slab, at);
            slotOf.set(next, slot);
            this.hold(1);
          }
          const slot = slotOf.get(item);
          if (slot === undefined) throw new Error(`item ${item} was scheduled before it was read (a bug in the epoch order)`);
          raw.set(slots.view(slot), b * rowSize);
          slotOf.delete(item);
          free.push(slot);
          this.hold(-1);
          produced++;
        });
        yield this.ready(raw, plan, epoch);
      }
    } finally {
      this.hold(-slotOf.size);
    }
  }

  private ready(raw: Float32Array, plan: BatchPlan, epoch: number): Batch {
    const { input } = this;
    const masks = input.specAugment ? { spec: input.specAugment, seed: input.options.seed, epoch } : null;
    const classOf = plan.members.map((item) => input.labels[this.position.get(item) as number]);
    let speakers: (string | undefined)[] = plan.members.map((item) => input.speakers[this.position.get(item) as number]);
    let norm = input.norm;
    if (input.enrolClips && norm.mode === 'speaker') {
      this.loadEnrolment();
      // Each row under its own key: the moments of its drawn enrolment clips (none drawn: its own).
      const drawn = new Map<string, Moments>();
      speakers = plan.members.map((item) => {
        const moments = this.enrolmentMoments(this.position.get(item) as number, epoch);
        if (!moments) return undefined;
        drawn.set(`enrol:${item}`, moments);
        return `enrol:${item}`;
      });
      norm = { ...norm, speakers: drawn };
    }
    const mixInto = plan.mixup ? this.buffer(raw.length) : undefined;
    const batch = readyBatch(raw, plan, classOf, input.options.classes, input.coeffs, norm, speakers, mixInto, masks);
    if (batch.features !== raw) this.recycle(raw);
    return batch;
  }

  close(): void {
    this.rows.close();
    if (this.memory) this.hold(-this.input.items.length);
    this.memory = null;
    this.memorySlot = null;
    this.window = null;
  }
}
