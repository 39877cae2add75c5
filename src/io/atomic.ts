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

/**
 * The same, without blocking the event loop: write and fsync run on libuv's thread pool, so a process
 * that keeps worker threads fed can write large files while it dispatches.
 */
export async function writeFileAtomicAsync(file: string, chunks: readonly ArrayBufferView[]): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await fs.promises.open(tmp, 'w');
  try {
    for (const part of chunks) {
      const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
      let written = 0;
      while (written < bytes.length) written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.promises.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.promises.rename(tmp, file);
  } catch (error) {
    // The new file stays whole or is not there: its temporary copy goes (a folder named like the file
    // refuses the rename, for one).
    await fs.promises.rm(tmp, { force: true });
    throw error;
  }
  await syncDirectoryAsync(path.dirname(file));
}

async function syncDirectoryAsync(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // As syncDirectory: the rename itself is still atomic.
  } finally {
    await handle?.close();
  }
}
