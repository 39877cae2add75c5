// Single-clip feature API: WAV bytes or samples in, a time-major Float32 matrix out.
import * as fs from 'fs';

import { native, type FeatureMatrix } from '../native';
import { resolveFeatureConfig, type FeatureConfig, type FeatureOptions } from './config';

export interface ClipFeatures extends FeatureMatrix {
  config: FeatureConfig;
  /** Rate of the audio that came in (before resampling to config.sampleRate). */
  sourceSampleRate: number;
  seconds: number;
}

export interface SamplesInput {
  samples: Float32Array;
  /** Rate of `samples`; resampled to config.sampleRate when different. Defaults to config.sampleRate. */
  sampleRate?: number;
}

/** WAV bytes (decoded, mixed to mono, resampled) or raw samples to features. */
export function extractFeatures(input: Uint8Array | SamplesInput, options: FeatureOptions = {}): ClipFeatures {
  const config = resolveFeatureConfig(options);
  if (input instanceof Uint8Array) {
    const result = native.wavToFeatures(input, config);
    return { ...result, config };
  }
  const sourceRate = input.sampleRate ?? config.sampleRate;
  const samples =
    sourceRate === config.sampleRate ? input.samples : native.resample(input.samples, sourceRate, config.sampleRate);
  const matrix = native.computeFeatures(samples, config);
  return { ...matrix, config, sourceSampleRate: sourceRate, seconds: input.samples.length / sourceRate };
}

/** A file that cannot be read or decoded: the message names the file and the problem. */
export class ClipError extends Error {
  override name = 'ClipError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

export function extractFeaturesFromFile(file: string, options: FeatureOptions = {}): ClipFeatures {
  const config = resolveFeatureConfig(options);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new ClipError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message);
  }
  try {
    return extractFeatures(bytes, config);
  } catch (error) {
    throw new ClipError(file, (error as Error).message);
  }
}
