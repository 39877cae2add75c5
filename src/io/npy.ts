// NPY v1.0, little-endian float32, C order: the format numpy.load reads without options.
import * as fs from 'fs';

import { writeFileAtomic } from './atomic';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** The bytes of a Float32Array (a view, no copy). */
export function asBytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** The header block (magic, version, length, dict) padded so the data starts on a 64-byte boundary. */
export function npyHeader(shape: readonly number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (dict.length > 0xffff) throw new Error('NPY header too long for format v1.0');
  const header = Buffer.alloc(MAGIC.length + 4 + dict.length);
  MAGIC.copy(header, 0);
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(dict.length, 8);
  header.write(dict, 10, 'latin1');
  return header;
}

function checkShape(shape: readonly number[], length: number): void {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== length) {
    throw new Error(`NPY shape (${shape.join(', ')}) does not match ${length} values`);
  }
}

/** Encodes `data` with `shape` as NPY bytes (header + little-endian float32). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  checkShape(shape, data.length);
  return Buffer.concat([npyHeader(shape), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Writes atomically (tmp + fsync + rename). */
export function writeNpy(file: string, data: Float32Array, shape: readonly number[]): void {
  checkShape(shape, data.length);
  writeFileAtomic(file, [npyHeader(shape), data]);
}

export function parseNpy(bytes: Uint8Array, source = 'NPY data'): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error(`${source}: not an NPY file`);
  const major = buf[6];
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', headerStart, headerStart + headerLength);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${source}: only little-endian float32 is read`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${source}: Fortran order is not read`);
  const shapeMatch = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) throw new Error(`${source}: NPY header has no shape`);
  const shape = shapeMatch[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const dataStart = headerStart + headerLength;
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length - dataStart < count * 4) throw new Error(`${source}: NPY data is truncated`);
  // Copy into an aligned buffer: the data offset need not be a multiple of 4 in the caller's buffer.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(buf.subarray(dataStart, dataStart + count * 4));
  return { shape, data };
}

export function readNpy(file: string): NpyArray {
  return parseNpy(fs.readFileSync(file), file);
}
