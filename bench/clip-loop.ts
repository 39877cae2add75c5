// One process, one round of the long-recording scenario's clip loop: every WAV of a folder read into one
// reused buffer, decoded, resampled to 16 kHz and turned into MFCC on this thread, timed after the
// imports (as the torchaudio peer times itself), printed as one JSON line.
// Run by bench/suites/long-recording.ts under `taskset -c 0`, in a process of its own like the peer's:
// run inside the bench's process, each round came right after the bench forked the peer, and every page
// the round then wrote took a copy-on-write fault (12 a clip, 3.5x slower than a fresh process on these
// virtual machines, where a fault costs 10-15 us).
//   row:   native.clipRowInto into one reused row, as prepare's workers fill a shard's rows.
//   array: native.wavToFeatures, a new Float32Array a clip, as extractFeatures returns it.
//   async: await extractFeatures(file) a clip, what a server keeping its event loop free calls: a
//          file that fits in one read block (a clip) is read and computed as the addon's async work on
//          libuv's thread pool and its matrix copied into a new array on this thread (a longer file
//          streams in a worker of the library's pool); one untimed call first.
// With warm-up passes, the loop first runs over the folder that many times untimed: a process that has
// already scored thousands of clips (a server) reuses the memory V8 has collected, where a fresh one
// takes a page fault for each new page of its results.
import * as fs from 'fs';
import * as path from 'path';

import { extractFeatures } from '../src/clips/extract';
import { resolveFeatureConfig } from '../src/features/config';
import { readFileReusing } from '../src/io/read';
import { native } from '../src/native';
import { shutdown } from '../src/shutdown';

export type ClipLoopMode = 'row' | 'array' | 'async';

export interface ClipLoopResult {
  mode: ClipLoopMode;
  warmupPasses: number;
  files: number;
  audioSeconds: number;
  seconds: number;
  minorFaultsPerClip: number;
}

function runClipLoop(dir: string, mode: ClipLoopMode, warmupPasses: number): ClipLoopResult {
  const config = resolveFeatureConfig();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.wav')).sort().map((f) => path.join(dir, f));
  if (files.length === 0) throw new Error(`no .wav files in ${dir}`);
  // The row covers the whole clip (every clip of the folder has the first one's length), so both modes
  // compute the same values: checked once, untimed, before the loop.
  const first = native.wavToFeatures(readFileReusing(files[0]), config);
  const cropLength = Math.round(first.seconds * config.sampleRate);
  const row = new Float32Array(first.data.length);
  native.clipRowInto(readFileReusing(files[0]), config, 0, cropLength, row, null);
  if (!row.every((v, i) => v === first.data[i])) throw new Error('clipRowInto and wavToFeatures disagree on the first clip');

  const pass = (): number => {
    let audioSeconds = 0;
    if (mode === 'row') {
      for (const file of files) audioSeconds += native.clipRowInto(readFileReusing(file), config, 0, cropLength, row, null).seconds;
    } else {
      for (const file of files) audioSeconds += native.wavToFeatures(readFileReusing(file), config).seconds;
    }
    return audioSeconds;
  };
  for (let i = 0; i < warmupPasses; i++) pass();
  const faultsBefore = process.resourceUsage().minorPageFault;
  const started = process.hrtime.bigint();
  const audioSeconds = pass();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const minorFaultsPerClip = (process.resourceUsage().minorPageFault - faultsBefore) / files.length;
  return { mode, warmupPasses, files: files.length, audioSeconds, seconds, minorFaultsPerClip };
}

async function runAsyncClipLoop(dir: string, warmupPasses: number): Promise<ClipLoopResult> {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.wav')).sort().map((f) => path.join(dir, f));
  if (files.length === 0) throw new Error(`no .wav files in ${dir}`);
  const pass = async (): Promise<number> => {
    let audioSeconds = 0;
    for (const file of files) audioSeconds += (await extractFeatures(file)).seconds;
    return audioSeconds;
  };
  try {
    // The same values as the other modes (the stream and the whole file give the same bits).
    const first = await extractFeatures(files[0]);
    const direct = native.wavToFeatures(readFileReusing(files[0]), resolveFeatureConfig());
    if (!first.data.every((v, i) => v === direct.data[i])) throw new Error('extractFeatures and wavToFeatures disagree on the first clip');
    for (let i = 0; i < warmupPasses; i++) await pass();
    const faultsBefore = process.resourceUsage().minorPageFault;
    const started = process.hrtime.bigint();
    const audioSeconds = await pass();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const minorFaultsPerClip = (process.resourceUsage().minorPageFault - faultsBefore) / files.length;
    return { mode: 'async', warmupPasses, files: files.length, audioSeconds, seconds, minorFaultsPerClip };
  } finally {
    await shutdown();
  }
}

if (require.main === module) {
  const [dir, mode, passes = '0'] = process.argv.slice(2);
  const warmupPasses = Number(passes);
  if (!dir || (mode !== 'row' && mode !== 'array' && mode !== 'async') || !Number.isInteger(warmupPasses) || warmupPasses < 0) {
    process.stderr.write('usage: node dist/bench/clip-loop.js <folder of WAVs> row|array|async [warm-up passes]\n');
    process.exit(2);
  }
  if (mode === 'async') {
    runAsyncClipLoop(dir, warmupPasses).then(
      (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
      (error: unknown) => {
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      },
    );
  } else {
    process.stdout.write(`${JSON.stringify(runClipLoop(dir, mode, warmupPasses))}\n`);
  }
}
