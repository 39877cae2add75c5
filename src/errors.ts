// The error kinds of the library (and so of the CLI's exit codes): every one names what was wrong,
// and the file or option it was wrong in, so a caller can branch on the class and show the message.

import { sharedAbortSignal } from './abort';

/** The base of every error this package throws on purpose. */
export class SerError extends Error {
  override name = 'SerError';
}

/** An input file (or WAV buffer) that cannot be read, decoded or used. */
export class InputFileError extends SerError {
  override name = 'InputFileError';
  constructor(
    /** The file as given (or '<buffer>' / '<samples>' for in-memory input). */
    readonly file: string,
    /** What is wrong with it, without the file name. */
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** An option with a value the library refuses; the CLI reports it as a usage error (exit 2). */
export class OptionsError extends SerError {
  override name = 'OptionsError';
}

/** An output folder that holds something else: another run, a cache of other settings, a live lock. */
export class CacheConflictError extends SerError {
  override name = 'CacheConflictError';
}

/** A TensorFlow.js backend that was asked for by name and cannot be loaded; the message says what to install. */
export class BackendUnavailableError extends SerError {
  override name = 'BackendUnavailableError';
}

/** Work stopped by an AbortSignal. What was finished is kept: running it again resumes. */
export class AbortError extends SerError {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(message = 'the operation was aborted') {
    super(message);
  }
}

/** What went wrong with an input, for an InputFileError's reason: a missing file or a folder in plain
 * words, otherwise the error's own message. */
export function inputFailureReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}

/**
 * `work`'s outcome, or an AbortError (`message`) as soon as the signal fires, for work that cannot stop
 * midway: it runs on, and its late result or error is dropped.
 */
export function untilAborted<T>(work: Promise<T>, callerSignal: AbortSignal | undefined, message: string): Promise<T> {
  if (!callerSignal) return work;
  const shared = sharedAbortSignal(callerSignal);
  const signal = shared.signal;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortError(message));
    const settle = (): void => {
      signal.removeEventListener('abort', onAbort);
      shared.release();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

/** Throws an AbortError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`);
}

/** An error as it crosses from a worker thread: its class by name, and what that class carries. */
export interface SerialisedError {
  name: string;
  message: string;
  stack?: string;
  /** InputFileError's file and reason. */
  file?: string;
  reason?: string;
  /** A system error's code (ENOENT, ...). */
  code?: string;
}

export function serialiseError(error: unknown): SerialisedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { name, message, stack } = error;
  const code = (error as NodeJS.ErrnoException).code;
  return {
    name, message, stack, ...(typeof code === 'string' ? { code } : {}),
    ...(error instanceof InputFileError ? { file: error.file, reason: error.reason } : {}),
  };
}

/** The error a worker thread threw, as this package's class of the same name (else a plain Error). */
export function reviveError(serialised: SerialisedError): Error {
  const { name, message } = serialised;
  let error: Error;
  if (name === 'InputFileError' && serialised.file !== undefined && serialised.reason !== undefined) error = new InputFileError(serialised.file, serialised.reason);
  else if (name === 'OptionsError') error = new OptionsError(message);
  else if (name === 'CacheConflictError') error = new CacheConflictError(message);
  else if (name === 'BackendUnavailableError') error = new BackendUnavailableError(message);
  else if (name === 'AbortError') error = new AbortError(message);
  else if (name === 'SerError') error = new SerError(message);
  else {
    error = new Error(message);
    if (name !== 'Error') Object.defineProperty(error, 'name', { value: name, enumerable: false, configurable: true, writable: true });
  }
  if (serialised.code !== undefined && !(error instanceof AbortError)) (error as NodeJS.ErrnoException).code = serialised.code;
  // The thread's stack says where it went wrong.
  if (serialised.stack) error.stack = serialised.stack;
  return error;
}
