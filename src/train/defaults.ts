// The defaults of train() and `ser train`, defined once: the API fills them, the CLI shows them.
// Imports no TensorFlow.js, so the CLI's help and the package entry read them without loading it.
import type { NormaliseMode } from '../features/normalise';

/** Every default of train() that has a value (the rest default to off or to what the machine has). */
export const TRAIN_DEFAULTS = {
  model: 'seed',
  epochs: 100,
  batchSize: 32,
  lr: 1e-3,
  mixup: 0.2,
  patience: 15,
  lrPatience: 5,
  lrFactor: 0.5,
  minLr: 1e-5,
  monitor: 'val_loss',
  // Chosen on real speech: a lone clip scores best with global statistics (README, "Accuracy on real speech").
  normalize: 'global' as NormaliseMode,
  weightAverage: 0.99,
  seeds: 1,
  seed: 1,
  split: 'speaker',
  valFraction: 0.15,
  testFraction: 0.15,
  backend: 'auto',
} as const;
