// Dropout whose mask is seeded by (layer seed, training step). tfjs's own Dropout with a seed draws the
// same mask at every step (it re-seeds its generator on each call); without a seed it draws from
// Math.random and runs cannot repeat or resume. The training loop sets the step before each update,
// and the step is saved in checkpoints, so a resumed run draws exactly the masks of an uninterrupted one.
// The mask comes from the addon's counter-based hash: the same on every backend and thread count, and
// drawn in C++ rather than by tfjs's JS generator (millions of draws a step for the seed model).
import * as tf from '@tensorflow/tfjs';

import { native } from '../native';

let currentStep = 0;

/** The global training step the next dropout masks are drawn for. */
export function setDropoutStep(step: number): void {
  currentStep = step;
}

export interface StepDropoutArgs {
  rate: number;
  seed: number;
  name?: string;
}

export class StepDropout extends tf.layers.Layer {
  static className = 'StepDropout';
  private readonly rate: number;
  private readonly seed: number;

  constructor(args: StepDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  /** The seed of this step's mask: distinct streams per layer and per step. */
  maskSeed(): number {
    return this.seed * 1_000_003 + currentStep;
  }

  get dropoutRate(): number {
    return this.rate;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs.training || this.rate === 0) return input;
    const mask = new Float32Array(input.size);
    native.dropoutMask(this.maskSeed(), this.rate, mask);
    return tf.mul(input, tf.tensor(mask, input.shape));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tf.serialization.registerClass(StepDropout);

/** For the fused training ops: a StepDropout's rate and this step's mask seed (null for other layers). */
export function stepDropoutMaskOf(layer: tf.layers.Layer): { rate: number; seed: number } | null {
  return layer instanceof StepDropout ? { rate: layer.dropoutRate, seed: layer.maskSeed() } : null;
}
