// The seed architecture (DESIGN section 7): Conv2D blocks (BatchNorm, ReLU, MaxPool, Dropout) ->
// reshape to time steps -> bidirectional LSTM -> additive attention pooling -> softmax over emotions.
// Every layer but the step-seeded dropout is a stock tfjs layer (the attention pooling is composed of
// them), and the saved model names stock classes only, so plain @tensorflow/tfjs loads it.
import * as tf from '@tensorflow/tfjs';

import { StepDropout } from './dropout';
import { SeededOrthogonal } from './initializers';

export { MODEL_PRESETS, type ModelSizes } from './defaults';
import type { ModelSizes } from './defaults';

export interface ModelSpec {
  frames: number;
  coeffs: number;
  classes: number;
  sizes: ModelSizes;
  seed: number;
}

export function buildModel(spec: ModelSpec): tf.LayersModel {
  const { sizes } = spec;
  if (sizes.convFilters.length === 0) throw new Error('the model needs at least one Conv2D block');
  let seed = spec.seed;
  const nextSeed = () => seed++;
  const input = tf.input({ shape: [spec.frames, spec.coeffs, 1], name: 'features' });
  let x: tf.SymbolicTensor = input;
  let time = spec.frames;
  let freq = spec.coeffs;
  sizes.convFilters.forEach((filters, i) => {
    if (time < 2 || freq < 2) throw new Error(`input ${spec.frames} x ${spec.coeffs} is too small for ${sizes.convFilters.length} pooling blocks`);
    x = tf.layers.conv2d({
      filters, kernelSize: 3, padding: 'same', useBias: false, name: `conv${i + 1}`,
      kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }),
    }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `bn${i + 1}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: `relu${i + 1}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `pool${i + 1}` }).apply(x) as tf.SymbolicTensor;
    x = new StepDropout({ rate: sizes.dropout, seed: nextSeed(), name: `drop${i + 1}` }).apply(x) as tf.SymbolicTensor;
    time = Math.floor(time / 2);
    freq = Math.floor(freq / 2);
  });
  const channels = sizes.convFilters[sizes.convFilters.length - 1];
  x = tf.layers.reshape({ targetShape: [time, freq * channels], name: 'to_time_steps' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.bidirectional({
    // Named, so its weights are named the same in every model of the process (checkpoints match by name).
    layer: tf.layers.lstm({
      units: sizes.lstmUnits, returnSequences: true, name: 'lstm',
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
      recurrentInitializer: new SeededOrthogonal({ seed: nextSeed() }) as unknown as ReturnType<typeof tf.initializers.orthogonal>,
    }) as tf.RNN,
    name: 'bilstm',
  }).apply(x) as tf.SymbolicTensor;
  x = attentionPooling(x, sizes.attentionUnits, nextSeed());
  x = new StepDropout({ rate: sizes.dropout, seed: nextSeed(), name: 'drop_out' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers.dense({
    units: spec.classes, activation: 'softmax', name: 'emotion',
    kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'ser_cnn_bilstm_attention' });
}

/**
 * Additive (Bahdanau-style) attention pooling over time from stock layers: score_t = v . tanh(W h_t + b),
 * alpha = softmax over t, output = sum_t alpha_t h_t. Same weights and initial values as the earlier
 * AttentionPooling layer (kernel W and context v seeded with seed and seed + 1).
 */
function attentionPooling(sequence: tf.SymbolicTensor, units: number, seed: number): tf.SymbolicTensor {
  const hidden = tf.layers.dense({
    units, activation: 'tanh', name: 'attention_hidden', kernelInitializer: tf.initializers.glorotUniform({ seed }),
  }).apply(sequence) as tf.SymbolicTensor;
  const scores = tf.layers.dense({
    units: 1, useBias: false, name: 'attention_score', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
  }).apply(hidden) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'attention_scores' }).apply(scores) as tf.SymbolicTensor;
  const alpha = tf.layers.softmax({ axis: -1, name: 'attention_weights' }).apply(flat) as tf.SymbolicTensor;
  return tf.layers.dot({ axes: 1, name: 'attention' }).apply([alpha, sequence]) as tf.SymbolicTensor;
}
