// Class probabilities from a trained model for rows of features: cache rows (validation, evaluation)
// and the rows of files that EmotionModel.predict computes as prepare did.
import * as tf from '@tensorflow/tfjs';

import { fusedInferenceForward, NATIVE_BACKEND_NAME } from '../backend';
import { batchTensors, speakersOf, type CacheReader, type Normalisation } from '../train/dataset';

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
 * Probabilities [rows, classes] of features [rows, frames, coeffs], predicted in batches. `speakers`
 * names each row's speaker for speaker normalisation (a row without one is standardised on its own).
 */
export function predictFeatures(
  model: tf.LayersModel, features: Float32Array, rows: number, norm: Normalisation, frames: number, coeffs: number,
  batchSize = 64, speakers?: readonly (string | undefined)[],
): Float32Array {
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  const out = new Float32Array(rows * classes);
  const rowSize = frames * coeffs;
  const predict = predictor(model);
  for (let first = 0; first < rows; first += batchSize) {
    const size = Math.min(batchSize, rows - first);
    const batch = {
      features: features.subarray(first * rowSize, (first + size) * rowSize), labels: new Float32Array(size), size, mixup: null,
      speakers: speakers?.slice(first, first + size),
    };
    const probabilities = tf.tidy(() => predict(batchTensors(batch, norm, frames, coeffs).x));
    out.set(probabilities.dataSync(), first * classes);
    probabilities.dispose();
  }
  return out;
}

/** Probabilities of cache items, gathered batch by batch from the shards. */
export function predictItems(model: tf.LayersModel, reader: CacheReader, items: readonly number[], norm: Normalisation, batchSize = 64): Float32Array {
  const { frames, coeffs } = reader.manifest;
  const classes = (model.outputs[0].shape[1] ?? 0) as number;
  const out = new Float32Array(items.length * classes);
  for (let first = 0; first < items.length; first += batchSize) {
    const members = items.slice(first, first + batchSize);
    const features = new Float32Array(members.length * reader.rowSize);
    members.forEach((item, b) => features.set(reader.row(item), b * reader.rowSize));
    out.set(predictFeatures(model, features, members.length, norm, frames, coeffs, batchSize, speakersOf(reader, members)), first * classes);
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
