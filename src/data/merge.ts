// `ser merge`: joins caches made by `ser prepare --shard K/N` into one. Shard files are copied (and
// renumbered) so the merged cache stands on its own; each copy is checked against its recorded sha256.
import * as fs from 'fs';
import * as path from 'path';

import { CREATED_BY } from '../version';
import {
  CACHE_VERSION, MANIFEST_FILE, audioShardFile, readManifest, sha256File, shardFile, writeJsonAtomic, type Manifest,
} from './cache';

export interface MergeSummary {
  out: string;
  inputs: number;
  rows: number;
  shards: number;
  failures: number;
}

const SAME_IN_EVERY_INPUT = ['featureConfig', 'augmentConfig', 'crop', 'frames', 'coeffs', 'corpus'] as const;

function copyVerified(source: string, expectedSha: string, target: string): void {
  if (sha256File(source) !== expectedSha) throw new Error(`${source}: sha256 does not match its manifest (corrupt or changed shard)`);
  const tmp = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(source, tmp);
  fs.renameSync(tmp, target);
}

export function mergeCaches(inputs: readonly string[], out: string, overwrite = false): MergeSummary {
  if (inputs.length === 0) throw new Error('merge needs at least one cache');
  const manifests = inputs.map((dir) => readManifest(dir));
  const first = manifests[0];
  manifests.forEach((m, i) => {
    for (const key of SAME_IN_EVERY_INPUT) {
      if (JSON.stringify(m[key]) !== JSON.stringify(first[key])) {
        throw new Error(`${inputs[i]} was made with a different ${key} than ${inputs[0]}; caches must share their configuration`);
      }
    }
  });
  const target = path.resolve(out);
  if (inputs.some((dir) => path.resolve(dir) === target)) throw new Error('the output folder must not be one of the inputs');
  fs.mkdirSync(target, { recursive: true });
  if (fs.existsSync(path.join(target, MANIFEST_FILE)) && !overwrite) {
    throw new Error(`${out} already holds a cache; use --overwrite to replace it`);
  }

  const merged: Manifest = {
    ...first,
    version: CACHE_VERSION,
    createdBy: CREATED_BY,
    slice: null,
    items: [],
    shards: [],
    failures: [],
    skipped: [],
  };
  const seenRows = new Map<string, string>();
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
    for (const item of manifest.items) {
      const key = `${item.id}#${item.augmentation?.copy ?? 0}`;
      const other = seenRows.get(key);
      if (other !== undefined) throw new Error(`${item.id} (copy ${item.augmentation?.copy ?? 0}) is in both ${other} and ${dir}`);
      seenRows.set(key, dir);
      merged.items.push({ ...item, shard: newIndex.get(item.shard) as number });
    }
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
