// Adam whose update of each variable is one addon call on the `native` backend (tfjs's Adam makes about
// a dozen elementwise kernels of each: 240 of a seed-model step's kernel calls). The arithmetic is
// tfjs's, op for op; the state (moments, accumulated beta powers, iterations) lives in the same fields,
// so checkpoints save and restore it as they do tfjs's Adam. On other backends it is tfjs's Adam.
import * as tf from '@tensorflow/tfjs';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { native } from '../native';
import { NATIVE_BACKEND_NAME } from './native-backend';
import { float32Values, outputArray } from './native-kernel-util';

interface Moment {
  originalName: string;
  variable: tf.Variable;
}

/** The fields tfjs 4.22's AdamOptimizer keeps its state in (TypeScript-private there). */
export interface AdamFields {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Moment[];
  accumulatedSecondMoment: Moment[];
}

export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const backend = tf.backend() as MathBackendCPU;
    if (tf.getBackend() !== NATIVE_BACKEND_NAME) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamFields;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const values = (tensor: tf.Tensor, what: string): Float32Array => {
      const array = float32Values(backend, tensor);
      if (!array) throw new Error(`Adam: ${what} is not a float32 tensor of the native backend`);
      return array;
    };
    tf.tidy(() => {
      const step = {
        beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon, learningRate: self.learningRate,
        // As tfjs's sub(1, accBeta) and its scalars 1 - beta: rounded to float32.
        oneMinusAccBeta1: Math.fround(1 - values(self.accBeta1, 'accBeta1')[0]),
        oneMinusAccBeta2: Math.fround(1 - values(self.accBeta2, 'accBeta2')[0]),
        oneMinusBeta1: 1 - self.beta1,
        oneMinusBeta2: 1 - self.beta2,
      };
      names.forEach((name, i) => {
        const variable = tf.engine().registeredVariables[name];
        self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(variable).variable(false)) };
        self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(variable).variable(false)) };
        const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i].variable;
        const v = self.accumulatedSecondMoment[i].variable;
        const count = variable.size;
        const [newValue, newM, newV] = [outputArray(backend, count), outputArray(backend, count), outputArray(backend, count)];
        native.adamUpdate(step, values(variable, name), values(m, `${name}/m`), values(v, `${name}/v`), values(gradient, `${name} gradient`), newValue, newM, newV);
        m.assign(tf.tensor(newM, m.shape));
        v.assign(tf.tensor(newV, v.shape));
        variable.assign(tf.tensor(newValue, variable.shape));
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/** Adam for training on the current backend: one addon call per variable on `native`, tfjs's elsewhere. */
export function createAdam(learningRate: number): tf.AdamOptimizer {
  return tf.getBackend() === NATIVE_BACKEND_NAME ? new FusedAdam(learningRate, 0.9, 0.999) : tf.train.adam(learningRate);
}
