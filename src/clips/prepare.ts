// `ser prepare`: a folder of clips -> a feature cache, on every core, shard by shard, resumable.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import { drawAugmentPlan, type AugmentPlan, type AugmentSpec } from '../augment/spec';
import { coeffsPerFrame, type CropSpec, type FeatureConfig } from '../features/config';
import { AbortError, CacheConflictError, throwIfAborted } from '../errors';
import { native } from '../native';
import { CREATED_BY } from '../version';
import { cropSamples, type ClipOutcome, type FeatureTask } from '../workers/feature-task';
import { FeaturePool } from '../workers/pool';
import {
  CACHE_VERSION, MANIFEST_FILE, STATE_FILE, audioShardFile, finishedShard, readJson, shardFile, sidecarFile,
  writeJsonAtomic, writeJsonAtomicAsync, writeShardArrayAsync,
  type AugmentConfig, type FailedItem, type Manifest, type ManifestItem, type ShardSidecar, type SliceSpec,
} from '../data/cache';
import type { CorpusChoice } from '../data/corpora';
import { readClipList } from '../data/clip-list';
import { scanDataset, type ScannedClip, type ScanResult } from '../data/scan';

/** A resolved prepare: every option checked and filled (see prepare-api.ts for the caller's form). */
export interface PrepareJob {
  /** The folder of clips; with a clip list, the list's folder. */
  dataset: string;
  /** A clip list (path,label,speaker[,gender,corpus]) instead of file-name conventions; null: none. */
  manifest: string | null;
  out: string;
  corpus: CorpusChoice;
  features: FeatureConfig;
  crop: CropSpec;
  /** null: no augmented copies. */
  augment: AugmentSpec | null;
  copies: number;
  seed: number;
  workers: number;
  slice: SliceSpec | null;
  shardRows: number;
  clipsPerTask: number;
  keepAudio: boolean;
  overwrite: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: PrepareProgress) => void;
}

/** Clips done so far in a prepare (resumed shards count as done). */
export interface PrepareProgress {
  done: number;
  total: number;
  failed: number;
  audioSeconds: number;
  elapsedSeconds: number;
}

/** What a prepare wrote: rows, failures (reasons in manifest.json), shards and speed. */
export interface PrepareSummary {
  out: string;
  rows: number;
  units: number;
  failed: number;
  skipped: number;
  shards: number;
  resumedShards: number;
  audioSeconds: number;
  elapsedSeconds: number;
  realTimeFactor: number;
  workers: number;
}


interface WorkUnit {
  clip: ScannedClip;
  copy: number;
  plan: AugmentPlan | null;
}


/** A seed per (run seed, clip, copy) that does not depend on sharding or worker count. */
export function unitSeed(seed: number, id: string, copy: number): number {
  const digest = createHash('sha256').update(`${seed}\0${id}\0${copy}`).digest();
  return digest.readUIntBE(0, 6);
}

export function sliceOf<T>(items: readonly T[], slice: SliceSpec | null): T[] {
  if (!slice) return [...items];
  const start = Math.floor((slice.index * items.length) / slice.count);
  const end = Math.floor(((slice.index + 1) * items.length) / slice.count);
  return items.slice(start, end);
}

function fingerprintParts(options: PrepareJob, root: string, clips: ScannedClip[]): Record<string, unknown> {
  const augment: AugmentConfig | null = options.augment && options.copies > 0
    ? { spec: options.augment, copies: options.copies, seed: options.seed }
    : null;
  return {
    version: CACHE_VERSION,
    featureConfig: options.features,
    augmentConfig: augment,
    crop: options.crop,
    corpus: options.manifest ? 'manifest' : options.corpus,
    corpusRoot: root,
    // A clip list's labels decide the rows (no key for the conventions: their caches resume as before).
    ...(options.manifest ? { clipList: { file: path.resolve(options.manifest), sha256: createHash('sha256').update(fs.readFileSync(options.manifest)).digest('hex') } } : {}),
    slice: options.slice,
    shardRows: options.shardRows,
    keepAudio: options.keepAudio,
    // Sizes and modification times too: files re-exported under the same names must not mix with old rows.
    clips: { count: clips.length, sha256: clipListHash(clips) },
    createdBy: CREATED_BY,
  };
}

function clipListHash(clips: readonly ScannedClip[]): string {
  const hash = createHash('sha256');
  for (const clip of clips) {
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(clip.path);
    } catch {
      // An unreadable file is recorded as a failure later; here it only counts by name.
    }
    hash.update(`${clip.id}\t${stat?.size ?? -1}\t${stat?.mtimeMs ?? -1}\n`);
  }
  return hash.digest('hex');
}

const LOCK_FILE = 'prepare.lock';
/** Shard buffers live in memory until written: at most this many bytes each. */
const MAX_SHARD_BYTES = 512 * 2 ** 20;

/** One prepare per folder: an exclusive lock file holding the pid; a dead owner's lock is taken over. */
function lockOutput(out: string): () => void {
  const lock = path.join(out, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(fs.readFileSync(lock, 'utf8'));
      let alive = false;
      try {
        process.kill(owner, 0);
        alive = Number.isInteger(owner) && owner > 0;
      } catch {
        alive = false;
      }
      if (alive) throw new CacheConflictError(`another ser prepare (pid ${owner}) is writing to ${out}`);
      fs.rmSync(lock, { force: true });
    }
  }
  throw new CacheConflictError(`could not lock ${out}`);
}

/** Makes `out` ready: new, resumable with the same configuration, or refused with the differences. */
function claimOutput(out: string, parts: Record<string, unknown>, overwrite: boolean): void {
  fs.mkdirSync(out, { recursive: true });
  const statePath = path.join(out, STATE_FILE);
  const entries = fs.readdirSync(out);
  const ours = (name: string) => /^(features|audio)-\d{5}\.(npy|json)$/.test(name) || name === MANIFEST_FILE || name === STATE_FILE;
  if (overwrite) {
    for (const name of entries) if (ours(name) || name.endsWith('.tmp')) fs.rmSync(path.join(out, name), { force: true });
  } else if (fs.existsSync(statePath)) {
    const previous = readJson<{ parts: Record<string, unknown> }>(statePath).parts;
    const differing = Object.keys({ ...previous, ...parts }).filter((k) => JSON.stringify(previous[k]) !== JSON.stringify(parts[k]));
    if (differing.length > 0) {
      throw new CacheConflictError(
        `${out} holds a cache made with a different ${differing.join(', ')}; ` +
          'use a new output folder, or --overwrite to replace it',
      );
    }
    for (const name of entries) if (name.endsWith('.tmp')) fs.rmSync(path.join(out, name), { force: true });
  } else if (entries.some(ours)) {
    throw new CacheConflictError(`${out} holds cache files from another run (no ${STATE_FILE}); use --overwrite to replace them`);
  }
  writeJsonAtomic(statePath, { createdBy: CREATED_BY, parts });
}

/**
 * Recycles shard buffers. A finished shard's SharedArrayBuffer would otherwise live until V8 collects it,
 * and V8 collects external memory lazily (measured: 415 MiB peak RSS preparing 12,182 clips with fresh
 * buffers per shard).
 */
class SharedBufferPool {
  private readonly free: SharedArrayBuffer[] = [];

  take(bytes: number): SharedArrayBuffer {
    const index = this.free.findIndex((b) => b.byteLength === bytes);
    if (index < 0) return new SharedArrayBuffer(bytes);
    // No clearing needed: every kept row is overwritten whole, and failed rows are compacted away.
    const [buffer] = this.free.splice(index, 1);
    return buffer;
  }

  give(buffer: SharedArrayBuffer): void {
    this.free.push(buffer);
  }
}

export async function prepareCache(options: PrepareJob): Promise<PrepareSummary> {
  const started = process.hrtime.bigint();
  throwIfAborted(options.signal, 'prepare');
  const scan = options.manifest ? readClipList(options.manifest) : scanDataset(options.dataset, options.corpus);
  const clips = sliceOf(scan.clips, options.slice);
  const out = path.resolve(options.out);
  fs.mkdirSync(out, { recursive: true });
  const unlock = lockOutput(out);
  try {
    claimOutput(out, fingerprintParts(options, scan.root, clips), options.overwrite);
    return await prepareLocked(options, out, scan, clips, started);
  } finally {
    unlock();
  }
}

async function prepareLocked(
  options: PrepareJob,
  out: string,
  scan: ScanResult,
  clips: ScannedClip[],
  started: bigint,
): Promise<PrepareSummary> {
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;

  const config = options.features;
  const copies = options.augment ? options.copies : 0;
  const units: WorkUnit[] = [];
  for (const clip of clips) {
    units.push({ clip, copy: 0, plan: null });
    for (let copy = 1; copy <= copies; copy++) {
      units.push({ clip, copy, plan: drawAugmentPlan(options.augment as AugmentSpec, unitSeed(options.seed, clip.id, copy)) });
    }
  }
  const audioLength = cropSamples(options.crop, config.sampleRate).length;
  // Every row is one cropped clip, so one zero clip of that length gives the row shape.
  const rowFrames = native.computeFeatures(new Float32Array(audioLength), config).frames;
  const coeffs = coeffsPerFrame(config);
  const rowSize = rowFrames * coeffs;
  const shardCount = Math.ceil(units.length / options.shardRows);
  const shardBytes = options.shardRows * (rowSize + (options.keepAudio ? audioLength : 0)) * 4;
  if (shardBytes > MAX_SHARD_BYTES) {
    throw new CacheConflictError(
      `a shard of ${options.shardRows} rows would hold ${(shardBytes / 2 ** 20).toFixed(0)} MiB; ` +
        `use --shard-rows ${Math.max(1, Math.floor(MAX_SHARD_BYTES / (shardBytes / options.shardRows)))} or fewer`,
    );
  }

  let resumedShards = 0;
  let done = 0;
  let failed = 0;
  let audioSeconds = 0;
  const pendingShards: number[] = [];
  for (let s = 0; s < shardCount; s++) {
    const sidecar = finishedShard(out, s);
    if (sidecar) {
      resumedShards++;
      done += Math.min(options.shardRows, units.length - s * options.shardRows);
      failed += sidecar.failures.length;
    } else {
      pendingShards.push(s);
    }
  }
  const report = () => options.onProgress?.({ done, total: units.length, failed, audioSeconds, elapsedSeconds: elapsed() });
  report();

  const pool = new FeaturePool(options.workers);
  const buffers = new SharedBufferPool();
  // Two tasks per worker keep every worker busy; more only queues inside Piscina, which does not run
  // queued tasks in submission order (measured: one thread ran 0, 2, 4, ... 38 before 1, 5, 9, ...), so
  // a shard's early task could wait behind later shards, holding its buffer and delaying its write.
  const maxInFlight = options.workers * 2;
  const inFlight = new Set<Promise<void>>();
  const shardWrites = new Set<Promise<void>>();
  const settled: Promise<unknown>[] = [];
  // The first failure of a task or a shard write stops the dispatch; it is rethrown once all settle.
  let failure: unknown = null;
  const track = <T>(promise: Promise<T>, set: Set<Promise<void>>): Promise<T> => {
    const tracked = promise.then(
      () => undefined,
      (error: unknown) => {
        failure ??= error;
      },
    );
    const done = tracked.finally(() => set.delete(done));
    set.add(done);
    settled.push(done);
    return promise;
  };
  try {
    for (const s of pendingShards) {
      if (failure || options.signal?.aborted) break;
      // At most two finished shards waiting for the disk: their buffers are the memory bound.
      while (shardWrites.size >= 2) await Promise.race(shardWrites);
      const shardUnits = units.slice(s * options.shardRows, (s + 1) * options.shardRows);
      // Workers write rows straight into shared memory: nothing is copied or transferred per clip.
      const sharedFeatures = buffers.take(shardUnits.length * rowSize * 4);
      const sharedAudio = options.keepAudio ? buffers.take(shardUnits.length * audioLength * 4) : null;
      const features = new Float32Array(sharedFeatures);
      const audio = sharedAudio ? new Float32Array(sharedAudio) : null;
      const outcomes: ClipOutcome[] = [];
      const taskDone: Promise<void>[] = [];
      // An abort stops dispatch between tasks; this shard's remaining rows are then never written.
      for (let first = 0; first < shardUnits.length && !failure && !options.signal?.aborted; first += options.clipsPerTask) {
        const batch = shardUnits.slice(first, first + options.clipsPerTask);
        while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
        const task: FeatureTask = {
          config, crop: options.crop, frames: rowFrames, coeffs,
          clips: batch.map((unit) => ({ path: unit.clip.path, plan: unit.plan })),
          features: sharedFeatures, audio: sharedAudio, firstRow: first,
        };
        const running = pool.run(task).then((taskOutcomes) => {
          taskOutcomes.forEach((outcome, i) => {
            outcomes[first + i] = outcome;
            done++;
            if (outcome.ok) audioSeconds += outcome.seconds;
            else failed++;
          });
          report();
        });
        taskDone.push(track(running, inFlight));
      }
      const write = Promise.all(taskDone).then(async () => {
        // A shard cut short by an abort is not written: only whole shards count as finished.
        if (outcomes.filter(Boolean).length < shardUnits.length) return;
        await writeShard(out, s, shardUnits, outcomes, features, audio, { rowSize, rowFrames, coeffs, audioLength });
        buffers.give(sharedFeatures);
        if (sharedAudio) buffers.give(sharedAudio);
      });
      track(write, shardWrites);
    }
    await Promise.all(settled);
  } finally {
    await Promise.allSettled(settled);
    await pool.destroy();
  }
  if (failure) throw failure;
  if (options.signal?.aborted) {
    throw new AbortError(`prepare of ${out} was aborted after ${done} of ${units.length} clips; run it again to resume`);
  }

  const manifest = writeManifest(out, options, scan, shardCount, rowFrames, coeffs);
  const seconds = elapsed();
  return {
    out,
    rows: manifest.items.length,
    units: units.length,
    failed: manifest.failures.length,
    skipped: scan.skipped.length,
    shards: shardCount,
    resumedShards,
    audioSeconds,
    elapsedSeconds: seconds,
    realTimeFactor: seconds > 0 ? audioSeconds / seconds : 0,
    workers: options.workers,
  };
}

interface RowGeometry {
  rowSize: number;
  rowFrames: number;
  coeffs: number;
  audioLength: number;
}

async function writeShard(
  out: string,
  index: number,
  units: WorkUnit[],
  outcomes: ClipOutcome[],
  features: Float32Array,
  audio: Float32Array | null,
  geometry: RowGeometry,
): Promise<void> {
  const items: ManifestItem[] = [];
  const failures: FailedItem[] = [];
  // Compact in place: the rows of failed clips are dropped, order is kept.
  let rows = 0;
  units.forEach((unit, i) => {
    const outcome = outcomes[i];
    if (!outcome.ok) {
      failures.push({ path: unit.clip.id, reason: outcome.reason, copy: unit.copy });
      return;
    }
    if (rows !== i) {
      features.copyWithin(rows * geometry.rowSize, i * geometry.rowSize, (i + 1) * geometry.rowSize);
      audio?.copyWithin(rows * geometry.audioLength, i * geometry.audioLength, (i + 1) * geometry.audioLength);
    }
    const { clip } = unit;
    items.push({
      id: clip.id, path: clip.id, corpus: clip.corpus, speaker: clip.speaker, gender: clip.gender,
      emotion: clip.emotion, intensity: clip.intensity, augmented: unit.copy > 0,
      augmentation: unit.plan ? { ...unit.plan, copy: unit.copy } : null,
      shard: index, row: rows, frames: geometry.rowFrames, seconds: outcome.seconds,
    });
    rows++;
  });
  const sidecar: ShardSidecar = {
    index,
    file: shardFile(index),
    rows,
    sha256: await writeShardArrayAsync(path.join(out, shardFile(index)), features.subarray(0, rows * geometry.rowSize), [rows, geometry.rowFrames, geometry.coeffs]),
    items,
    failures,
  };
  if (audio) {
    sidecar.audioFile = audioShardFile(index);
    sidecar.audioSha256 = await writeShardArrayAsync(path.join(out, sidecar.audioFile), audio.subarray(0, rows * geometry.audioLength), [rows, geometry.audioLength]);
  }
  // The sidecar last: its presence (with matching hashes) is what marks the shard finished.
  await writeJsonAtomicAsync(path.join(out, sidecarFile(index)), sidecar);
}

function writeManifest(
  out: string,
  options: PrepareJob,
  scan: ScanResult,
  shardCount: number,
  frames: number,
  coeffs: number,
): Manifest {
  const manifest: Manifest = {
    version: CACHE_VERSION,
    createdBy: CREATED_BY,
    featureConfig: options.features,
    augmentConfig: options.augment && options.copies > 0 ? { spec: options.augment, copies: options.copies, seed: options.seed } : null,
    crop: options.crop,
    corpusRoot: scan.root,
    corpus: options.manifest ? 'manifest' : options.corpus,
    ...(scan.labels ? { labels: scan.labels } : {}),
    slice: options.slice,
    frames,
    coeffs,
    items: [],
    shards: [],
    failures: [],
    skipped: scan.skipped,
  };
  for (let s = 0; s < shardCount; s++) {
    const sidecar = readJson<ShardSidecar>(path.join(out, sidecarFile(s)));
    const { items, failures, ...info } = sidecar;
    manifest.items.push(...items);
    manifest.failures.push(...failures);
    manifest.shards.push(info);
  }
  writeJsonAtomic(path.join(out, MANIFEST_FILE), manifest);
  return manifest;
}
