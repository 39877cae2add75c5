// synthesize(): a synthetic corpus written by the worker pool, batch by batch, with progress and abort.
// Every clip depends only on (seed, corpus, file name), so the files equal synthesizeCorpus's whatever
// the thread count.
import * as path from 'path';

import { AbortError, throwIfAborted } from '../errors';
import type { CallOptions } from './extract';
import { apiPool } from '../workers/pool';
import { corpusSeed, planCorpus, type SynthOptions, type SynthSummary } from '../synth/corpus';

/** Clips written so far by synthesize(). */
export interface SynthProgress {
  done: number;
  total: number;
  elapsedSeconds: number;
}

/** synthesize() options: the corpus to imitate and its size, with progress and an AbortSignal. */
export interface SynthesizeOptions extends SynthOptions, CallOptions {
  onProgress?: (progress: SynthProgress) => void;
}

const CLIPS_PER_TASK = 8;

/** Writes a synthetic corpus under `dir` in the chosen corpus layout; a bad option throws an OptionsError. */
export async function synthesize(dir: string, options: SynthesizeOptions): Promise<SynthSummary> {
  const { signal, onProgress, ...synthOptions } = options;
  const files = planCorpus(synthOptions);
  const seed = corpusSeed(synthOptions);
  const root = path.resolve(dir);
  const started = performance.now();
  const elapsedSeconds = () => (performance.now() - started) / 1000;
  throwIfAborted(signal, 'synthesize');
  let done = 0;
  onProgress?.({ done, total: files.length, elapsedSeconds: elapsedSeconds() });
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  for (let first = 0; first < files.length && !failure && !signal?.aborted; first += CLIPS_PER_TASK) {
    while (inFlight.size >= 2 * apiPool.threads) await Promise.race(inFlight);
    const clips = files.slice(first, first + CLIPS_PER_TASK);
    const task = apiPool.run({ kind: 'synth', root, clips, seed }).then((result) => {
      if (!result.ok) throw new Error(`synthesize: ${result.reason}`);
      done += clips.length;
      onProgress?.({ done, total: files.length, elapsedSeconds: elapsedSeconds() });
    }).catch((error: unknown) => {
      failure ??= error;
    });
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  if (signal?.aborted) throw new AbortError(`synthesize into ${root} was aborted after ${done} of ${files.length} clips`);
  return { dir: root, clips: files.length, seconds: files.reduce((s, c) => s + c.seconds, 0), files };
}
