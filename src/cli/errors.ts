// Exit codes of every command (DESIGN section 9): 0 ok, 1 failure, 2 bad usage.
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad options or arguments: the command exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Some inputs of a batch command failed and were reported one by one; the command exits 1. */
export class PartialFailure extends Error {
  override name = 'PartialFailure';
}
