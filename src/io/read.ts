// Whole files read into one buffer per thread, reused from file to file. A fresh Buffer for every clip
// is external memory that drives V8's collector: in a process with a large heap (the bench's, a
// server's) reading 200 WAVs of 288 KB with fs.readFileSync took longer than their decoding, resampling
// and MFCC (a clip loop at 1,400-1,900x real time against 5,300x with this reader, one core).
import * as fs from 'fs';

/** Files above this get a buffer of their own, so the kept one stays small. */
const KEPT_BYTES = 16 << 20;

let kept = Buffer.alloc(0);

/**
 * The bytes of `file` (a path or a file descriptor) as a view of this thread's buffer: valid until the
 * next call on this thread, so copy what must outlive it.
 */
export function readFileReusing(file: string | number): Buffer {
  const fd = typeof file === 'number' ? file : fs.openSync(file, 'r');
  try {
    const stat = fs.fstatSync(fd);
    // A pipe or a device has no size to read up to.
    if (!stat.isFile()) return fs.readFileSync(fd);
    const size = stat.size;
    let target = kept;
    if (size > kept.length) {
      target = Buffer.allocUnsafe(size);
      if (size <= KEPT_BYTES) kept = target;
    }
    let at = 0;
    while (at < size) {
      const read = fs.readSync(fd, target, at, size - at, at);
      if (read === 0) break;
      at += read;
    }
    return target.subarray(0, at);
  } finally {
    if (typeof file !== 'number') fs.closeSync(fd);
  }
}
