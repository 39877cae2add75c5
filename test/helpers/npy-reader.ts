// A tiny NPY reader written for the tests, independent of src/data/npy.ts.
import * as fs from 'fs';

export interface Loaded {
  shape: number[];
  data: Float32Array;
}

export function loadNpy(file: string): Loaded {
  const bytes = fs.readFileSync(file);
  if (bytes[0] !== 0x93 || bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not NPY`);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.toString('latin1', 10, 10 + headerLength);
  if (!header.includes("'descr': '<f4'")) throw new Error(`${file}: not <f4`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number);
  const start = 10 + headerLength;
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
  return { shape, data };
}
