// Exit codes of every command (DESIGN section 9): 0 ok, 1 failure, 2 bad usage.
import { BackendUnavailableError, OptionsError } from '../index';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Some inputs of a batch command failed and were reported one by one; the command exits 1. */
export class PartialFailure extends Error {
  override name = 'PartialFailure';
}

/** Bad options, and a forced backend that is not installed (the message says what to install), exit 2. */
export function exitCodeOf(error: unknown): number {
  return error instanceof OptionsError || error instanceof BackendUnavailableError ? EXIT_USAGE : EXIT_FAILURE;
}
