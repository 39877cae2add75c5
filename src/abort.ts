// One listener on a caller's AbortSignal, however many calls share it.
//
// Each pending call waits on the signal (untilAborted, a worker thread's request, a piscina task). Were
// each to add its own 'abort' listener, a server that passes one signal (its shutdown signal, say) to
// many concurrent calls would pass Node's limit of 10 listeners per EventTarget and get a
// MaxListenersExceededWarning. The calls wait on a signal of ours instead: one per caller's signal,
// aborted (with the same reason) by the only listener we add to theirs, which the last call to settle
// removes. (A listener left on the caller's signal would keep an AbortSignal.timeout() or
// AbortSignal.any() signal alive until it fired.)
import { setMaxListeners } from 'node:events';

interface Shared {
  signal: AbortSignal;
  users: number;
  detach: () => void;
}

const sharedBySignal = new WeakMap<AbortSignal, Shared>();

/** A signal that aborts when the caller's does, with its reason; release() once the call has settled. */
export interface SharedAbort {
  signal: AbortSignal;
  release(): void;
}

/** The shared signal for `caller`: the same one for every pending call with `caller`. */
export function sharedAbortSignal(caller: AbortSignal): SharedAbort {
  let entry = sharedBySignal.get(caller);
  if (!entry) {
    const controller = new AbortController();
    // Every listener on it is a pending call's, removed when the call settles: any number may wait.
    setMaxListeners(0, controller.signal);
    let detach = (): void => {};
    if (caller.aborted) {
      controller.abort(caller.reason);
    } else {
      const forward = (): void => controller.abort(caller.reason);
      caller.addEventListener('abort', forward, { once: true });
      detach = () => caller.removeEventListener('abort', forward);
    }
    entry = { signal: controller.signal, users: 0, detach };
    sharedBySignal.set(caller, entry);
  }
  const shared = entry;
  shared.users += 1;
  let released = false;
  return {
    signal: shared.signal,
    release: () => {
      if (released) return;
      released = true;
      // An entry is dropped only here, at no users, so the caller's entry is still this one.
      shared.users -= 1;
      if (shared.users === 0) {
        shared.detach();
        sharedBySignal.delete(caller);
      }
    },
  };
}
