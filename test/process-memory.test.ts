// The addon's process-wide allocator settings (native/binding_memory.cc): on glibc where the kernel
// gives transparent huge pages on request, the main heap's growth is marked for them (the `hg` flag of
// /proc/<pid>/smaps) as results are allocated, so a fresh process's results fault in 2 MiB at a time;
// SER_MALLOC_DEFAULTS=1 or the user's own glibc settings leave the heap as glibc made it. What is
// checked is what the addon asks for: native.heapAdvice() says how far the heap grew since the module
// loaded and how much of that growth the kernel took the advice for or refused, and where it took it
// the flag must show. Whether the kernel then finds free huge pages depends on the machine, so the
// faults are not checked. (On one CI host, at 405d3e5, no [heap] mapping carried the flag; the test
// now logs the record.) And a process scoring clip files one after another keeps its memory bounded
// (each file's native stream is released when it is done).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { ROOT as root, tempDir } from './helpers/paths';
import { native } from '../src/native';
import type { HeapAdvice } from '../binding';

/** Whether the addon should mark the heap here: THP on request ('madvise' or 'always'), a readable huge
 * page size, and no strict commit limit (native/binding_memory.cc's conditions). */
function hugePagesOffered(): boolean {
  const read = (file: string): string | null => {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const setting = /\[(\w+)\]/.exec(read('/sys/kernel/mm/transparent_hugepage/enabled') ?? '')?.[1];
  return (setting === 'madvise' || setting === 'always') && hugePageSize() > 0 && read('/proc/sys/vm/overcommit_memory') !== '2';
}

/** The kernel's PMD huge page size (0 where it names none). */
function hugePageSize(): number {
  try {
    return Number(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

interface HeapOutcome {
  /** The record once the results are made, and again after /proc/self/smaps was read. */
  advice: HeapAdvice;
  adviceAfterRead: HeapAdvice;
  /** [heap] mappings that carry the huge-page flag (read between the two records). */
  markedMappings: number;
}

/** In a fresh process (the compiled library, as the CLI tests use it): 400 clips' features kept alive
 * (about 19 MB of results), then what the addon advised and how many [heap] mappings carry the flag. */
function heapOutcome(env: NodeJS.ProcessEnv): HeapOutcome {
  const script = `
    const { native } = require(${JSON.stringify(path.join(root, 'dist', 'src', 'native'))});
    const { resolveFeatureConfig } = require(${JSON.stringify(path.join(root, 'dist', 'src', 'features', 'config'))});
    const config = resolveFeatureConfig();
    const samples = new Float32Array(3 * 48000).map((_, i) => 0.3 * Math.sin(i * 0.05) + 0.01 * Math.sin(i * 1.3));
    const wav = native.encodeWav16(samples, 48000);
    const kept = [];
    for (let i = 0; i < 400; i++) kept.push(native.wavToFeatures(wav, config).data);
    if (kept.some((d) => d.length !== 301 * 40)) throw new Error('unexpected feature size');
    const advice = native.heapAdvice();
    const heap = require('fs').readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-[0-9a-f]+ )/)
      .filter((m) => /^\\S+ \\S+ \\S+ \\S+ \\S+\\s+\\[heap\\]/.test(m));
    if (heap.length === 0) throw new Error('no [heap] mapping');
    const markedMappings = heap.filter((m) => /VmFlags:.*\\bhg\\b/.test(m)).length;
    process.stdout.write(JSON.stringify({ advice, adviceAfterRead: native.heapAdvice(), markedMappings }));
  `;
  const run = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as HeapOutcome;
}

/** Whether this Node runs on glibc (the addon's settings are glibc's; elsewhere it leaves malloc alone). */
function onGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return Boolean(report?.header?.glibcVersionRuntime);
}

const plainEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of ['SER_MALLOC_DEFAULTS', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TOP_PAD_', 'GLIBC_TUNABLES']) delete env[name];
  return env;
};

test('every whole huge page the main heap grows by after the module loads is advised for huge pages, where the kernel offers them on request', () => {
  const outcome = heapOutcome(plainEnv());
  // For the CI log: what the heap and the kernel did on this host.
  console.log(`heap advice: ${JSON.stringify(outcome)}`);
  const { advice, adviceAfterRead: now } = outcome;
  expect(advice.glibcTuned).toBe(onGlibc());
  if (!onGlibc() || !hugePagesOffered()) {
    expect(now).toMatchObject({ hugePageBytes: 0, advisedBytes: 0, refusedBytes: 0 });
    expect(outcome.markedMappings).toBe(0);
    return;
  }
  expect(now.hugePageBytes).toBe(hugePageSize());
  // The marked range runs from the first block boundary after the heap's end at load to the last one
  // before its end now: all of the growth but the two partial blocks at its ends. On these hosts the
  // 19 MB of results grow the brk heap by the 32 MiB pad at least once. Growth itself is not asserted:
  // where glibc cannot extend its brk heap it maps memory elsewhere, which the addon leaves alone.
  expect(now.advisedBytes + now.refusedBytes).toBeGreaterThanOrEqual(now.heapGrowthBytes - 2 * now.hugePageBytes);
  // Whether the kernel takes the advice is the kernel's business (a refusal leaves the pages as they
  // were); where it took it, /proc/self/smaps shows the flag.
  if (advice.advisedBytes > 0) expect(outcome.markedMappings).toBeGreaterThan(0);
});

test('SER_MALLOC_DEFAULTS=1 and a user GLIBC_TUNABLES leave the heap unmarked', () => {
  for (const env of [{ ...plainEnv(), SER_MALLOC_DEFAULTS: '1' }, { ...plainEnv(), GLIBC_TUNABLES: 'glibc.malloc.check=0' }]) {
    const outcome = heapOutcome(env);
    expect(outcome.adviceAfterRead).toMatchObject({ glibcTuned: false, hugePageBytes: 0, advisedBytes: 0, refusedBytes: 0, lastRefusalErrno: 0 });
    expect(outcome.markedMappings).toBe(0);
  }
});

/** Peak RSS (MiB) of a fresh process that scores `clips` files one after another with
 * `await extractFeatures(path)` (the library's worker pool: a clip read whole, a longer file streamed). */
function peakRssScoringClips(file: string, frames: number, clips: number): number {
  const script = `
    const { extractFeatures, shutdown } = require(${JSON.stringify(path.join(root, 'dist', 'src', 'index'))});
    (async () => {
      for (let i = 0; i < ${clips}; i++) {
        const { frames, coeffs } = await extractFeatures(${JSON.stringify(file)});
        if (frames !== ${frames} || coeffs !== 40) throw new Error('unexpected feature size');
      }
      await shutdown();
      const status = require('fs').readFileSync('/proc/self/status', 'utf8');
      process.stdout.write(/VmHWM:\\s+(\\d+) kB/.exec(status)[1]);
    })();
  `;
  const run = spawnSync(process.execPath, ['-e', script], { env: plainEnv(), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`);
  return Number(run.stdout) / 1024;
}

test('scoring files one after another through extractFeatures keeps memory bounded', () => {
  // Each file's stream held about 1 MB of native buffers until V8 collected its wrapper, which it had
  // no reason to do (V8 does not see native memory): 600 clips of 3 s peaked at 1.2 GB. Streams are now
  // released when a file is done. A 3 s clip fits in one read block and takes the whole-file path; a
  // 12 s file (1.1 MB) streams.
  const dir = tempDir('process-memory');
  try {
    for (const [seconds, frames, many] of [[3, 301, 400], [12, 1201, 150]]) {
      const file = path.join(dir, `clip-${seconds}s.wav`);
      const samples = new Float32Array(seconds * 48000).map((_, i) => 0.3 * Math.sin(i * 0.05) + 0.01 * Math.sin(i * 1.3));
      fs.writeFileSync(file, native.encodeWav16(samples, 48000));
      const few = peakRssScoringClips(file, frames, 10);
      const grown = peakRssScoringClips(file, frames, many) - few;
      // The results themselves (48 KB and 192 KB) are V8's to collect: 19 and 29 MB if it never does.
      expect(grown).toBeLessThan(64);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
