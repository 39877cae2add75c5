// The baseline every evaluation reports beside the model: a multinomial logistic regression on each
// clip's statistics (mean and standard deviation of every coefficient over its frames), fitted on the
// fold's own training rows and scored on exactly the model's test rows. If the deep model does not
// beat it clearly, the model has not earned its keep.
import type { CacheReader } from '../train/dataset';

/**
 * Per-row statistics: [mean of each coefficient, std of each coefficient], of each row as `standardise`
 * leaves it (the model's normalisation, so the baseline sees what the model sees), or raw.
 */
export function clipStatistics(reader: CacheReader, items: readonly number[], standardise?: (row: Float32Array, item: number) => void): Float64Array {
  const { frames, coeffs } = reader.manifest;
  const width = 2 * coeffs;
  const out = new Float64Array(items.length * width);
  const position = new Map<number, number>();
  items.forEach((item, i) => position.set(item, i));
  // Rows in shard order, so each shard is read once.
  reader.forEachRow([...position.keys()], (row, item) => {
    standardise?.(row, item);
    const o = (position.get(item) as number) * width;
    for (let c = 0; c < coeffs; c++) {
      let sum = 0;
      let squares = 0;
      for (let t = 0; t < frames; t++) {
        const v = row[t * coeffs + c];
        sum += v;
        squares += v * v;
      }
      const mean = sum / frames;
      out[o + c] = mean;
      out[o + coeffs + c] = Math.sqrt(Math.max(squares / frames - mean * mean, 0));
    }
  });
  // A repeated item gets the same statistics at each of its places.
  items.forEach((item, i) => {
    const first = position.get(item) as number;
    if (first !== i) out.copyWithin(i * width, first * width, (first + 1) * width);
  });
  return out;
}

export interface LogisticRegression {
  /** Feature standardisation fitted on the training rows. */
  mean: Float64Array;
  scale: Float64Array;
  /** [classes][features + 1]: weights, then the bias. */
  weights: Float64Array;
  classes: number;
  features: number;
}

export interface FitOptions {
  /** L2 penalty on the weights (not the biases), as scikit-learn's 1 / C per row; default 1e-3. */
  l2?: number;
  /** Full-batch iterations; default 300. */
  iterations?: number;
}

/**
 * Multinomial logistic regression by full-batch gradient descent with Nesterov momentum on standardised
 * features: deterministic, no dependency, and converged for the few hundred features and eight classes
 * here (the loss changes by less than 1e-6 per iteration at the end on the test corpora).
 */
export function fitLogisticRegression(x: Float64Array, labels: readonly number[], classes: number, options: FitOptions = {}): LogisticRegression {
  const rows = labels.length;
  if (rows === 0) throw new Error('the baseline needs training rows');
  const features = x.length / rows;
  const l2 = options.l2 ?? 1e-3;
  const iterations = options.iterations ?? 300;
  const mean = new Float64Array(features);
  const scale = new Float64Array(features);
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) mean[f] += x[r * features + f] / rows;
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) scale[f] += (x[r * features + f] - mean[f]) ** 2 / rows;
  for (let f = 0; f < features; f++) scale[f] = Math.sqrt(scale[f]) || 1;
  const z = new Float64Array(rows * features);
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) z[r * features + f] = (x[r * features + f] - mean[f]) / scale[f];

  const stride = features + 1;
  const w = new Float64Array(classes * stride);
  const velocity = new Float64Array(classes * stride);
  const gradient = new Float64Array(classes * stride);
  const ahead = new Float64Array(classes * stride);
  const p = new Float64Array(classes);
  const rate = 0.5;
  const momentum = 0.9;
  for (let it = 0; it < iterations; it++) {
    for (let k = 0; k < w.length; k++) ahead[k] = w[k] + momentum * velocity[k];
    gradient.fill(0);
    for (let r = 0; r < rows; r++) {
      const zr = r * features;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        let s = ahead[c * stride + features];
        for (let f = 0; f < features; f++) s += ahead[c * stride + f] * z[zr + f];
        p[c] = s;
        if (s > max) max = s;
      }
      let total = 0;
      for (let c = 0; c < classes; c++) {
        p[c] = Math.exp(p[c] - max);
        total += p[c];
      }
      for (let c = 0; c < classes; c++) {
        const g = (p[c] / total - (labels[r] === c ? 1 : 0)) / rows;
        for (let f = 0; f < features; f++) gradient[c * stride + f] += g * z[zr + f];
        gradient[c * stride + features] += g;
      }
    }
    for (let c = 0; c < classes; c++) for (let f = 0; f < features; f++) gradient[c * stride + f] += l2 * ahead[c * stride + f];
    for (let k = 0; k < w.length; k++) {
      velocity[k] = momentum * velocity[k] - rate * gradient[k];
      w[k] += velocity[k];
    }
  }
  return { mean, scale, weights: w, classes, features };
}

/** The most probable class of each row. */
export function predictLogisticRegression(model: LogisticRegression, x: Float64Array): number[] {
  const { features, classes, weights, mean, scale } = model;
  const stride = features + 1;
  const rows = x.length / features;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < classes; c++) {
      let s = weights[c * stride + features];
      for (let f = 0; f < features; f++) s += weights[c * stride + f] * ((x[r * features + f] - mean[f]) / scale[f]);
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    out.push(best);
  }
  return out;
}
