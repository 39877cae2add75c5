// Reuse of large kernel outputs. A fresh 50 MB Float32Array costs about 20 ms of page faults on first
// write while the kernel filling it takes about 2 ms (measured here for the seed model's first conv
// block), so the `native` backend hands freed outputs to the next kernel of the same size.
//
// A buffer is reused only when nothing else can still see it: it was made by take(), no tensor in the
// data store holds it or a view of it (counted per ArrayBuffer), and it never left the backend through
// a read (dataSync/data/bufferSync give out the backend's own array).

/** Outputs smaller than this come from the allocator: V8 serves them without page faults. */
const MIN_POOLED_FLOATS = 1 << 16;

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakSet<ArrayBuffer>();
  private readonly escaped = new WeakSet<ArrayBuffer>();
  private readonly references = new Map<ArrayBuffer, number>();
  private pooledBytes = 0;

  constructor(private readonly maxPooledBytes: number) {}

  /** An array of `length` floats with arbitrary contents: the caller must write every element. */
  take(length: number): Float32Array {
    if (length < MIN_POOLED_FLOATS) return new Float32Array(length);
    const reused = this.free.get(length)?.pop();
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      return reused;
    }
    const fresh = new Float32Array(length);
    this.owned.add(fresh.buffer as ArrayBuffer);
    return fresh;
  }

  /** A tensor now holds `values` (or a view of it). */
  retain(values: unknown): void {
    const buffer = ownedBuffer(this.owned, values);
    if (buffer) this.references.set(buffer, (this.references.get(buffer) ?? 0) + 1);
  }

  /** A tensor holding `values` was deleted; the buffer returns to the pool when nothing holds it. */
  release(values: unknown): void {
    const buffer = ownedBuffer(this.owned, values);
    if (!buffer) return;
    const left = (this.references.get(buffer) ?? 1) - 1;
    if (left > 0) {
      this.references.set(buffer, left);
      return;
    }
    this.references.delete(buffer);
    if (this.escaped.has(buffer) || this.pooledBytes + buffer.byteLength > this.maxPooledBytes) return;
    const whole = new Float32Array(buffer);
    const list = this.free.get(whole.length) ?? [];
    list.push(whole);
    this.free.set(whole.length, list);
    this.pooledBytes += buffer.byteLength;
  }

  /** `values` was handed out of the backend: its buffer is never reused. */
  markEscaped(values: unknown): void {
    const buffer = ownedBuffer(this.owned, values);
    if (buffer) this.escaped.add(buffer);
  }

  get bytesPooled(): number {
    return this.pooledBytes;
  }
}

function ownedBuffer(owned: WeakSet<ArrayBuffer>, values: unknown): ArrayBuffer | null {
  if (!ArrayBuffer.isView(values)) return null;
  const buffer = values.buffer as ArrayBuffer;
  return owned.has(buffer) ? buffer : null;
}
