// The worker thread of a training run: train() hands it the resolved options, it runs trainRun and
// sends log lines, steps and epochs back, so the caller's event loop never waits on a training step.
import { serveThread } from '../workers/thread';
import type { EpochRecord } from './checkpoint';
import type { EpochProgress } from './loop';
import { trainRun, type TrainRunOptions } from './run';

/** What train() sends: trainRun's options without the callbacks and the signal (those cross as messages). */
export type TrainRequest = Omit<TrainRunOptions, 'signal' | 'log' | 'onStep' | 'onEpoch'> & { wantSteps: boolean; wantEpochs: boolean };

/** What the thread sends back while it trains. */
export type TrainEvent =
  | { kind: 'log'; line: string }
  | { kind: 'step'; fold: number; folds: number; progress: EpochProgress; seed: number; seeds: number }
  | { kind: 'epoch'; fold: number; folds: number; record: EpochRecord; seed: number; seeds: number };

serveThread(async (message, context) => {
  const { wantSteps, wantEpochs, ...options } = message as TrainRequest;
  const emit = (event: TrainEvent): void => context.emit(event);
  const result = await trainRun({
    ...options, signal: context.signal,
    log: (line) => emit({ kind: 'log', line }),
    onStep: wantSteps ? (fold, folds, progress, seed, seeds) => emit({ kind: 'step', fold, folds, progress, seed, seeds }) : undefined,
    onEpoch: wantEpochs ? (fold, folds, record, seed, seeds) => emit({ kind: 'epoch', fold, folds, record, seed, seeds }) : undefined,
  });
  return { result };
});
