/**
 * ser-native: speech emotion recognition for Node.js with a C++ feature core.
 *
 * Everything `ser` does, as typed async functions: features of a clip, augmentation, a prepared
 * feature cache, training, evaluation and a loaded model that predicts. Work runs off the caller's
 * thread (the worker pool for audio, the TensorFlow.js backend for the model), long calls take an
 * AbortSignal, and errors are classes that name the file or option: InputFileError, OptionsError,
 * CacheConflictError, BackendUnavailableError, AbortError.
 *
 * @example
 * const { extractFeatures, loadModel } = require('ser-native');
 * const mfcc = await extractFeatures('clip.wav', { nMfcc: 40 });
 * const model = await loadModel('runs/seed');
 * console.log(await model.predict('clip.wav'));
 * model.dispose();
 *
 * @packageDocumentation
 */

export {
  AbortError, BackendUnavailableError, CacheConflictError, InputFileError, OptionsError, SerError,
} from './errors';

export {
  extractFeatures, extractFeaturesSync, featuresToFile,
  type AudioInput, type CallOptions, type ClipFeatures, type FeaturesFileSummary, type SamplesInput,
} from './features/extract';
export { DEFAULT_FEATURE_CONFIG, resolveFeatureConfig, type FeatureConfig, type FeatureOptions } from './features/config';
export { encodeWav16, writeWav16 } from './features/wav';

export { augment, planFromEffects, type AugmentedAudio, type AugmentEffects, type AugmentOptions } from './augment/effects';
export type { AugmentKind, AugmentPlan, AugmentSpec, AugmentStep } from './augment/spec';

export { synthesize, type SynthesizeOptions, type SynthProgress } from './synth/synthesize';
export type { SynthClip, SynthCorpus, SynthOptions, SynthSummary } from './synth/corpus';

export { prepare, type PrepareOptions } from './data/prepare-api';
export type { PrepareProgress, PrepareSummary } from './data/prepare';
export { merge, type MergeOptions, type MergeSummary } from './data/merge';
export { EMOTIONS, type Emotion } from './data/labels';
export type { CorpusChoice, CorpusName } from './data/corpora';

export { train, type ModelPreset, type TrainOptions } from './train/train-api';
export type { FoldResult, TrainRunResult, TrainSettings } from './train/run';
export type { EpochRecord, Preprocessing } from './train/checkpoint';
export type { EpochProgress, Monitor } from './train/loop';
export { NORMALISE_MODES, type NormaliseMode } from './features/normalise';

export { evaluate, type EvaluationFiles } from './report/write';
export type { EvaluateOptions, Evaluation, FoldEvaluation } from './eval/evaluate';
export type { Metrics, Summary } from './eval/metrics';

export {
  loadModel, EmotionModel, predictFiles, readSpeakerMap, type EmotionPrediction, type LoadModelOptions, type Prediction, type PredictFilesOptions,
} from './eval/model';
export type { Timeline, TimelineOptions, TimelineSegment, TimelineWindow } from './eval/timeline';
export { renderTimelinePage } from './report/timeline';

export { runDemo as demo, type DemoOptions, type DemoSummary } from './demo/pipeline';

export { BACKENDS, type BackendChoice, type BackendName } from './backend';
export { shutdown } from './shutdown';
export { PACKAGE_VERSION as version } from './version';
