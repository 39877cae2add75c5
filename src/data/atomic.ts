// Atomic file writes: a reader sees the old file or the whole new one, never half of it.
import * as fs from 'fs';
import * as path from 'path';

/** Writes to `<file>.<pid>.tmp`, fsyncs, renames over `file`, then fsyncs the folder. */
export function writeFileAtomic(file: string, chunks: ArrayBufferView | readonly ArrayBufferView[]): void {
  const parts = Array.isArray(chunks) ? chunks : [chunks as ArrayBufferView];
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const part of parts) {
      const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
      let written = 0;
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
    }
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  syncDirectory(path.dirname(file));
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
