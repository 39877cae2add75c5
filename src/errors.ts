// The error kinds of the library (and so of the CLI's exit codes): every one names what was wrong,
// and the file or option it was wrong in, so a caller can branch on the class and show the message.

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

/** Throws an AbortError when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`);
}
