// One listener on a caller's AbortSignal, however many calls share it.
//
// Each pending call waits on the signal (untilAborted, a worker thread's request, a piscina task), and
// each adds and later removes an 'abort' listener. A server that passes one signal (its shutdown
// signal, say) to many concurrent calls would pass Node's limit of 10 listeners per EventTarget and get
// a MaxListenersExceededWarning, although nothing leaks. The calls wait on a signal of ours instead: one
// per caller's signal, aborted (with the same reason) by the only listener we add to theirs.
import { setMaxListeners } from 'node:events';

const shared = new WeakMap<AbortSignal, AbortSignal>();

/** A signal that aborts when `signal` does, with its reason; the same one for every call with `signal`. */
export function sharedAbortSignal(signal: AbortSignal): AbortSignal {
  const known = shared.get(signal);
  if (known) return known;
  const controller = new AbortController();
  // Every listener on it is a pending call's and is removed when the call settles: no limit to warn at.
  setMaxListeners(0, controller.signal);
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  shared.set(signal, controller.signal);
  return controller.signal;
}
