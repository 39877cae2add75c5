// The training side of a `ser prepare` cache: a reader of its rows (read by position, in shard order,
// never more than asked for), the run's normalisation (fitted on the training rows, per speaker or per
// row), and batches as tensors.
import * as tf from '@tensorflow/tfjs';

import { manifestLabels, readManifest, type Manifest } from '../data/cache';
import { epochPlan, type BatchOptions, type BatchPlan } from '../data/epoch-order';
import { featureLayout, ShardRows, shardOrder } from '../data/rows';
import { identityMoments, MomentAccumulator, type Moments, type Normalisation, type NormaliseMode } from '../features/normalise';
import { cropSamples } from '../workers/feature-task';
import { readyBatch, type Batch } from './batch-assembler';

export { epochPlan, type BatchOptions, type BatchPlan, type Batch, type Normalisation };

// Open shard files of readers that were dropped without close() are closed when they are collected.
const unclosed = new FinalizationRegistry<ShardRows[]>((rows) => rows.forEach((r) => r.close()));

export class CacheReader {
  readonly manifest: Manifest;
  readonly rowSize: number;
  /** Samples of each kept audio row (0 when the cache keeps no audio). */
  readonly audioLength: number;
  /** The cache's labels in the model's output order (label() indexes them). */
  readonly labels: readonly string[];
  private readonly features: ShardRows;
  private readonly audio: ShardRows | null;

  constructor(readonly dir: string) {
    this.manifest = readManifest(dir);
    this.rowSize = this.manifest.frames * this.manifest.coeffs;
    this.labels = manifestLabels(this.manifest);
    this.audioLength = this.hasAudio ? cropSamples(this.manifest.crop, this.manifest.featureConfig.sampleRate).length : 0;
    this.features = new ShardRows(featureLayout(dir, this.manifest));
    this.audio = this.hasAudio
      ? new ShardRows({ dir, shards: this.manifest.shards.map((s) => ({ file: s.audioFile as string, rows: s.rows })), rowSize: this.audioLength })
      : null;
    unclosed.register(this, this.audio ? [this.features, this.audio] : [this.features], this);
  }

  /** True when `ser prepare --keep-audio` stored every shard's audio. */
  get hasAudio(): boolean {
    return this.manifest.shards.length > 0 && this.manifest.shards.every((s) => s.audioFile !== undefined);
  }

  /** The features of manifest item `item` (a fresh array, read from its shard). */
  row(item: number): Float32Array {
    const { shard, row } = this.manifest.items[item];
    const out = new Float32Array(this.rowSize);
    this.features.readRun(shard, row, 1, out, 0);
    return out;
  }

  /**
   * The features of `items`, row k of the result for items[k]; read shard by shard, each once. Into
   * `into` (its first items.length rows) when given, else a fresh array.
   */
  rows(items: readonly number[], into?: Float32Array): Float32Array {
    const length = items.length * this.rowSize;
    if (into && into.length < length) throw new Error(`${items.length} rows do not fit a buffer of ${into.length} values`);
    const out = into ? into.subarray(0, length) : new Float32Array(length);
    this.features.readPlaces(items.map((item) => this.manifest.items[item]), out);
    return out;
  }

  /**
   * Calls `visit` with each item's features in shard order (each shard read once, front to back),
   * `chunkRows` rows read at a time; the row passed is only valid during the call.
   */
  forEachRow(items: readonly number[], visit: (row: Float32Array, item: number) => void, chunkRows = 256): void {
    const ordered = shardOrder(this.manifest.items, items);
    // One buffer for every chunk: a fresh 12 MiB array a chunk made a pass over 25,000 rows take 0.6 s
    // instead of 0.2 s here, each new page's first touch costing more than its read.
    const buffer = new Float32Array(Math.min(chunkRows, ordered.length) * this.rowSize);
    for (let first = 0; first < ordered.length; first += chunkRows) {
      const chunk = ordered.slice(first, first + chunkRows);
      const data = this.rows(chunk, buffer);
      chunk.forEach((item, k) => visit(data.subarray(k * this.rowSize, (k + 1) * this.rowSize), item));
    }
  }

  /** The cropped 16 kHz audio the item's features were computed from (a fresh array). */
  audioRow(item: number): Float32Array {
    if (!this.audio) throw new Error(`${this.dir}: the cache keeps no audio (prepare it with --keep-audio for online augmentation)`);
    const { shard, row } = this.manifest.items[item];
    const out = new Float32Array(this.audioLength);
    this.audio.readRun(shard, row, 1, out, 0);
    return out;
  }

  label(item: number): number {
    return this.labels.indexOf(this.manifest.items[item].emotion);
  }

  /** Closes the shard files (a reader reopens them if used again). */
  close(): void {
    this.features.close();
    this.audio?.close();
  }
}

/** The global moments of the given rows (in shard order, so each shard is read once). */
function fitGlobalMoments(reader: CacheReader, items: readonly number[]): Moments {
  const accumulator = new MomentAccumulator(reader.manifest.coeffs);
  reader.forEachRow(items, (row) => accumulator.add(row));
  if (accumulator.count === 0) throw new Error('cannot fit a normalisation on no rows');
  return accumulator.moments();
}

/**
 * Each speaker's moments over its own original rows, for every speaker of the cache (a speaker with
 * only augmented rows: over those). No labels are read: this is how a test speaker's recordings
 * standardise themselves, as they would in use.
 */
export function fitSpeakerMoments(reader: CacheReader): Map<string, Moments> {
  const { items, coeffs } = reader.manifest;
  // One pass in shard order (each shard read once), originals and copies apart.
  const originals = new Map<string, MomentAccumulator>();
  const copies = new Map<string, MomentAccumulator>();
  reader.forEachRow(items.map((_, i) => i), (row, i) => {
    const { speaker, augmented } = items[i];
    const into = augmented ? copies : originals;
    let accumulator = into.get(speaker);
    if (!accumulator) into.set(speaker, (accumulator = new MomentAccumulator(coeffs)));
    accumulator.add(row);
  });
  const moments = new Map<string, Moments>();
  for (const speaker of new Set(items.map((item) => item.speaker))) {
    moments.set(speaker, ((originals.get(speaker) ?? copies.get(speaker)) as MomentAccumulator).moments());
  }
  return moments;
}

/** The run's normalisation of the cache's rows, fitted on the training rows (global) or per speaker. */
export function fitNormalisation(reader: CacheReader, trainItems: readonly number[], mode: NormaliseMode = 'global'): Normalisation {
  const { coeffs } = reader.manifest;
  if (mode === 'global') return { mode, ...fitGlobalMoments(reader, trainItems), speakers: new Map() };
  return { mode, ...identityMoments(coeffs), speakers: mode === 'speaker' ? fitSpeakerMoments(reader) : new Map() };
}

/** A normalisation as a model folder stores it (speaker moments come from the data being scored). */
export function normalisationOf(mode: NormaliseMode, moments: Moments, speakers: ReadonlyMap<string, Moments> = new Map()): Normalisation {
  return { mode, mean: moments.mean, std: moments.std, speakers };
}

/** Class indices of cache items. */
export function labelsOf(reader: CacheReader, items: readonly number[]): number[] {
  return items.map((item) => reader.label(item));
}

/** The speakers of cache items. */
export function speakersOf(reader: CacheReader, items: readonly number[]): string[] {
  return items.map((item) => reader.manifest.items[item].speaker);
}

/** The plan's rows read from the shards, standardised and mixed: the batch the model trains on. */
export function fillBatch(reader: CacheReader, plan: BatchPlan, classes: number, norm: Normalisation): Batch {
  return readyBatch(reader.rows(plan.members), plan, labelsOf(reader, plan.members), classes, reader.manifest.coeffs, norm, speakersOf(reader, plan.members));
}

/** One epoch's batches read on the calling thread (epochPlan + fillBatch; training uses the batch worker). */
export function* epochBatches(reader: CacheReader, items: readonly number[], norm: Normalisation, options: BatchOptions, epoch: number): Generator<Batch> {
  for (const plan of epochPlan(items, options, epoch)) yield fillBatch(reader, plan, options.classes, norm);
}

/** A ready batch as tensors [size, frames, coeffs, 1] and [size, classes] (the cpu-side data is not copied). */
export function batchTensors(batch: Batch, frames: number, coeffs: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return {
    x: tf.tensor4d(batch.features, [batch.size, frames, coeffs, 1]),
    y: tf.tensor2d(batch.labels, [batch.size, batch.labels.length / batch.size]),
  };
}
