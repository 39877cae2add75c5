// Where training batches come from: the cache's rows, or (online augmentation) rows that workers
// compute afresh each epoch from the cache's kept audio. Both yield batches in the order epochPlan
// fixes, possibly as promises, and `prefetch` keeps the next ones under way while a step runs.
import type { AugmentSpec } from '../augment/spec';
import { drawAugmentPlan, seededUniform } from '../augment/spec';
import { AugmentPool } from '../workers/pool';
import { batchLabels, epochPlan, fillBatch, speakersOf, type Batch, type BatchOptions, type BatchPlan, type CacheReader } from './dataset';

export interface BatchSource {
  /** The batches of one epoch, in order; a promise stands for a batch still being computed. */
  epoch(epoch: number): Iterable<Batch | Promise<Batch>>;
  readonly samplesPerEpoch: number;
  readonly batchesPerEpoch: number;
  close(): Promise<void>;
}

export class CacheSource implements BatchSource {
  readonly samplesPerEpoch: number;
  readonly batchesPerEpoch: number;

  constructor(private readonly reader: CacheReader, private readonly items: readonly number[], private readonly options: BatchOptions) {
    this.samplesPerEpoch = items.length;
    this.batchesPerEpoch = Math.ceil(items.length / options.batchSize);
  }

  *epoch(epoch: number): Iterable<Batch> {
    for (const plan of epochPlan(this.items, this.options, epoch)) yield fillBatch(this.reader, plan, this.options.classes);
  }

  async close(): Promise<void> {}
}

/** The augmentation seed of (run seed, epoch, item): every epoch draws new plans, repeatably. */
export function planSeed(seed: number, epoch: number, item: number): number {
  const random = seededUniform(seed * 1000003 + epoch * 7919 + item * 104729);
  return Math.floor(random() * 2 ** 32);
}

/**
 * Online augmentation: every original training clip gets a new plan drawn from `spec` each epoch;
 * rows that are already augmented copies in the cache are used as they are. A batch is split over
 * the workers, its audio transferred to them and its features transferred back.
 */
export class OnlineAugmentSource implements BatchSource {
  readonly samplesPerEpoch: number;
  readonly batchesPerEpoch: number;
  private readonly pool: AugmentPool;

  constructor(
    private readonly reader: CacheReader,
    private readonly items: readonly number[],
    private readonly options: BatchOptions,
    private readonly spec: AugmentSpec,
    workers: number,
  ) {
    if (!reader.hasAudio) throw new Error(`${reader.dir}: online augmentation needs the clips' audio; prepare the cache with --keep-audio`);
    drawAugmentPlan(spec, 0);
    this.samplesPerEpoch = items.length;
    this.batchesPerEpoch = Math.ceil(items.length / options.batchSize);
    this.pool = new AugmentPool(workers);
  }

  *epoch(epoch: number): Iterable<Promise<Batch>> {
    for (const plan of epochPlan(this.items, this.options, epoch)) yield this.compute(plan, epoch);
  }

  private async compute(plan: BatchPlan, epoch: number): Promise<Batch> {
    const { reader } = this;
    const rowSize = reader.rowSize;
    const features = new Float32Array(plan.members.length * rowSize);
    const fresh: number[] = [];
    plan.members.forEach((item, b) => {
      if (reader.manifest.items[item].augmented) features.set(reader.row(item), b * rowSize);
      else fresh.push(b);
    });
    const chunks = Math.min(this.pool.threads, fresh.length);
    const tasks: Promise<void>[] = [];
    for (let c = 0; c < chunks; c++) {
      const slots = fresh.filter((_, i) => i % chunks === c);
      const audio = new Float32Array(slots.length * reader.audioLength);
      slots.forEach((b, i) => audio.set(reader.audioRow(plan.members[b]), i * reader.audioLength));
      const plans = slots.map((b) => drawAugmentPlan(this.spec, planSeed(this.options.seed, epoch, plan.members[b])));
      const { featureConfig, frames, coeffs } = reader.manifest;
      tasks.push(this.pool.run({ config: featureConfig, frames, coeffs, audio, clipLength: reader.audioLength, plans }).then((rows) => {
        slots.forEach((b, i) => features.set(rows.subarray(i * rowSize, (i + 1) * rowSize), b * rowSize));
      }));
    }
    await Promise.all(tasks);
    return {
      features, labels: batchLabels(reader, plan.members, this.options.classes), size: plan.members.length, mixup: plan.mixup,
      speakers: speakersOf(reader, plan.members),
    };
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/**
 * Pulls up to `depth` batches ahead of the consumer, so promised batches are computed while the
 * current step runs. Yields each batch with the milliseconds the consumer waited for it.
 */
export async function* prefetch(batches: Iterable<Batch | Promise<Batch>>, depth: number): AsyncGenerator<{ batch: Batch; waitMs: number }> {
  const iterator = batches[Symbol.iterator]();
  const queue: Promise<Batch>[] = [];
  let done = false;
  const fill = () => {
    while (!done && queue.length < depth) {
      const next = iterator.next();
      if (next.done) done = true;
      else {
        const pending = Promise.resolve(next.value);
        // Awaited in order below; until then a failure must not count as unhandled.
        pending.catch(() => undefined);
        queue.push(pending);
      }
    }
  };
  fill();
  while (queue.length > 0) {
    // Everything between asking for a batch and having it is waiting: the await on a promised batch,
    // and building the next batches synchronously (on the main thread nothing else runs meanwhile).
    const started = performance.now();
    const batch = await (queue.shift() as Promise<Batch>);
    fill();
    yield { batch, waitMs: performance.now() - started };
  }
}
