// shutdown(): ends the library's worker threads now, instead of after their idle timeout.
import { apiPool } from './workers/pool';

/** Ends the worker pool's threads; the next call starts them again. */
export function shutdown(): Promise<void> {
  return apiPool.close();
}
