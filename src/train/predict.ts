// Class probabilities from a trained model for rows of features: cache rows (validation, evaluation)
// and the rows of files that EmotionModel.predict computes as prepare did.
import * as tf from '@tensorflow/tfjs';

import { fusedInferenceForward, NATIVE_BACKEND_NAME } from '../backend';
import { shardOrder } from '../data/rows';
import { standardiseRows } from '../features/normalise';
import { batchTensors, speakersOf, type CacheReader, type Normalisation } from './dataset';
import { PREDICT_BATCH_ROWS } from './defaults';

const fusedInference = new WeakMap<tf.LayersModel, (x: tf.Tensor) => tf.Tensor>();

/** model.predict, through the fused ops on the native backend (the plan is made once per model). */
function predictor(model: tf.LayersModel): (x: tf.Tensor) => tf.Tensor {
  const layered = (x: tf.Tensor) => model.predict(x) as tf.Tensor;
  if (tf.getBackend() !== NATIVE_BACKEND_NAME) return layered;
  let forward = fusedInference.get(model);
  if (!forward) {
    forward = fusedInferenceForward(model)?.forward ?? layered;
    fusedInference.set(model, forward);
  }
  return forward;
}

/**
 * Probabilities [count, classes] of one batch of rows, standardised in place first (the rows are the
 * caller's scratch). `speakers` as for predictFeatures.
 */
function predictBatchInPlace(
  model: tf.LayersModel, rows: Float32Array, count: number, norm: Normalisation, frames: number, coeffs: number,
  speakers?: readonly (string | undefined)[],
): Float32Array {
  standardiseRows(norm, rows, count, coeffs, speakers);
  const predict = predictor(model);
  const probabilities = tf.tidy(() => predict(batchTensors({ features: rows, labels: new Float32Array(count), size: count }, frames, coeffs).x));
  const values = probabilities.dataSync() as Float32Array;
  probabilities.dispose();
  return values;
}

/**
 * Probabilities [rows, classes] of features [rows, frames, coeffs], predicted in batches. `speakers`
 * names each row's speaker for speaker normalisation (a row without one is standardised on its own).
 * The caller's rows stay as they were.
 */
export function predictFeatures(
  model: tf.LayersModel, features: Float32Array, rows: number, norm: Normalisation, frames: number, coeffs: number,
  batchSize = PREDICT_BATCH_ROWS, speakers?: readonly (string | undefined)[],
): Float32Array {
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  const out = new Float32Array(rows * classes);
  const rowSize = frames * coeffs;
  if (features.length < rows * rowSize) throw new Error(`${features.length} feature values hold fewer than ${rows} rows of ${frames} x ${coeffs}`);
  // One copy buffer for every batch (a fresh one a batch pays each new page's first touch again).
  const scratch = new Float32Array(Math.min(batchSize, rows) * rowSize);
  for (let first = 0; first < rows; first += batchSize) {
    const size = Math.min(batchSize, rows - first);
    const batch = scratch.subarray(0, size * rowSize);
    batch.set(features.subarray(first * rowSize, (first + size) * rowSize));
    out.set(predictBatchInPlace(model, batch, size, norm, frames, coeffs, speakers?.slice(first, first + size)), first * classes);
  }
  return out;
}

/**
 * Probabilities of cache items (row k for items[k]), read in shard order (each shard once, front to
 * back) in batches, whatever order the items come in. Under speaker normalisation each row takes the
 * moments of its speaker, or of `keyOf(item)` when given; a row whose key has none, its own.
 */
export function predictItems(
  model: tf.LayersModel, reader: CacheReader, items: readonly number[], norm: Normalisation, batchSize = PREDICT_BATCH_ROWS,
  keyOf?: (item: number) => string | undefined,
): Float32Array {
  const { frames, coeffs } = reader.manifest;
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  const out = new Float32Array(items.length * classes);
  const positions = new Map<number, number[]>();
  items.forEach((item, k) => {
    const list = positions.get(item);
    if (list) list.push(k);
    else positions.set(item, [k]);
  });
  const ordered = shardOrder(reader.manifest.items, [...positions.keys()]);
  // One buffer for every batch (a fresh one a batch pays each new page's first touch again).
  const rows = new Float32Array(Math.min(batchSize, ordered.length) * reader.rowSize);
  for (let first = 0; first < ordered.length; first += batchSize) {
    const members = ordered.slice(first, first + batchSize);
    // Each row's moments are looked up by its speaker, or by the caller's key (enrolment).
    const keys = keyOf ? members.map(keyOf) : speakersOf(reader, members);
    const probabilities = predictBatchInPlace(model, reader.rows(members, rows), members.length, norm, frames, coeffs, keys);
    members.forEach((item, b) => {
      for (const k of positions.get(item) as number[]) out.set(probabilities.subarray(b * classes, (b + 1) * classes), k * classes);
    });
  }
  return out;
}

export function argmaxRows(probabilities: Float32Array, classes: number): number[] {
  const rows = probabilities.length / classes;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[r * classes + c] > probabilities[r * classes + best]) best = c;
    return best;
  });
}
