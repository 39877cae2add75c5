// The batch worker: owns a BatchAssembler and answers the training thread's requests for the next
// batches, so reading, gathering, standardising and mixing run while the current step trains. Batches
// go back as transferred buffers (no copy).
import { parentPort, workerData } from 'worker_threads';

import { BatchAssembler, type AssemblerInput, type Batch } from './batch-assembler';

/** Training thread -> worker. */
export type BatchRequest =
  | { type: 'batch'; id: number; epoch: number; index: number }
  /** A batch's features buffer handed back for reuse. */
  | { type: 'recycle'; features: Float32Array }
  | { type: 'close' };

/** Worker -> training thread. */
export type BatchReply =
  | { type: 'ready' }
  | { type: 'batch'; id: number; features: Float32Array; labels: Float32Array; size: number; peakResidentRows: number }
  | { type: 'error'; id: number | null; message: string };

function serve(): void {
  const port = parentPort;
  if (!port) throw new Error('batch-worker runs as a worker thread');
  let assembler: BatchAssembler;
  try {
    assembler = new BatchAssembler(workerData as AssemblerInput);
    assembler.load();
    port.postMessage({ type: 'ready' } satisfies BatchReply);
  } catch (error) {
    port.postMessage({ type: 'error', id: null, message: (error as Error).message } satisfies BatchReply);
    return;
  }
  // The epoch being produced and the index of its next batch; a request out of sequence restarts it.
  let current: { epoch: number; next: number; batches: Generator<Batch> } | null = null;
  port.on('message', (request: BatchRequest) => {
    if (request.type === 'recycle') {
      assembler.recycle(request.features);
      return;
    }
    if (request.type === 'close') {
      current?.batches.return(undefined);
      assembler.close();
      port.close();
      return;
    }
    try {
      if (!current || current.epoch !== request.epoch || current.next > request.index) {
        current?.batches.return(undefined);
        current = { epoch: request.epoch, next: 0, batches: assembler.epoch(request.epoch) };
      }
      let batch: Batch | undefined;
      while (current.next <= request.index) {
        const step = current.batches.next();
        if (step.done) throw new Error(`epoch ${request.epoch} has no batch ${request.index}`);
        batch = step.value;
        current.next++;
      }
      const { features, labels, size } = batch as Batch;
      port.postMessage(
        { type: 'batch', id: request.id, features, labels, size, peakResidentRows: assembler.peakResidentRows } satisfies BatchReply,
        [features.buffer as ArrayBuffer, labels.buffer as ArrayBuffer],
      );
    } catch (error) {
      port.postMessage({ type: 'error', id: request.id, message: (error as Error).message } satisfies BatchReply);
    }
  });
}

serve();
