// Piscina worker for online augmentation: kept audio rows in (transferred), freshly augmented feature
// rows out (transferred back). The clip keeps its length: effects that change duration are cropped or
// zero-padded back, as prepare crops every clip to one duration.
import { move } from 'piscina';

import { applyAugmentPlan, type AugmentPlan } from '../augment/spec';
import type { FeatureConfig } from '../features/config';
import { native } from '../native';
import { runInBackground } from './thread';

export interface AugmentFeatureTask {
  config: FeatureConfig;
  frames: number;
  coeffs: number;
  /** Clips of one length, back to back. */
  audio: Float32Array;
  clipLength: number;
  plans: AugmentPlan[];
}

/** The augmented features of one kept audio row, written into `out` (frames x coeffs). */
export function augmentedRowFeatures(
  audio: Float32Array,
  plan: AugmentPlan,
  task: Pick<AugmentFeatureTask, 'config' | 'frames' | 'coeffs'>,
  out: Float32Array,
): void {
  const augmented = applyAugmentPlan(audio, task.config.sampleRate, plan);
  const clip = new Float32Array(audio.length);
  clip.set(augmented.subarray(0, Math.min(augmented.length, clip.length)));
  const matrix = native.computeFeatures(clip, task.config);
  if (matrix.frames !== task.frames || matrix.coeffs !== task.coeffs) {
    throw new Error(`augmented features are ${matrix.frames}x${matrix.coeffs}, expected ${task.frames}x${task.coeffs}`);
  }
  out.set(matrix.data);
}

export default function augmentTask(task: AugmentFeatureTask): Float32Array {
  // Online augmentation is background work, as the training thread that asks for it.
  runInBackground();
  const rowSize = task.frames * task.coeffs;
  const out = new Float32Array(task.plans.length * rowSize);
  task.plans.forEach((plan, i) => {
    augmentedRowFeatures(task.audio.subarray(i * task.clipLength, (i + 1) * task.clipLength), plan, task, out.subarray(i * rowSize, (i + 1) * rowSize));
  });
  return move(out) as Float32Array;
}
