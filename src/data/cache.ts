// The feature cache on disk (DESIGN section 6): NPY shards written atomically, a sidecar per shard with
// its rows' labels, and manifest.json written last from the sidecars.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import type { AugmentPlan, AugmentSpec } from '../augment/spec';
import { InputFileError } from '../errors';
import type { CropSpec, FeatureConfig } from '../features/config';
import { writeFileAtomic, writeFileAtomicAsync } from '../io/atomic';
import type { CorpusChoice, Gender, Intensity } from './corpora';
import { EMOTIONS } from './labels';
import { asBytes, npyHeader } from '../io/npy';
import type { SkippedFile } from './scan';

export const CACHE_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const STATE_FILE = 'prepare-state.json';

export interface AugmentConfig {
  spec: AugmentSpec;
  copies: number;
  seed: number;
}

export interface ManifestItem {
  /** The source clip's id (path relative to the corpus root); augmented copies keep it. */
  id: string;
  path: string;
  /** A corpus convention's name, or a clip list's corpus. */
  corpus: string;
  speaker: string;
  gender: Gender | null;
  /** The label (one of the eight emotions, or a clip list's own). */
  emotion: string;
  intensity: Intensity | null;
  augmented: boolean;
  /** The drawn plan and which copy (1..copies) this row is; null for the original. */
  augmentation: (AugmentPlan & { copy: number }) | null;
  shard: number;
  row: number;
  frames: number;
  /** Duration of the source file. */
  seconds: number;
}

export interface FailedItem {
  path: string;
  reason: string;
  copy: number;
}

export interface ShardInfo {
  index: number;
  file: string;
  rows: number;
  sha256: string;
  audioFile?: string;
  audioSha256?: string;
}

export interface ShardSidecar extends ShardInfo {
  items: ManifestItem[];
  failures: FailedItem[];
}

export interface SliceSpec {
  index: number;
  count: number;
}

export interface Manifest {
  version: number;
  createdBy: string;
  featureConfig: FeatureConfig;
  augmentConfig: AugmentConfig | null;
  crop: CropSpec;
  corpusRoot: string;
  /** The naming convention read, or 'manifest' for a clip list. */
  corpus: CorpusChoice | 'manifest';
  /** A clip list's labels in the model's output order; absent: the eight emotions. */
  labels?: string[];
  slice: SliceSpec | null;
  frames: number;
  coeffs: number;
  items: ManifestItem[];
  shards: ShardInfo[];
  failures: FailedItem[];
  skipped: SkippedFile[];
}

export const shardFile = (index: number) => `features-${String(index).padStart(5, '0')}.npy`;
export const audioShardFile = (index: number) => `audio-${String(index).padStart(5, '0')}.npy`;
export const sidecarFile = (index: number) => `features-${String(index).padStart(5, '0')}.json`;

export function sha256(chunks: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

export function sha256File(file: string): string {
  return sha256([fs.readFileSync(file)]);
}

/**
 * Writes an NPY [rows, ...rowShape] atomically without blocking the event loop for long: the sha256 is
 * computed in 1 MiB slices with a yield between them, the write and fsync run off the main thread.
 */
export async function writeShardArrayAsync(file: string, data: Float32Array, shape: number[]): Promise<string> {
  const header = npyHeader(shape);
  const hash = createHash('sha256').update(header);
  const bytes = asBytes(data);
  const slice = 1 << 20;
  for (let offset = 0; offset < bytes.length; offset += slice) {
    hash.update(bytes.subarray(offset, offset + slice));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await writeFileAtomicAsync(file, [header, data]);
  return hash.digest('hex');
}

export async function writeJsonAtomicAsync(file: string, value: unknown): Promise<void> {
  await writeFileAtomicAsync(file, [Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8')]);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8'));
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** A shard counts as finished when its sidecar exists and the files it names hash as recorded. */
export function finishedShard(dir: string, index: number): ShardSidecar | null {
  const sidecarPath = path.join(dir, sidecarFile(index));
  if (!fs.existsSync(sidecarPath)) return null;
  const sidecar = readJson<ShardSidecar>(sidecarPath);
  const features = path.join(dir, sidecar.file);
  if (!fs.existsSync(features) || sha256File(features) !== sidecar.sha256) return null;
  if (sidecar.audioFile) {
    const audio = path.join(dir, sidecar.audioFile);
    if (!fs.existsSync(audio) || sha256File(audio) !== sidecar.audioSha256) return null;
  }
  return sidecar;
}

export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) throw new InputFileError(dir, `no ${MANIFEST_FILE} (not a finished ser prepare cache)`);
  const manifest = readJson<Manifest>(file);
  if (manifest.version !== CACHE_VERSION) throw new InputFileError(file, `cache version ${manifest.version}, this ser reads ${CACHE_VERSION}`);
  return manifest;
}

/** A cache's labels in the model's output order: a clip list's own, or the eight emotions. */
export function manifestLabels(manifest: Pick<Manifest, 'labels'>): string[] {
  return manifest.labels ? [...manifest.labels] : [...EMOTIONS];
}
