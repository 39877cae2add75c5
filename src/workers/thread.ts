// One worker thread that owns long synchronous work (a model's forward passes, a training run) so the
// caller's event loop stays free: requests go in as messages, results, progress events and errors come
// back, an AbortSignal crosses as a message, and a stream of bytes (standard input) is fed with credit
// so memory stays bounded however fast the producer is. The thread keeps the process alive only while
// a request is pending.
import * as os from 'os';
import { isMainThread, parentPort, Worker } from 'worker_threads';

import { sharedAbortSignal } from '../abort';
import { AbortError, reviveError, serialiseError, type SerialisedError } from '../errors';

/**
 * How much lower the thread (and every thread it starts: the native engine's pool, its worker pools)
 * runs than the caller's: when the cores are busy, a timer or a request on the caller's event loop runs
 * first instead of queueing behind the kernels. Alone on the machine, nice values cost nothing.
 */
export const BACKGROUND_NICE_INCREMENT = 10;

/**
 * Lowers the calling worker thread, once, to BACKGROUND_NICE_INCREMENT below the process's main thread (threads
 * it starts inherit it; a worker of a worker stays at that level); on the main thread, or where it is
 * not permitted, it does nothing.
 */
let inBackground = false;

export function runInBackground(): void {
  // Once per thread (each worker has its own copy of this module): the pool's tasks call it every time.
  if (isMainThread || inBackground) return;
  inBackground = true;
  try {
    // Linux keeps a nice value per thread: 0 names this thread, the process id its main thread.
    const target = Math.min(19, os.getPriority(process.pid) + BACKGROUND_NICE_INCREMENT);
    if (os.getPriority(0) < target) os.setPriority(0, target);
  } catch {
    // Not permitted or not supported here: the thread runs at the caller's priority.
  }
}

/** Chunks of a stream in flight to the thread at once: enough to keep it busy, few enough to bound memory. */
const STREAM_CREDIT = 2;

type ToThread =
  | { kind: 'request'; id: number; request: unknown }
  | { kind: 'abort'; id: number }
  | { kind: 'chunk'; id: number; chunk: Uint8Array | null };

type FromThread =
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: SerialisedError }
  | { kind: 'event'; id: number; event: unknown }
  | { kind: 'ack'; id: number };

/** What a call may bring besides its request. */
export interface CallExtras {
  /** Buffers of the request moved to the thread instead of copied (the caller's copies are detached). */
  transfer?: ArrayBuffer[];
  /** Each event the handler emits, in order. */
  onEvent?: (event: unknown) => void;
  /** Aborts the call: the handler's signal fires, the promise rejects with the handler's AbortError. */
  signal?: AbortSignal;
  /** Bytes the handler reads as context.stream(). */
  stream?: AsyncIterable<Uint8Array>;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onEvent?: (event: unknown) => void;
  /** Resolves when the thread has taken a chunk (credit for the next). */
  acked?: () => void;
}

/** The caller's side: a worker thread running `entry`, which calls serveThread(). */
export class WorkerThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ended: Error | null = null;

  constructor(entry: string, workerData?: unknown) {
    this.worker = new Worker(entry, { workerData });
    this.worker.unref();
    this.worker.on('message', (message: FromThread) => this.receive(message));
    this.worker.on('error', (error) => this.end(error));
    this.worker.on('exit', (code) => this.end(new Error(`the worker thread exited (code ${code})`)));
  }

  /** Sends one request; resolves with the handler's result. */
  call<T>(request: unknown, extras: CallExtras = {}): Promise<T> {
    if (this.ended) return Promise.reject(this.ended);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { resolve: resolve as (value: unknown) => void, reject, onEvent: extras.onEvent };
      const onAbort = (): void => this.send({ kind: 'abort', id });
      const shared = extras.signal && sharedAbortSignal(extras.signal);
      const signal = shared?.signal;
      const settle = (): void => {
        signal?.removeEventListener('abort', onAbort);
        shared?.release();
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker.unref();
      };
      pending.resolve = (value) => {
        settle();
        resolve(value as T);
      };
      pending.reject = (error) => {
        settle();
        reject(error);
      };
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, pending);
      this.send({ kind: 'request', id, request }, extras.transfer);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      if (extras.stream) void this.pump(id, pending, extras.stream);
    });
  }

  /** Ends the thread; pending calls reject. */
  terminate(): Promise<number> {
    this.end(new Error('the worker thread was ended'));
    return this.worker.terminate();
  }

  private async pump(id: number, pending: Pending, stream: AsyncIterable<Uint8Array>): Promise<void> {
    let inFlight = 0;
    let credit: (() => void) | null = null;
    pending.acked = () => {
      inFlight--;
      credit?.();
    };
    try {
      for await (const chunk of stream) {
        if (!this.pending.has(id)) return;
        while (inFlight >= STREAM_CREDIT) await new Promise<void>((resolve) => (credit = resolve));
        credit = null;
        if (!this.pending.has(id)) return;
        inFlight++;
        // A copy the thread owns: the stream may reuse its buffer.
        const copy = new Uint8Array(chunk);
        this.send({ kind: 'chunk', id, chunk: copy }, [copy.buffer]);
      }
      if (this.pending.has(id)) this.send({ kind: 'chunk', id, chunk: null });
    } catch (error) {
      pending.reject(error as Error);
      this.send({ kind: 'abort', id });
    }
  }

  private send(message: ToThread, transfer?: ArrayBuffer[]): void {
    if (!this.ended) this.worker.postMessage(message, transfer ?? []);
  }

  private receive(message: FromThread): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.kind === 'result') pending.resolve(message.result);
    else if (message.kind === 'error') pending.reject(reviveError(message.error));
    else if (message.kind === 'event') pending.onEvent?.(message.event);
    else pending.acked?.();
  }

  private end(error: Error): void {
    if (this.ended) return;
    this.ended = error;
    for (const pending of [...this.pending.values()]) pending.reject(error);
  }
}

/** What a handler gets with each request. */
export interface ThreadContext {
  /** Fires when the caller aborts. */
  signal: AbortSignal;
  /** Sends an event to the caller's onEvent. */
  emit(event: unknown, transfer?: ArrayBuffer[]): void;
  /** The caller's stream, chunk by chunk. */
  stream(): AsyncIterable<Uint8Array>;
}

/** A handler's answer: the result and the buffers in it to move rather than copy. */
export interface ThreadReply {
  result: unknown;
  transfer?: ArrayBuffer[];
}

interface Served {
  controller: AbortController;
  chunks: (Uint8Array | null)[];
  wake: (() => void) | null;
}

/** The thread's side: answers each request with `handler`, several at once if the caller sends them. */
export function serveThread(handler: (request: unknown, context: ThreadContext) => Promise<ThreadReply>): void {
  const port = parentPort;
  if (!port) throw new Error('serveThread() runs in a worker thread');
  runInBackground();
  const served = new Map<number, Served>();
  port.on('message', (message: ToThread) => {
    if (message.kind === 'abort') {
      served.get(message.id)?.controller.abort();
      return;
    }
    if (message.kind === 'chunk') {
      const call = served.get(message.id);
      if (!call) return;
      call.chunks.push(message.chunk);
      call.wake?.();
      return;
    }
    const { id } = message;
    const call: Served = { controller: new AbortController(), chunks: [], wake: null };
    served.set(id, call);
    const context: ThreadContext = {
      signal: call.controller.signal,
      emit: (event, transfer) => port.postMessage({ kind: 'event', id, event } satisfies FromThread, transfer ?? []),
      stream: () => ({
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (call.chunks.length === 0) {
              if (call.controller.signal.aborted) throw new AbortError('the stream was aborted');
              await new Promise<void>((resolve) => (call.wake = resolve));
              call.wake = null;
            }
            const chunk = call.chunks.shift() as Uint8Array | null;
            if (chunk === null) return;
            port.postMessage({ kind: 'ack', id } satisfies FromThread);
            yield chunk;
          }
        },
      }),
    };
    call.controller.signal.addEventListener('abort', () => call.wake?.(), { once: true });
    handler(message.request, context).then(
      ({ result, transfer }) => port.postMessage({ kind: 'result', id, result } satisfies FromThread, transfer ?? []),
      (error: unknown) => port.postMessage({ kind: 'error', id, error: serialiseError(error) } satisfies FromThread),
    ).finally(() => served.delete(id));
  });
}
