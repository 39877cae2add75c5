// Additive (Bahdanau-style) attention pooling over time: score_t = v . tanh(W h_t + b),
// alpha = softmax_t(score), output = sum_t alpha_t h_t. A Layer that serialises with the model.
import * as tf from '@tensorflow/tfjs';

export interface AttentionPoolingArgs {
  units: number;
  seed?: number;
  name?: string;
  trainable?: boolean;
}

export class AttentionPooling extends tf.layers.Layer {
  static className = 'AttentionPooling';
  private readonly units: number;
  private readonly seed: number | undefined;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;
  private context: tf.LayerVariable | null = null;

  constructor(args: AttentionPoolingArgs) {
    super({ name: args.name, trainable: args.trainable });
    if (!Number.isInteger(args.units) || args.units < 1) throw new Error(`AttentionPooling units must be a positive integer, got ${args.units}`);
    this.units = args.units;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const features = shape[shape.length - 1];
    if (shape.length !== 3 || features === null) throw new Error(`AttentionPooling expects [batch, time, features], got [${shape.join(', ')}]`);
    const seed = this.seed;
    this.kernel = this.addWeight('kernel', [features, this.units], 'float32', tf.initializers.glorotUniform({ seed }));
    this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros());
    this.context = this.addWeight('context', [this.units, 1], 'float32', tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + 1 }));
    this.built = true;
  }

  /** alpha [batch, time]: the weight of each time step; each row sums to 1. */
  attentionWeights(sequence: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      if (!this.kernel || !this.bias || !this.context) throw new Error('AttentionPooling used before it was built');
      const [batch, time, features] = sequence.shape;
      const flat = tf.reshape(sequence, [batch * time, features]);
      const hidden = tf.tanh(tf.add(tf.matMul(flat, this.kernel.read()), this.bias.read()));
      const scores = tf.reshape(tf.matMul(hidden, this.context.read()), [batch, time]);
      return tf.softmax(scores, -1) as tf.Tensor2D;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const sequence = Array.isArray(inputs) ? inputs[0] : inputs;
      const alpha = this.attentionWeights(sequence);
      return tf.sum(tf.mul(sequence, tf.expandDims(alpha, -1)), 1);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0], shape[2]];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, seed: this.seed ?? null };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const args = { ...config, seed: config.seed === null ? undefined : (config.seed as number) } as unknown as ConstructorParameters<typeof AttentionPooling>[0];
    return new (cls as unknown as new (a: AttentionPoolingArgs) => T)(args);
  }
}

tf.serialization.registerClass(AttentionPooling);
