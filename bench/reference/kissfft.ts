// kissfft-wasm 1.1.2 as a benchmark peer, loaded the way /work/shared/TOOLCHAIN.md describes:
// - its Emscripten loader sees Node 20's global `fetch` and calls it on a file path, so `fetch` is hidden
//   while the module is required (the loader decides synchronously, inside `require`);
// - it is only usable after `require('kissfft-wasm/lib/wasm').waitLoading()` resolves;
// - it adds process-wide `uncaughtException` / `unhandledRejection` listeners (the latter calls abort()),
//   which are removed again here.
//
// Reuse: the package's one-shot `rfft(x)` allocates a kiss_fftr config, an input and an output array on the
// wasm heap, copies in, transforms, copies out and frees all three on every call. The classes it uses for
// that (RealFFTConfig, RealArray, ComplexArray, exported from the package index) can be kept instead, so
// `loadKissRfft(n)` allocates them once and each call only copies the frame in, runs kiss_fftr and copies
// the n/2 + 1 bins out.

/** The small part of kissfft-wasm's API used here (the package's own typings are not relied on). */
interface KissWasmHeap {
  HEAPF32: Float32Array;
}

interface KissArray {
  readonly pointer: number;
  free(): void;
}

interface KissRealConfig {
  readonly nfft: number;
  work(input: KissArray, output: KissArray): void;
  free(): void;
}

interface KissFftModule {
  rfft(input: Float32Array | number[]): Float32Array;
  RealFFTConfig: new (nfft: number) => KissRealConfig;
  /** n real floats. */
  RealArray: new (n: number) => KissArray;
  /** n complex values (2n floats). */
  ComplexArray: new (n: number) => KissArray;
}

interface KissWasmLoader {
  /** The Emscripten module; undefined until loading finished. */
  wasm: KissWasmHeap | undefined;
  waitLoading(): Promise<void>;
}

interface LoadedKiss {
  api: KissFftModule;
  loader: KissWasmLoader;
}

type ProcessEvent = 'uncaughtException' | 'unhandledRejection';
type Listener = (...args: unknown[]) => void;
const PROCESS_EVENTS: readonly ProcessEvent[] = ['uncaughtException', 'unhandledRejection'];
// process's typed overloads do not accept a union of event names; its EventEmitter signatures do.
const processEvents: NodeJS.EventEmitter = process;

let loading: Promise<LoadedKiss> | undefined;

function listenersOf(event: ProcessEvent): Listener[] {
  return processEvents.listeners(event) as Listener[];
}

function listenerSnapshot(): Map<ProcessEvent, Set<Listener>> {
  const snapshot = new Map<ProcessEvent, Set<Listener>>();
  for (const event of PROCESS_EVENTS) snapshot.set(event, new Set(listenersOf(event)));
  return snapshot;
}

function removeAddedListeners(before: Map<ProcessEvent, Set<Listener>>): void {
  for (const event of PROCESS_EVENTS) {
    const old = before.get(event) ?? new Set<Listener>();
    for (const listener of listenersOf(event)) {
      if (!old.has(listener)) processEvents.removeListener(event, listener);
    }
  }
}

async function loadKiss(): Promise<LoadedKiss> {
  const before = listenerSnapshot();
  const globals = globalThis as { fetch?: unknown };
  const savedFetch = globals.fetch;
  let api: KissFftModule;
  let loader: KissWasmLoader;
  globals.fetch = undefined;
  try {
    /* eslint-disable @typescript-eslint/no-require-imports */
    api = require('kissfft-wasm') as KissFftModule;
    loader = require('kissfft-wasm/lib/wasm') as KissWasmLoader;
    /* eslint-enable @typescript-eslint/no-require-imports */
  } finally {
    globals.fetch = savedFetch;
    removeAddedListeners(before);
  }
  try {
    await loader.waitLoading();
  } finally {
    removeAddedListeners(before);
  }
  return { api, loader };
}

function loadedKiss(): Promise<LoadedKiss> {
  loading ??= loadKiss();
  return loading;
}

/** kissfft-wasm's own one-shot `rfft` (allocates and frees its config and arrays on every call). */
export async function loadKissRfftOneShot(): Promise<(input: Float32Array) => Float32Array> {
  const { api } = await loadedKiss();
  return (input) => api.rfft(input);
}

export interface KissRfft {
  /**
   * Real FFT of input[inputOffset .. inputOffset + n): n/2 + 1 bins, interleaved re/im, unnormalised.
   * Writes into output at outputOffset when given (n + 2 floats); otherwise returns a new array.
   */
  (input: Float32Array, output?: Float32Array, inputOffset?: number, outputOffset?: number): Float32Array;
  readonly n: number;
  /** Frees the wasm config and arrays; the function must not be called afterwards. */
  dispose(): void;
}

/** A real FFT of size n (even) that keeps its kiss_fftr config and wasm arrays across calls. */
export async function loadKissRfft(n: number): Promise<KissRfft> {
  if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new Error(`loadKissRfft: n must be even and >= 2, got ${n}`);
  const { api, loader } = await loadedKiss();
  const config = new api.RealFFTConfig(n);
  const input = new api.RealArray(n);
  // RealFFTConfig.work checks output.length === nfft (complex values), so the output holds n complex even
  // though only n/2 + 1 are written.
  const output = new api.ComplexArray(n);
  const inFloat = input.pointer >> 2;
  const outFloat = output.pointer >> 2;
  const outFloats = n + 2;
  let disposed = false;

  const heap = (): Float32Array => {
    const wasm = loader.wasm;
    if (wasm === undefined) throw new Error('kissfft-wasm is not loaded');
    // Re-read every call: a heap growth replaces HEAPF32.
    return wasm.HEAPF32;
  };

  const transform = (frame: Float32Array, out?: Float32Array, inputOffset = 0, outputOffset = 0): Float32Array => {
    if (disposed) throw new Error('KissRfft: used after dispose()');
    if (inputOffset + n > frame.length) throw new Error('KissRfft: input too short');
    const target = out ?? new Float32Array(outFloats);
    if (outputOffset + outFloats > target.length) throw new Error('KissRfft: output too short');
    let h = heap();
    h.set(inputOffset === 0 && frame.length === n ? frame : frame.subarray(inputOffset, inputOffset + n), inFloat);
    config.work(input, output);
    h = heap();
    for (let i = 0; i < outFloats; i++) target[outputOffset + i] = h[outFloat + i];
    return target;
  };

  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    config.free();
    input.free();
    output.free();
  };

  return Object.assign(transform, { n, dispose });
}
