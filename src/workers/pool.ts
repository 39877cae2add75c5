// The Piscina pool that computes features on every core.

import { Piscina } from 'piscina';

import { sharedAbortSignal } from '../abort';
import { compiledEntry, defaultWorkerCount } from './entry';

export { compiledEntry, defaultWorkerCount };

import type { ApiResult, ApiTask } from './api-task';
import type { AugmentFeatureTask } from './augment-task';
import type { ClipOutcome, FeatureTask } from './feature-task';

const workerEntry = (name: string): string => compiledEntry('workers', name);

function checkThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`workers must be a positive integer, got ${threads}`);
}

export class FeaturePool {
  private readonly piscina: Piscina;

  constructor(readonly threads: number) {
    checkThreads(threads);
    this.piscina = new Piscina({ filename: workerEntry('feature-task'), minThreads: threads, maxThreads: threads, idleTimeout: 1000 });
  }

  /** Runs one task; its rows appear in the task's shared shard buffer, the outcomes come back. */
  run(task: FeatureTask): Promise<ClipOutcome[]> {
    return this.piscina.run(task) as Promise<ClipOutcome[]>;
  }

  destroy(): Promise<void> {
    return this.piscina.destroy();
  }
}

/** Workers that augment kept audio and compute its features, for online augmentation in training. */
export class AugmentPool {
  private readonly piscina: Piscina;

  constructor(readonly threads: number) {
    checkThreads(threads);
    this.piscina = new Piscina({ filename: workerEntry('augment-task'), minThreads: threads, maxThreads: threads, idleTimeout: 1000 });
  }

  /** The task's audio buffer is transferred (the caller gives up its copy); feature rows come back. */
  run(task: AugmentFeatureTask): Promise<Float32Array> {
    return this.piscina.run(task, { transferList: [task.audio.buffer as ArrayBuffer] }) as Promise<Float32Array>;
  }

  destroy(): Promise<void> {
    return this.piscina.destroy();
  }
}

/**
 * The library's worker pool: made on first use, one thread per core, shared by every async call of
 * the process. Idle threads end after a few seconds, so an idle pool does not keep the process alive.
 */
class ApiPool {
  private piscina: Piscina | null = null;

  run(task: ApiTask, signal?: AbortSignal): Promise<ApiResult> {
    // The caller's arrays are copied (structured clone, not JSON), so theirs stay usable; results move back.
    this.piscina ??= new Piscina({
      filename: workerEntry('api-task'), minThreads: 0, maxThreads: defaultWorkerCount(), idleTimeout: 2000,
    });
    if (!signal) return this.piscina.run(task) as Promise<ApiResult>;
    const shared = sharedAbortSignal(signal);
    const run = this.piscina.run(task, { signal: shared.signal }) as Promise<ApiResult>;
    run.then(shared.release, shared.release);
    return run;
  }

  get threads(): number {
    return defaultWorkerCount();
  }

  async close(): Promise<void> {
    const piscina = this.piscina;
    this.piscina = null;
    await piscina?.destroy();
  }
}

export const apiPool = new ApiPool();
