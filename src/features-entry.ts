/**
 * `ser-native/features`: features of audio alone (WAV decoding, resampling, log-mel, MFCC equal to
 * librosa's definitions), for callers who never train or predict. Loads the addon and the worker pool,
 * never TensorFlow.js.
 *
 * @example
 * import { extractFeatures } from 'ser-native/features';
 * const { data, frames, coeffs } = await extractFeatures('clip.wav', { nMfcc: 40 });
 *
 * @packageDocumentation
 */

export {
  AbortError, InputFileError, OptionsError, SerError,
} from './errors';
export {
  extractFeatures, extractFeaturesSync, featuresToFile,
  type AudioInput, type CallOptions, type ClipFeatures, type FeaturesFileSummary, type SamplesInput,
} from './clips/extract';
export {
  DEFAULT_FEATURE_CONFIG, FEATURE_OPTION_SPECS, resolveFeatureConfig,
  type FeatureConfig, type FeatureOptions, type FeatureOptionSpec,
} from './features/config';
export { encodeWav16, writeWav16 } from './features/wav';
export { shutdown } from './shutdown';
