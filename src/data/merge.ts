// `ser merge`: joins caches made by `ser prepare --shard K/N` into one. Shard files are copied (and
// renumbered) so the merged cache stands on its own; each copy is checked against its recorded sha256.
import * as fs from 'fs';
import * as path from 'path';

import { CacheConflictError, OptionsError } from '../errors';
import { CREATED_BY } from '../version';
import {
  CACHE_VERSION, MANIFEST_FILE, STATE_FILE, audioShardFile, readManifest, sha256File, shardFile, writeJsonAtomic, type Manifest,
} from './cache';

/** What a merge wrote. */
export interface MergeSummary {
  out: string;
  inputs: number;
  rows: number;
  shards: number;
  failures: number;
}

const SAME_IN_EVERY_INPUT = ['featureConfig', 'augmentConfig', 'crop', 'frames', 'coeffs', 'corpus', 'labels'] as const;

/** Copies `source` to `target` through a temporary file with fsync, after checking its sha256. */
function copyVerified(source: string, expectedSha: string, target: string): void {
  if (sha256File(source) !== expectedSha) throw new Error(`${source}: sha256 does not match its manifest (corrupt or changed shard)`);
  const tmp = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(source, tmp);
  const fd = fs.openSync(tmp, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
}

const realpath = (dir: string) => (fs.existsSync(dir) ? fs.realpathSync(dir) : path.resolve(dir));

/**
 * Everything that can make a merge fail is checked before the output folder is touched: the same
 * configuration, slices of one count each present once (or no slices), audio in all or none, no row twice.
 */
function validateInputs(inputs: readonly string[], manifests: readonly Manifest[]): void {
  const first = manifests[0];
  manifests.forEach((m, i) => {
    for (const key of SAME_IN_EVERY_INPUT) {
      if (JSON.stringify(m[key]) !== JSON.stringify(first[key])) {
        throw new CacheConflictError(`${inputs[i]} was made with a different ${key} than ${inputs[0]}; caches must share their configuration`);
      }
    }
  });
  const sliced = manifests.filter((m) => m.slice !== null);
  if (sliced.length > 0) {
    const count = sliced[0].slice?.count ?? 0;
    const indices = manifests.map((m, i) => {
      if (!m.slice || m.slice.count !== count) throw new CacheConflictError(`${inputs[i]} is not one of ${count} slices like ${inputs[manifests.indexOf(sliced[0])]}`);
      return m.slice.index;
    });
    const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !indices.includes(k));
    const repeated = indices.filter((k, i) => indices.indexOf(k) !== i);
    if (missing.length > 0 || repeated.length > 0) {
      throw new CacheConflictError(`slices of ${count} must each be given once: missing ${missing.join(', ') || 'none'}, repeated ${repeated.join(', ') || 'none'}`);
    }
  }
  const withAudio = manifests.flatMap((m) => m.shards).filter((s) => s.audioFile).length;
  const shards = manifests.flatMap((m) => m.shards).length;
  if (withAudio !== 0 && withAudio !== shards) throw new CacheConflictError('some inputs kept audio (--keep-audio) and some did not');
  const seen = new Map<string, string>();
  manifests.forEach((m, i) => {
    for (const item of m.items) {
      const key = `${item.id}#${item.augmentation?.copy ?? 0}`;
      const other = seen.get(key);
      if (other !== undefined) throw new CacheConflictError(`${item.id} (copy ${item.augmentation?.copy ?? 0}) is in both ${other} and ${inputs[i]}`);
      seen.set(key, inputs[i]);
    }
  });
}

export function mergeCaches(inputs: readonly string[], out: string, overwrite = false): MergeSummary {
  if (inputs.length === 0) throw new OptionsError('merge needs at least one cache');
  const manifests = inputs.map((dir) => readManifest(dir));
  validateInputs(inputs, manifests);
  const target = realpath(out);
  if (inputs.some((dir) => realpath(dir) === target)) throw new Error('the output folder must not be one of the inputs');
  fs.mkdirSync(target, { recursive: true });
  if (fs.existsSync(path.join(target, MANIFEST_FILE))) {
    if (!overwrite) throw new Error(`${out} already holds a cache; use --overwrite to replace it`);
    // The old manifest goes first: a failure from here on leaves no manifest that disagrees with its shards.
    fs.rmSync(path.join(target, MANIFEST_FILE));
  }
  for (const name of fs.readdirSync(target)) {
    if (/^(features|audio)-\d{5}\.(npy|json)$/.test(name) || name === STATE_FILE || name.endsWith('.tmp')) {
      fs.rmSync(path.join(target, name), { force: true });
    }
  }

  const first = manifests[0];
  const merged: Manifest = { ...first, version: CACHE_VERSION, createdBy: CREATED_BY, slice: null, items: [], shards: [], failures: [], skipped: [] };
  const seenSkipped = new Set<string>();
  manifests.forEach((manifest, i) => {
    const dir = inputs[i];
    const newIndex = new Map<number, number>();
    for (const shard of manifest.shards) {
      const index = merged.shards.length;
      newIndex.set(shard.index, index);
      const info = { ...shard, index, file: shardFile(index) };
      copyVerified(path.join(dir, shard.file), shard.sha256, path.join(target, info.file));
      if (shard.audioFile && shard.audioSha256) {
        info.audioFile = audioShardFile(index);
        copyVerified(path.join(dir, shard.audioFile), shard.audioSha256, path.join(target, info.audioFile));
      }
      merged.shards.push(info);
    }
    for (const item of manifest.items) merged.items.push({ ...item, shard: newIndex.get(item.shard) as number });
    merged.failures.push(...manifest.failures);
    // Every slice scans the whole dataset, so each lists the same skipped files.
    for (const skipped of manifest.skipped) {
      if (!seenSkipped.has(skipped.path)) {
        seenSkipped.add(skipped.path);
        merged.skipped.push(skipped);
      }
    }
  });
  writeJsonAtomic(path.join(target, MANIFEST_FILE), merged);
  return { out: target, inputs: inputs.length, rows: merged.items.length, shards: merged.shards.length, failures: merged.failures.length };
}

/** merge() options. */
export interface MergeOptions {
  /** The merged cache folder. */
  output: string;
  /** Replace an existing cache in the output folder. */
  overwrite?: boolean;
}

/** Joins caches made as slices (prepare with shard K/N) into one cache; shard files are copied and checked. */
export async function merge(caches: readonly string[], options: MergeOptions): Promise<MergeSummary> {
  return mergeCaches(caches, options.output, Boolean(options.overwrite));
}
