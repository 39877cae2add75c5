// Batches for training, straight from a `ser prepare` cache: rows are Float32Array views of NPY shards
// (kept in memory two at a time), copied whole into batch buffers; per-coefficient normalisation (fitted
// on the training rows, per speaker or per row); seeded shuffling and mixup.
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs';

import { seededUniform } from '../augment/spec';
import { readManifest, type Manifest } from '../data/cache';
import { EMOTIONS, type Emotion } from '../data/labels';
import { identityMoments, MomentAccumulator, rowMoments, type Moments, type NormaliseMode } from '../features/normalise';
import { parseNpy } from '../data/npy';
import { cropSamples } from '../workers/feature-task';

/** Keeps the most recently used NPY shards of one kind in memory. */
class ShardCache {
  private readonly loaded = new Map<number, Float32Array>();

  constructor(private readonly maxShards: number) {}

  get(index: number, load: () => Float32Array): Float32Array {
    const cached = this.loaded.get(index);
    if (cached) {
      this.loaded.delete(index);
      this.loaded.set(index, cached);
      return cached;
    }
    const data = load();
    this.loaded.set(index, data);
    while (this.loaded.size > this.maxShards) this.loaded.delete(this.loaded.keys().next().value as number);
    return data;
  }
}

export class CacheReader {
  readonly manifest: Manifest;
  readonly rowSize: number;
  /** Samples of each kept audio row (0 when the cache keeps no audio). */
  readonly audioLength: number;
  private readonly features: ShardCache;
  private readonly audio: ShardCache;

  constructor(readonly dir: string, maxShardsInMemory = 2) {
    this.manifest = readManifest(dir);
    this.rowSize = this.manifest.frames * this.manifest.coeffs;
    this.audioLength = this.hasAudio ? cropSamples(this.manifest.crop, this.manifest.featureConfig.sampleRate).length : 0;
    this.features = new ShardCache(maxShardsInMemory);
    this.audio = new ShardCache(maxShardsInMemory);
  }

  /** True when `ser prepare --keep-audio` stored every shard's audio. */
  get hasAudio(): boolean {
    return this.manifest.shards.length > 0 && this.manifest.shards.every((s) => s.audioFile !== undefined);
  }

  private load(file: string, rows: number, rowSize: number): Float32Array {
    const npy = parseNpy(fs.readFileSync(file), file);
    const size = npy.shape.slice(1).reduce((a, b) => a * b, 1);
    if (npy.shape[0] !== rows || size !== rowSize) {
      throw new Error(`${file}: shape [${npy.shape.join(', ')}] does not match the manifest (${rows} rows of ${rowSize} values)`);
    }
    return npy.data;
  }

  /** The features of manifest item `item`: a view, valid until other shards push its shard out. */
  row(item: number): Float32Array {
    const { shard, row } = this.manifest.items[item];
    const info = this.manifest.shards[shard];
    const data = this.features.get(shard, () => this.load(path.join(this.dir, info.file), info.rows, this.rowSize));
    return data.subarray(row * this.rowSize, (row + 1) * this.rowSize);
  }

  /** The cropped 16 kHz audio the item's features were computed from (a view, as `row`). */
  audioRow(item: number): Float32Array {
    const { shard, row } = this.manifest.items[item];
    const info = this.manifest.shards[shard];
    if (!info.audioFile) throw new Error(`${this.dir}: the cache keeps no audio (prepare it with --keep-audio for online augmentation)`);
    const file = path.join(this.dir, info.audioFile);
    const data = this.audio.get(shard, () => this.load(file, info.rows, this.audioLength));
    return data.subarray(row * this.audioLength, (row + 1) * this.audioLength);
  }

  label(item: number): number {
    return EMOTIONS.indexOf(this.manifest.items[item].emotion as Emotion);
  }
}

/**
 * How a run standardises its rows. global: `mean` and `std` per coefficient over all frames of the
 * training rows. speaker: each speaker's own moments (`speakers`), over that speaker's original rows.
 * utterance: each row's own moments. A row whose speaker has no moments is standardised on its own.
 */
export interface Normalisation {
  mode: NormaliseMode;
  /** global: fitted on the training rows; other modes: zeros and ones. */
  mean: Float32Array;
  std: Float32Array;
  speakers: ReadonlyMap<string, Moments>;
}

/** The global moments of the given rows (in shard order, so each shard loads once). */
function fitGlobalMoments(reader: CacheReader, items: readonly number[]): Moments {
  const accumulator = new MomentAccumulator(reader.manifest.coeffs);
  const ordered = [...items].sort((a, b) => reader.manifest.items[a].shard - reader.manifest.items[b].shard || a - b);
  for (const item of ordered) accumulator.add(reader.row(item));
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
  // One pass in shard order (each shard loads once), originals and copies apart.
  const originals = new Map<string, MomentAccumulator>();
  const copies = new Map<string, MomentAccumulator>();
  const ordered = items.map((_, i) => i).sort((a, b) => items[a].shard - items[b].shard || a - b);
  for (const i of ordered) {
    const { speaker, augmented } = items[i];
    const into = augmented ? copies : originals;
    let accumulator = into.get(speaker);
    if (!accumulator) into.set(speaker, (accumulator = new MomentAccumulator(coeffs)));
    accumulator.add(reader.row(i));
  }
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

/**
 * Per-row moments [rows * coeffs] of a batch, or null when one set serves every row (global). Rows of
 * a speaker without moments (or with no speaker given) use their own.
 */
export function batchMoments(norm: Normalisation, features: Float32Array, rows: number, coeffs: number, speakers?: readonly (string | undefined)[]): Moments | null {
  if (norm.mode === 'global') return null;
  const rowSize = features.length / rows;
  const mean = new Float32Array(rows * coeffs);
  const std = new Float32Array(rows * coeffs);
  for (let r = 0; r < rows; r++) {
    const speaker = norm.mode === 'speaker' ? speakers?.[r] : undefined;
    const moments = (speaker !== undefined ? norm.speakers.get(speaker) : undefined) ?? rowMoments(features.subarray(r * rowSize, (r + 1) * rowSize), coeffs);
    mean.set(moments.mean, r * coeffs);
    std.set(moments.std, r * coeffs);
  }
  return { mean, std };
}

export interface Batch {
  /** [size, frames, coeffs], raw features copied row by row from the shards. */
  features: Float32Array;
  /** [size, classes], one-hot. */
  labels: Float32Array;
  size: number;
  /** Mixup of this batch: row b becomes lambda * row b + (1 - lambda) * row partner[b]. */
  mixup: { lambda: number; partner: Int32Array } | null;
  /** Each row's speaker (speaker normalisation looks its moments up by it). */
  speakers?: readonly (string | undefined)[];
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

export interface BatchOptions {
  batchSize: number;
  seed: number;
  /** Beta(alpha, alpha) mixup on each batch; 0 disables it. */
  mixupAlpha: number;
  classes: number;
}

/** Which rows make up one batch, and how it is mixed. */
export interface BatchPlan {
  members: number[];
  mixup: Batch['mixup'];
}

/**
 * One epoch's batches over `items` in a seeded order (seed and epoch alone decide it, so a resumed run
 * sees the same batches). With mixup, each batch is mixed with a shuffled copy of itself by one
 * lambda ~ Beta(alpha, alpha) per batch, features and labels alike.
 */
export function epochPlan(items: readonly number[], options: BatchOptions, epoch: number): BatchPlan[] {
  const random = seededUniform(options.seed * 1000003 + epoch);
  const order = [...items];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const plans: BatchPlan[] = [];
  for (let first = 0; first < order.length; first += options.batchSize) {
    const members = order.slice(first, first + options.batchSize);
    const size = members.length;
    let mixup: Batch['mixup'] = null;
    if (options.mixupAlpha > 0 && size > 1) {
      const a = gamma(options.mixupAlpha, random);
      const lambda = a / (a + gamma(options.mixupAlpha, random));
      const partner = Int32Array.from({ length: size }, (_, i) => i);
      for (let i = size - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [partner[i], partner[j]] = [partner[j], partner[i]];
      }
      mixup = { lambda, partner };
    }
    plans.push({ members, mixup });
  }
  return plans;
}

/** One-hot labels of the plan's rows. */
export function batchLabels(reader: CacheReader, members: readonly number[], classes: number): Float32Array {
  const labels = new Float32Array(members.length * classes);
  members.forEach((item, b) => {
    labels[b * classes + reader.label(item)] = 1;
  });
  return labels;
}

/** The speakers of cache items. */
export function speakersOf(reader: CacheReader, items: readonly number[]): string[] {
  return items.map((item) => reader.manifest.items[item].speaker);
}

/** The plan's rows copied whole from the shards. */
export function fillBatch(reader: CacheReader, plan: BatchPlan, classes: number): Batch {
  const rowSize = reader.rowSize;
  const features = new Float32Array(plan.members.length * rowSize);
  plan.members.forEach((item, b) => features.set(reader.row(item), b * rowSize));
  return { features, labels: batchLabels(reader, plan.members, classes), size: plan.members.length, mixup: plan.mixup, speakers: speakersOf(reader, plan.members) };
}

/** epochPlan + fillBatch. */
export function* epochBatches(reader: CacheReader, items: readonly number[], norm: Normalisation, options: BatchOptions, epoch: number): Generator<Batch> {
  for (const plan of epochPlan(items, options, epoch)) yield fillBatch(reader, plan, options.classes);
}

/**
 * The batch as tensors [size, frames, coeffs, 1] and [size, classes]: normalised and mixed with tf ops
 * (broadcast and gather), no per-element JS.
 */
export function batchTensors(batch: Batch, norm: Normalisation, frames: number, coeffs: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const raw = tf.tensor3d(batch.features, [batch.size, frames, coeffs]);
    const perRow = batchMoments(norm, batch.features, batch.size, coeffs, batch.speakers);
    const [mean, std] = perRow
      ? [tf.tensor3d(perRow.mean, [batch.size, 1, coeffs]), tf.tensor3d(perRow.std, [batch.size, 1, coeffs])]
      : [tf.tensor1d(norm.mean), tf.tensor1d(norm.std)];
    const normalised = tf.div(tf.sub(raw, mean), std);
    let x = normalised as tf.Tensor;
    let y = tf.tensor2d(batch.labels, [batch.size, batch.labels.length / batch.size]) as tf.Tensor;
    if (batch.mixup) {
      const { lambda, partner } = batch.mixup;
      const index = tf.tensor1d(partner, 'int32');
      x = tf.add(tf.mul(x, lambda), tf.mul(tf.gather(x, index), 1 - lambda));
      y = tf.add(tf.mul(y, lambda), tf.mul(tf.gather(y, index), 1 - lambda));
    }
    return { x: tf.expandDims(x, -1) as tf.Tensor4D, y: y as tf.Tensor2D };
  });
}
