// A seeded orthogonal initializer computed in plain float64 (modified Gram-Schmidt): the same
// distribution as tf.initializers.orthogonal, without its op-by-op QR, which took 13 s to initialise
// the seed model's recurrent kernels on the cpu backend.
import * as tf from '@tensorflow/tfjs';

import { seededUniform } from '../augment/spec';

export interface SeededOrthogonalArgs {
  seed: number;
  gain?: number;
}

/** Gaussian samples from a seeded uniform stream (Box-Muller). */
function gaussians(count: number, seed: number): Float64Array {
  const random = seededUniform(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** Rows x cols with orthonormal columns (rows >= cols) or orthonormal rows (rows < cols). */
export function orthogonalMatrix(rows: number, cols: number, seed: number): Float64Array {
  const tall = rows >= cols;
  const [n, k] = tall ? [rows, cols] : [cols, rows];
  // k vectors of length n, orthonormalised one after the other (modified Gram-Schmidt, twice for stability).
  const v = gaussians(n * k, seed);
  for (let j = 0; j < k; j++) {
    const vj = v.subarray(j * n, (j + 1) * n);
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const vi = v.subarray(i * n, (i + 1) * n);
        let dot = 0;
        for (let t = 0; t < n; t++) dot += vi[t] * vj[t];
        for (let t = 0; t < n; t++) vj[t] -= dot * vi[t];
      }
    }
    let norm = 0;
    for (let t = 0; t < n; t++) norm += vj[t] * vj[t];
    norm = Math.sqrt(norm);
    for (let t = 0; t < n; t++) vj[t] /= norm;
  }
  const out = new Float64Array(rows * cols);
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < n; t++) {
      if (tall) out[t * cols + j] = v[j * n + t];
      else out[j * cols + t] = v[j * n + t];
    }
  }
  return out;
}

// tfjs-layers accepts only instances of its Initializer class, which it does not export; it is the
// parent class of every built-in initializer (tfjs is pinned at exactly 4.22.0).
type InitializerLike = tf.serialization.Serializable & { apply(shape: number[], dtype?: tf.DataType): tf.Tensor };
const InitializerBase = Object.getPrototypeOf(tf.initializers.zeros().constructor) as new () => InitializerLike;

export class SeededOrthogonal extends InitializerBase {
  static className = 'SeededOrthogonal';
  private readonly seed: number;
  private readonly gain: number;

  constructor(args: SeededOrthogonalArgs) {
    super();
    this.seed = args.seed;
    this.gain = args.gain ?? 1;
  }

  /** tfjs calls this with the weight's shape; the last axis is the column count. */
  override apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
    if (shape.length < 2) throw new Error(`SeededOrthogonal needs a matrix shape, got [${shape.join(', ')}]`);
    const cols = shape[shape.length - 1];
    const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const values = orthogonalMatrix(rows, cols, this.seed);
    return tf.tidy(() => tf.mul(tf.tensor(Float32Array.from(values), shape, dtype ?? 'float32'), this.gain));
  }

  static fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new (cls as unknown as new (args: SeededOrthogonalArgs) => T)({ seed: config.seed as number, gain: config.gain as number });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { seed: this.seed, gain: this.gain };
  }
}

tf.serialization.registerClass(SeededOrthogonal);
