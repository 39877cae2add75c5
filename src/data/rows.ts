// Rows of a cache's NPY shards read where they lie: each shard's header is parsed once, then rows are
// read by position (coalesced into runs of consecutive rows), so reading a row costs the same whatever
// the cache's size or shard count, and nothing but the asked-for rows is ever held.
import * as fs from 'fs';
import * as path from 'path';

import { InputFileError } from '../errors';
import type { Manifest } from './cache';

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
// NPY v1 headers are padded to 64 bytes and ours stay well under a few hundred; v2 allows 4 GiB but
// nobody writes a shape that long.
const HEADER_PROBE_BYTES = 4096;

/** Where a shard's float32 data begins, after checking its header against the manifest's shape. */
function dataOffset(file: string, fd: number, rows: number, rowSize: number): number {
  const probe = Buffer.alloc(HEADER_PROBE_BYTES);
  const got = fs.readSync(fd, probe, 0, probe.length, 0);
  if (got < 10 || !probe.subarray(0, 6).equals(NPY_MAGIC)) throw new InputFileError(file, 'not an NPY file');
  const major = probe[6];
  const headerStart = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? probe.readUInt16LE(8) : probe.readUInt32LE(8);
  if (headerStart + headerLength > got) throw new InputFileError(file, `NPY header of ${headerLength} bytes is longer than this reader reads`);
  const header = probe.toString('latin1', headerStart, headerStart + headerLength);
  if (!/'descr':\s*'<f4'/.test(header)) throw new InputFileError(file, 'only little-endian float32 NPY is read');
  if (/'fortran_order':\s*True/.test(header)) throw new InputFileError(file, 'Fortran-order NPY is not read');
  const shapeMatch = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) throw new InputFileError(file, 'NPY header has no shape');
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  if (shape[0] !== rows || size !== rowSize) {
    throw new InputFileError(file, `shape [${shape.join(', ')}] does not match the manifest (${rows} rows of ${rowSize} values)`);
  }
  const offset = headerStart + headerLength;
  const length = fs.fstatSync(fd).size;
  if (length < offset + rows * rowSize * 4) throw new InputFileError(file, `truncated: ${length} bytes, the manifest's ${rows} rows need ${offset + rows * rowSize * 4}`);
  return offset;
}

/** Which rows of one kind (features, or kept audio) a cache's shards hold, and their files. */
export interface ShardLayout {
  dir: string;
  /** Per shard: file name (relative to dir) and row count. */
  shards: readonly { file: string; rows: number }[];
  /** Values per row. */
  rowSize: number;
}

export function featureLayout(dir: string, manifest: Manifest): ShardLayout {
  return { dir, shards: manifest.shards.map((s) => ({ file: s.file, rows: s.rows })), rowSize: manifest.frames * manifest.coeffs };
}

/** A cache item's place: its shard and row within the shard. */
export interface RowPlace {
  shard: number;
  row: number;
}

/**
 * Reads rows of a shard layout by position. Shards are opened as they are first needed and stay open
 * until close(); their headers are checked once.
 */
export class ShardRows {
  readonly rowSize: number;
  readonly rowBytes: number;
  private readonly open = new Map<number, { fd: number; offset: number }>();

  constructor(private readonly layout: ShardLayout) {
    this.rowSize = layout.rowSize;
    this.rowBytes = layout.rowSize * 4;
  }

  private shard(index: number): { fd: number; offset: number } {
    let entry = this.open.get(index);
    if (entry) return entry;
    const info = this.layout.shards[index];
    if (!info) throw new Error(`${this.layout.dir}: no shard ${index}`);
    const file = path.join(this.layout.dir, info.file);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (error) {
      throw new InputFileError(file, `cannot open the shard (${(error as Error).message})`);
    }
    try {
      entry = { fd, offset: dataOffset(file, fd, info.rows, this.rowSize) };
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    this.open.set(index, entry);
    return entry;
  }

  /** Reads `count` consecutive rows starting at `row` of `shard` into `into` at value offset `at`. */
  readRun(shard: number, row: number, count: number, into: Float32Array, at: number): void {
    const info = this.layout.shards[shard];
    if (row < 0 || count < 0 || row + count > info.rows) throw new Error(`${this.layout.dir}: rows ${row}..${row + count} outside shard ${shard} of ${info.rows} rows`);
    if (at < 0 || at + count * this.rowSize > into.length) throw new Error(`reading ${count} rows would overrun the destination`);
    const { fd, offset } = this.shard(shard);
    const bytes = new Uint8Array(into.buffer, into.byteOffset + at * 4, count * this.rowBytes);
    let done = 0;
    while (done < bytes.length) {
      const got = fs.readSync(fd, bytes, done, bytes.length - done, offset + row * this.rowBytes + done);
      if (got === 0) throw new InputFileError(path.join(this.layout.dir, info.file), 'ended before the rows the manifest names');
      done += got;
    }
  }

  /**
   * readRun for memory that stays resident and is read many times (a run's training rows): the rows go
   * through `staging`, a buffer this thread has already touched, and are copied into `into` from user
   * code. On these virtual machines the first user-mode read of a page that the kernel filled (pread)
   * costs about 3.6 us, taken again inside the first epoch's gathers (a batch of 32 rows took 1.4 ms
   * instead of 0.1 ms until every page had been read once); the copy takes the page's first touch in
   * user mode, at the same load time.
   */
  readRunStaged(shard: number, row: number, count: number, into: Float32Array, at: number, staging: Float32Array): void {
    const stagingRows = Math.floor(staging.length / this.rowSize);
    if (stagingRows < 1) throw new Error(`the staging buffer holds no whole row (${staging.length} values, rows of ${this.rowSize})`);
    const info = this.layout.shards[shard];
    if (row < 0 || count < 0 || row + count > info.rows) throw new Error(`${this.layout.dir}: rows ${row}..${row + count} outside shard ${shard} of ${info.rows} rows`);
    if (at < 0 || at + count * this.rowSize > into.length) throw new Error(`reading ${count} rows would overrun the destination`);
    for (let done = 0; done < count; done += stagingRows) {
      const rows = Math.min(stagingRows, count - done);
      this.readRun(shard, row + done, rows, staging, 0);
      into.set(staging.subarray(0, rows * this.rowSize), at + done * this.rowSize);
    }
  }

  /**
   * Reads the rows at `places` into `into` (row k of `places` at row k of `into`), shard by shard and
   * in row order within each, consecutive rows in one read.
   */
  readPlaces(places: readonly RowPlace[], into: Float32Array): void {
    const order = places.map((_, k) => k).sort((a, b) => places[a].shard - places[b].shard || places[a].row - places[b].row);
    let k = 0;
    while (k < order.length) {
      // A run: consecutive rows of one shard that also sit consecutively in `into`.
      let end = k + 1;
      const first = places[order[k]];
      while (end < order.length && places[order[end]].shard === first.shard && places[order[end]].row === first.row + (end - k) && order[end] === order[k] + (end - k)) end++;
      this.readRun(first.shard, first.row, end - k, into, order[k] * this.rowSize);
      k = end;
    }
  }

  close(): void {
    for (const { fd } of this.open.values()) fs.closeSync(fd);
    this.open.clear();
  }
}

/** Item indices sorted by where they lie (shard, then row): the order that reads each shard once. */
export function shardOrder(places: readonly RowPlace[], items: readonly number[]): number[] {
  return [...items].sort((a, b) => places[a].shard - places[b].shard || places[a].row - places[b].row || a - b);
}
