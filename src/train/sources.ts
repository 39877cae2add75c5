// Where training batches come from: the cache's rows (gathered, standardised and mixed by a batch
// worker, from memory or streamed through a shuffle window), or (online augmentation) rows that workers
// compute afresh each epoch from the cache's kept audio. Both yield batches in the order the epoch's
// schedule fixes, as promises, and `prefetch` keeps the next ones under way while a step runs.
import * as os from 'os';
import { Worker } from 'worker_threads';

import type { AugmentSpec } from '../augment/spec';
import type { SpecAugmentSpec } from '../augment/spec-augment';
import { drawAugmentPlan, seededUniform } from '../augment/spec';
import { epochPlan, type BatchOptions, type BatchPlan } from '../data/epoch-order';
import { featureLayout } from '../data/rows';
import type { Normalisation } from '../features/normalise';
import { AugmentPool, compiledEntry } from '../workers/pool';
import { readyBatch, type AssemblerInput, type Batch, type RowResidence } from './batch-assembler';
import type { BatchReply, BatchRequest } from './batch-worker';
import { labelsOf, speakersOf, type CacheReader } from './dataset';

export interface BatchSource {
  /** The batches of one epoch, in order; a promise stands for a batch still being computed. */
  epoch(epoch: number): Iterable<Batch | Promise<Batch>>;
  readonly samplesPerEpoch: number;
  readonly batchesPerEpoch: number;
  close(): Promise<void>;
  /** Hands a batch's buffers back once its tensors are disposed (optional: sources that reuse them). */
  recycle?(batch: Batch): void;
}

const MIB = 1024 * 1024;
/** Batches of an epoch asked for before the epoch begins (while the previous one validates). */
const LOOKAHEAD_BATCHES = 2;

/**
 * The default memory budget for a run's training rows: half of the memory the system reports
 * available (os.freemem: MemAvailable on Linux), or of the process's cgroup limit when that is lower.
 */
export function defaultCacheMemoryMiB(): number {
  const available = os.freemem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() ?? 0 : 0;
  const limit = constrained > 0 ? Math.min(available, constrained) : available;
  return Math.floor(limit / 2 / MIB);
}

/**
 * Where a run's training rows live: in memory when they fit the budget, else streamed through a
 * shuffle window of as many rows as the budget holds. `recorded` is what the member's checkpoint says
 * it began with (the epoch order depends on it, so a resumed run keeps it): null for memory.
 */
export function chooseResidence(trainRows: number, rowBytes: number, budgetMiB: number, recorded?: number | null): RowResidence {
  if (recorded !== undefined) return recorded === null ? { mode: 'memory' } : { mode: 'stream', windowRows: recorded };
  const budgetRows = Math.floor((budgetMiB * MIB) / rowBytes);
  if (trainRows <= budgetRows) return { mode: 'memory' };
  return { mode: 'stream', windowRows: Math.max(1, budgetRows) };
}

/** The shuffle window a residence implies, as a checkpoint records it (null: every row in memory). */
export function recordedWindow(residence: RowResidence): number | null {
  return residence.mode === 'memory' ? null : residence.windowRows;
}

/** What a run adds to plain batches: SpecAugment masks, and speaker statistics from a few clips. */
export interface BatchExtras {
  specAugment?: SpecAugmentSpec | null;
  enrolClips?: number;
}

/** What a BatchAssembler needs of a cache and a run's training items (plain data, for a worker). */
export function assemblerInput(
  reader: CacheReader, items: readonly number[], options: BatchOptions, norm: Normalisation, residence: RowResidence, extras: BatchExtras = {},
): AssemblerInput {
  const { manifest } = reader;
  return {
    layout: featureLayout(reader.dir, manifest),
    items: Int32Array.from(items),
    places: items.map((item) => ({ shard: manifest.items[item].shard, row: manifest.items[item].row })),
    labels: Int32Array.from(labelsOf(reader, items)),
    speakers: speakersOf(reader, items),
    coeffs: manifest.coeffs,
    options,
    norm,
    residence,
    specAugment: extras.specAugment ?? null,
    enrolClips: extras.enrolClips ?? 0,
    augmented: Uint8Array.from(items, (item) => (manifest.items[item].augmented ? 1 : 0)),
    sourceIds: items.map((item) => manifest.items[item].id),
  };
}

/**
 * The cache's rows through a batch worker: it loads (or streams) the training rows and makes each
 * batch ready while the training thread runs the step before it. Open with CacheSource.open().
 */
export class CacheSource implements BatchSource {
  readonly samplesPerEpoch: number;
  readonly batchesPerEpoch: number;
  /** Seconds from starting the worker to the first epoch's first batch (loading, or filling the window). */
  loadSeconds = 0;
  /** The most rows the worker has held at once, as of its latest batch. */
  peakResidentRows = 0;
  private readonly pending = new Map<number, { resolve: (batch: Batch) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  /** Batches asked for ahead of their epoch (key `epoch:index`). */
  private readonly requested = new Map<string, Promise<Batch>>();
  private failure: Error | null = null;
  private closed = false;

  private constructor(private readonly worker: Worker, items: number, batchSize: number, readonly residence: RowResidence) {
    this.samplesPerEpoch = items;
    this.batchesPerEpoch = Math.ceil(items / batchSize);
  }

  /**
   * Starts the batch worker and waits until it has loaded the training rows (memory) or filled its
   * window for `firstEpoch` (stream): the one-off cost of the data path, reported as loadSeconds.
   */
  static async open(
    reader: CacheReader, items: readonly number[], options: BatchOptions, norm: Normalisation, residence: RowResidence, firstEpoch = 0,
    extras: BatchExtras = {},
  ): Promise<CacheSource> {
    const started = performance.now();
    const input = assemblerInput(reader, items, options, norm, residence, extras);
    const worker = new Worker(compiledEntry('train', 'batch-worker', __dirname), { workerData: input });
    const source = new CacheSource(worker, items.length, options.batchSize, residence);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        void worker.terminate();
        reject(error);
      };
      worker.once('error', fail);
      worker.once('message', (reply: BatchReply) => {
        worker.off('error', fail);
        if (reply.type === 'ready') resolve(); else fail(new Error(reply.type === 'error' ? reply.message : 'batch worker: unexpected first message'));
      });
    });
    worker.on('message', (reply: BatchReply) => source.receive(reply));
    worker.on('error', (error) => source.fail(error));
    worker.on('exit', (code) => {
      if (!source.closed) source.fail(new Error(`batch worker exited (code ${code})`));
    });
    source.warm(firstEpoch);
    await source.requested.get(`${firstEpoch}:0`);
    source.loadSeconds = (performance.now() - started) / 1000;
    return source;
  }

  private receive(reply: BatchReply): void {
    if (reply.type === 'ready') return;
    if (reply.type === 'error' && reply.id === null) {
      this.fail(new Error(reply.message));
      return;
    }
    const id = reply.id as number;
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    if (reply.type === 'error') waiting.reject(new Error(reply.message));
    else {
      this.peakResidentRows = Math.max(this.peakResidentRows, reply.peakResidentRows);
      waiting.resolve({ features: reply.features, labels: reply.labels, size: reply.size });
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  private request(epoch: number, index: number): Promise<Batch> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the batch source is closed'));
    const id = this.nextId++;
    const promise = new Promise<Batch>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ type: 'batch', id, epoch, index } satisfies BatchRequest);
    return promise;
  }

  /**
   * Asks for the first batches of `epoch` now, so the worker makes them (for a streamed epoch: fills
   * its window) while the caller does other work: validation, or setting up the first epoch.
   */
  warm(epoch: number): void {
    for (let index = 0; index < Math.min(LOOKAHEAD_BATCHES, this.batchesPerEpoch); index++) this.early(epoch, index);
  }

  private early(epoch: number, index: number): void {
    const key = `${epoch}:${index}`;
    if (this.requested.has(key)) return;
    const asked = this.request(epoch, index);
    // Not awaited when training stops first: its failure must not count as unhandled.
    asked.catch(() => undefined);
    this.requested.set(key, asked);
  }

  *epoch(epoch: number): Iterable<Promise<Batch>> {
    for (let index = 0; index < this.batchesPerEpoch; index++) {
      const key = `${epoch}:${index}`;
      const asked = this.requested.get(key);
      this.requested.delete(key);
      yield asked ?? this.request(epoch, index);
    }
    // Every batch of this epoch is asked for; the worker serves requests in order, so the next
    // epoch's first batches can be asked for now and are made while this epoch ends and validates.
    this.warm(epoch + 1);
  }

  recycle(batch: Batch): void {
    if (this.closed || this.failure) return;
    const features = batch.features;
    if (features.byteOffset !== 0 || features.byteLength !== features.buffer.byteLength) return;
    this.worker.postMessage({ type: 'recycle', features } satisfies BatchRequest, [features.buffer as ArrayBuffer]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('the batch source is closed'));
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies BatchRequest);
    // A worker busy with a batch finishes it first; one that does not exit soon is stopped.
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
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
    private readonly norm: Normalisation,
    private readonly specAugment: SpecAugmentSpec | null = null,
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
    const masks = this.specAugment ? { spec: this.specAugment, seed: this.options.seed, epoch } : null;
    return readyBatch(features, plan, labelsOf(reader, plan.members), this.options.classes, reader.manifest.coeffs, this.norm, speakersOf(reader, plan.members), undefined, masks);
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
