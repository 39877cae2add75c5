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
  device: 'auto',
} as const;

/** The sizes of the model's layers. */
export interface ModelSizes {
  /** Filters of each Conv2D block; each block halves time and frequency. */
  convFilters: number[];
  lstmUnits: number;
  attentionUnits: number;
  dropout: number;
}

export const MODEL_PRESETS: Readonly<Record<'seed' | 'small', Readonly<ModelSizes>>> = {
  // About 800k parameters on 301 x 40 MFCC input, as the seed model.
  seed: { convFilters: [32, 64, 128], lstmUnits: 112, attentionUnits: 128, dropout: 0.3 },
  // Fast enough to train in tests and the demo on 2 cores.
  small: { convFilters: [8, 16], lstmUnits: 16, attentionUnits: 16, dropout: 0.2 },
};

/** What early stopping, the best-epoch choice and the learning-rate cuts watch: val_loss lower is better, val_uar higher (watched as its negative). */
export type Monitor = 'val_loss' | 'val_uar';

/**
 * Rows scored per forward pass. The seed preset's first block holds about 1.5 MB of activations a row
 * several times over; 16 rows kept the peak RSS of a training run with validation at 442 MiB against
 * 656 MiB with 64 (seed preset), and scored 640 rows within 5% of 64-row batches (1.85 against 1.78 ms a row).
 */
export const PREDICT_BATCH_ROWS = 16;
