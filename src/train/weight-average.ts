// An exponential moving average of the trainable weights (Polyak averaging). On a few hundred clips the
// weights after any one step are a noisy draw around where training is heading; validation, the best
// model and so the reported result use the average, which moves far less from seed to seed.
import * as tf from '@tensorflow/tfjs';

export class WeightAverage {
  private readonly averages: tf.Variable[];

  /**
   * Starts the averages at the variables' current values. `names` identify them in checkpoints (the
   * layers' own weight names: tfjs suffixes variable names per model instance); default the variables'.
   */
  constructor(private readonly variables: readonly tf.Variable[], private readonly decay: number, private readonly names = variables.map((v) => v.name)) {
    if (!(decay > 0 && decay < 1)) throw new Error(`the weight-average decay must be in (0, 1), got ${decay}`);
    if (names.length !== variables.length) throw new Error(`${variables.length} variables need ${variables.length} names, got ${names.length}`);
    // Copies of the values, not shared buffers: the native backend's Adam updates weights in place.
    this.averages = variables.map((v) => {
      const copy = tf.tensor(v.dataSync().slice(), v.shape, v.dtype);
      const average = tf.variable(copy, false, `${v.name}/average_${WeightAverage.instances++}`);
      copy.dispose();
      return average;
    });
  }

  // Variable names are global to the tfjs engine; every average gets its own.
  private static instances = 0;

  /**
   * Folds the variables' values after optimizer step `step` (1-based) in. Early steps weigh more, as
   * TensorFlow's ExponentialMovingAverage with num_updates does: decay min(d, (1 + step) / (10 + step)).
   */
  update(step: number): void {
    const decay = this.decayAt(step);
    tf.tidy(() => {
      this.variables.forEach((v, i) => {
        this.averages[i].assign(tf.add(tf.mul(this.averages[i], decay), tf.mul(v, 1 - decay)));
      });
    });
  }

  /** The decay folded in after optimizer step `step` (1-based). */
  decayAt(step: number): number {
    return Math.min(this.decay, (1 + step) / (10 + step));
  }

  /** The averages themselves (the engine's whole-model step keeps its own copy and writes it back here). */
  get averageVariables(): readonly tf.Variable[] {
    return this.averages;
  }

  /** Runs `work` with the averages in the variables, then puts the trained values back. */
  async withAverages<T>(work: () => Promise<T> | T): Promise<T> {
    const trained = this.variables.map((v) => tf.clone(v));
    try {
      this.variables.forEach((v, i) => v.assign(this.averages[i]));
      return await work();
    } finally {
      this.variables.forEach((v, i) => v.assign(trained[i]));
      tf.dispose(trained);
    }
  }

  /** The averages, named after their variables, for a checkpoint. */
  named(): { name: string; tensor: tf.Tensor }[] {
    return this.averages.map((a, i) => ({ name: this.names[i], tensor: a }));
  }

  /** Puts averages saved by named() back; a missing or misshapen one is an error. */
  restore(saved: tf.NamedTensorMap, where: string): void {
    this.variables.forEach((v, i) => {
      const value = saved[this.names[i]];
      if (!value || value.shape.join('x') !== v.shape.join('x')) throw new Error(`${where}: no weight average for ${this.names[i]} of shape [${v.shape}]`);
      this.averages[i].assign(value);
    });
  }

  dispose(): void {
    tf.dispose(this.averages);
  }
}
