// Features of a WAV file or of standard input, of any length, in bounded memory: the file is read in
// blocks of 1 MiB; one that ends inside its first block (a clip) and whose matrix the caller wants goes
// through the whole-file path (the same rows), anything else into the native FeatureStream, whose rows
// before the top_db floor go to a temporary file (or stay in memory when the caller wants the matrix
// back) before a second pass floors them into the output.
// Runs on whatever thread calls it (the library runs it in its worker pool).
import * as fs from 'fs';

import { asBytes, npyHeader } from '../io/npy';
import { native } from '../native';
import type { FeatureConfig } from './config';

/** Bytes read per block: large enough that per-call costs vanish, small enough to bound memory. */
export const BLOCK_BYTES = 1 << 20;
/** Unfloored rows kept in memory before they spill to a temporary file (output to a file only). */
const IN_MEMORY_BYTES = 8 << 20;
/** Rows floored per block in the second pass. */
const FINISH_ROWS = 4096;

export interface StreamedFeatures {
  frames: number;
  coeffs: number;
  sourceSampleRate: number;
  seconds: number;
  /** The matrix, when no output file was given. */
  data?: Float32Array;
}

/** This thread's read buffer, reused call after call: a fresh 1 MiB a clip was fresh pages to fault in
 * for every clip (streamFeatures runs to its end before the next call can start). */
let readBuffer: Buffer | null = null;
let pause: Int32Array | null = null;

/** A block of the input, and whether the input ended inside it (read to its end). */
interface Block {
  bytes: Uint8Array;
  ended: boolean;
}

/**
 * Reads fd to its end in blocks, each filled up to the buffer's size unless the input ends first; a
 * non-blocking pipe's EAGAIN is waited out.
 */
function* blocks(fd: number): Generator<Block> {
  readBuffer ??= Buffer.allocUnsafe(BLOCK_BYTES);
  pause ??= new Int32Array(new SharedArrayBuffer(4));
  const buffer = readBuffer;
  const waitOn = pause;
  for (;;) {
    let filled = 0;
    let ended = false;
    while (filled < buffer.length) {
      let read: number;
      try {
        read = fs.readSync(fd, buffer, filled, buffer.length - filled, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
          Atomics.wait(waitOn, 0, 0, 5);
          continue;
        }
        if ((error as NodeJS.ErrnoException).code !== 'EOF') throw error;
        read = 0;
      }
      if (read === 0) {
        ended = true;
        break;
      }
      filled += read;
    }
    if (filled > 0) yield { bytes: buffer.subarray(0, filled), ended };
    if (ended) return;
  }
}

/**
 * What a failed system call says, without the paths Node appends to it ("EACCES: permission denied, open
 * '/out/x.npy.4242.tmp'"): those name the temporary files beside the output, which the user never asked for.
 */
function systemCallReason(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const { code, syscall } = cause as NodeJS.ErrnoException;
  const pathsAt = typeof code === 'string' && typeof syscall === 'string' ? cause.message.indexOf(`, ${syscall} '`) : -1;
  return pathsAt > 0 ? cause.message.slice(0, pathsAt) : cause.message;
}

/** A failure to write the output (or its temporary files beside it): the output is at fault, not the input. */
export class OutputWriteError extends Error {
  override name = 'OutputWriteError';
  readonly reason: string;
  constructor(readonly file: string, cause: unknown) {
    const reason = `cannot write: ${systemCallReason(cause)}`;
    super(`${file}: ${reason}`);
    this.reason = reason;
  }
}

function writingOutput<T>(output: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw error instanceof OutputWriteError ? error : new OutputWriteError(output, error);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length; ) offset += fs.writeSync(fd, bytes, offset, bytes.length - offset);
}

/**
 * Streams `input` (a path, or null for standard input) through the features. With `output`, writes a
 * float32 NPY [frames, coeffs] there (temporary file, then rename) and returns no matrix.
 */
export function streamFeatures(input: string | null, config: FeatureConfig, output: string | null): StreamedFeatures {
  // The config is checked (and refused by name) before the input is opened.
  const stream = new native.FeatureStream(config);
  let inputFd: number;
  try {
    inputFd = input === null ? 0 : fs.openSync(input, 'r');
  } catch (error) {
    stream.release();
    throw error;
  }
  const unflooredFile = output === null ? null : `${output}.${process.pid}.unfloored.tmp`;
  const tmpOutput = output === null ? null : `${output}.${process.pid}.tmp`;
  // Unfloored rows stay in memory up to a budget; a longer recording written to a file spills them
  // to a temporary file, so its memory does not grow with its length.
  const kept: Float32Array[] = [];
  let keptBytes = 0;
  // Set once the rows spill (a holder object: the closure below assigns it).
  const spill: { fd: number | null } = { fd: null };
  try {
    // An output that cannot be written fails now, not after a long recording has been read through.
    if (output !== null && tmpOutput !== null) writingOutput(output, () => fs.closeSync(fs.openSync(tmpOutput, 'w')));
    if (output === null) {
      // The matrix comes back whole: the rows stay in the stream and come out floored as one array
      // (taking them block by block cost three arrays a clip, each fresh memory until V8 collects).
      let first = true;
      for (const { bytes, ended } of blocks(inputFd)) {
        // A file that fits in one block (a clip) goes through the whole-file path: the same rows (the
        // stream equals it bit for bit), without the stream's copies of the bytes and samples.
        if (first && ended) return native.wavToFeatures(bytes, config);
        first = false;
        stream.push(bytes, true);
      }
      stream.finish(true);
      const info = stream.info();
      const sourceSampleRate = info.sampleRate ?? 0;
      return { frames: info.frames, coeffs: info.coeffs, sourceSampleRate, seconds: info.sourceFrames / sourceSampleRate, data: stream.keptFeatures() };
    }
    const take = (rows: Float32Array) => {
      if (rows.length === 0) return;
      if (spill.fd === null && unflooredFile !== null && keptBytes + rows.byteLength > IN_MEMORY_BYTES) {
        const fd = writingOutput(output, () => fs.openSync(unflooredFile, 'w+'));
        spill.fd = fd;
        for (const earlier of kept.splice(0)) writingOutput(output, () => writeAll(fd, asBytes(earlier)));
      }
      if (spill.fd === null) {
        kept.push(rows);
        keptBytes += rows.byteLength;
      } else {
        const fd = spill.fd;
        writingOutput(output, () => writeAll(fd, asBytes(rows)));
      }
    };
    for (const { bytes } of blocks(inputFd)) take(stream.push(bytes));
    take(stream.finish());
    const info = stream.info();
    const { frames, coeffs, unflooredWidth } = info;
    const sourceSampleRate = info.sampleRate ?? 0;
    const seconds = info.sourceFrames / sourceSampleRate;
    const spilled = spill.fd;
    let unfloored: Float32Array | null = null;
    if (spilled === null) {
      unfloored = new Float32Array(frames * unflooredWidth);
      let offset = 0;
      for (const rows of kept.splice(0)) {
        unfloored.set(rows, offset);
        offset += rows.length;
      }
    }
    if (tmpOutput === null) throw new Error('streamFeatures: no temporary output path');
    // The output's own failures (its temporary files, the NPY, the rename) name the output; the
    // floor and the DCT between the reads and the writes are not the output's.
    const outFd = writingOutput(output, () => fs.openSync(tmpOutput, 'w'));
    try {
      writingOutput(output, () => writeAll(outFd, npyHeader([frames, coeffs])));
      const block = new Float32Array(FINISH_ROWS * unflooredWidth);
      for (let row = 0; row < frames; row += FINISH_ROWS) {
        const rows = Math.min(FINISH_ROWS, frames - row);
        let view: Float32Array;
        if (unfloored) {
          view = unfloored.subarray(row * unflooredWidth, (row + rows) * unflooredWidth);
        } else {
          view = block.subarray(0, rows * unflooredWidth);
          const bytes = asBytes(view);
          for (let got = 0; got < bytes.length; ) {
            const n = writingOutput(output, () => fs.readSync(spilled as number, bytes, got, bytes.length - got, row * unflooredWidth * 4 + got));
            if (n === 0) throw new Error(`${unflooredFile}: shorter than the rows written to it`);
            got += n;
          }
        }
        const finished = stream.finishRows(view);
        writingOutput(output, () => writeAll(outFd, asBytes(finished)));
      }
      writingOutput(output, () => fs.fsyncSync(outFd));
    } finally {
      fs.closeSync(outFd);
    }
    writingOutput(output, () => fs.renameSync(tmpOutput, output));
    return { frames, coeffs, sourceSampleRate, seconds };
  } finally {
    stream.release();
    if (input !== null) fs.closeSync(inputFd);
    if (spill.fd !== null) fs.closeSync(spill.fd);
    if (unflooredFile) fs.rmSync(unflooredFile, { force: true });
    if (tmpOutput) fs.rmSync(tmpOutput, { force: true });
  }
}
