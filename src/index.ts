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
 * Importing the package loads no TensorFlow.js: the model functions (train, evaluate, loadModel,
 * predictFiles, demo) load it at their first call, and features, augmentation, synthesis and prepare
 * never do. `ser-native/features` is the features part alone.
 *
 * @packageDocumentation
 */

import type { DemoOptions, DemoSummary } from './demo/pipeline';
import type { EmotionModel, LoadModelOptions, Prediction, PredictFilesOptions } from './eval/model';
import type { EvaluateOptions, Evaluation } from './eval/evaluate';
import type { EvaluationFiles } from './report/write';
import type { TrainRunResult } from './train/run';
import type { TrainOptions } from './train/train-api';

export {
  AbortError, BackendUnavailableError, CacheConflictError, InputFileError, OptionsError, SerError,
} from './errors';

export {
  extractFeatures, extractFeaturesSync, featuresToFile,
  type AudioInput, type CallOptions, type ClipFeatures, type FeaturesFileSummary, type SamplesInput,
} from './clips/extract';
export {
  DEFAULT_FEATURE_CONFIG, FEATURE_OPTION_SPECS, resolveFeatureConfig,
  type CropSpec, type FeatureConfig, type FeatureOptions, type FeatureOptionSpec,
} from './features/config';
export { encodeWav16, writeWav16 } from './features/wav';
export type { NoiseColor, ShiftMode } from './native';

export { augment, planFromEffects, type AugmentedAudio, type AugmentEffects, type AugmentOptions } from './clips/augment';
export { DEFAULT_ONLINE_AUGMENT, type AugmentKind, type AugmentPlan, type AugmentSpec, type AugmentStep } from './augment/spec';
export { DEFAULT_SPEC_AUGMENT, parseSpecAugment, type SpecAugmentSpec } from './augment/spec-augment';

export { synthesize, type SynthesizeOptions, type SynthProgress } from './clips/synthesize';
export { SYNTH_DEFAULTS, type SynthClip, type SynthCorpus, type SynthOptions, type SynthSummary } from './synth/corpus';

export { prepare, PREPARE_DEFAULTS, type PrepareOptions } from './clips/prepare-api';
export type { PrepareProgress, PrepareSummary } from './clips/prepare';
export { merge, type MergeOptions, type MergeSummary } from './data/merge';
export { EMOTIONS, type Emotion } from './data/labels';
export { CORPORA, type CorpusChoice, type CorpusName } from './data/corpora';
export { defaultWorkerCount } from './workers/pool';

export { TRAIN_DEFAULTS } from './train/defaults';
export type { ModelPreset, TrainOptions } from './train/train-api';
export type { FoldResult, TrainRunResult, TrainSettings } from './train/run';
export type { EpochRecord, Preprocessing } from './train/checkpoint';
export type { EpochProgress, Monitor } from './train/loop';
export { NORMALISE_MODES, type NormaliseMode } from './features/normalise';

export type { EvaluationFiles } from './report/write';
export type { EvaluateOptions, Evaluation, FoldEvaluation } from './eval/evaluate';
export type { Metrics, Summary } from './train/metrics';

export type { EmotionModel, EmotionPrediction, LoadModelOptions, Prediction, PredictFilesOptions } from './eval/model';
export { readSpeakerMap } from './eval/speaker-map';
export { TIMELINE_DEFAULTS, type Timeline, type TimelineOptions, type TimelineSegment, type TimelineWindow } from './eval/timeline';
export { renderTimelinePage, writeTimelinePage } from './report/timeline';

export type { DemoOptions, DemoSummary } from './demo/pipeline';

export { BACKENDS, DEVICES, type BackendChoice, type BackendName, type DeviceChoice } from './backend/names';
export { gpuInfo, type GpuInfo } from './backend/gpu';
export { shutdown } from './shutdown';
export { PACKAGE_VERSION as version } from './version';

// The model functions: each loads its module, and with it TensorFlow.js (0.6-0.9 s), at its first call.
/* eslint-disable @typescript-eslint/no-require-imports */
const trainApi = () => require('./train/train-api') as typeof import('./train/train-api');
const modelApi = () => require('./eval/model') as typeof import('./eval/model');
const reportApi = () => require('./report/write') as typeof import('./report/write');
const demoApi = () => require('./demo/pipeline') as typeof import('./demo/pipeline');
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Trains the CNN-BiLSTM-attention model on a prepare cache into a run folder (speaker-independent by
 * default), with mixup, early stopping and learning-rate cuts. Aborting (options.signal) rejects with
 * an AbortError after the running step; `resume: true` then continues from the last finished epoch and
 * ends with the same weights as an uninterrupted run.
 */
export async function train(options: TrainOptions): Promise<TrainRunResult> {
  return trainApi().train(options);
}

/**
 * Evaluates a trained run on its held-out test speakers (every fold) and writes metrics.json,
 * confusion.svg, curves.svg and report.html into the run folder, as `ser eval` does.
 */
export async function evaluate(runDir: string, options: EvaluateOptions = {}): Promise<Evaluation & { files: EvaluationFiles }> {
  return reportApi().evaluate(runDir, options);
}

/** Loads a run folder from train (every fold) or one model folder, on the chosen backend. */
export async function loadModel(runOrModelDir: string, options: LoadModelOptions = {}): Promise<EmotionModel> {
  return modelApi().loadModel(runOrModelDir, options);
}

/**
 * Predicts files; a file that fails is reported in its place and the rest go on. With speaker
 * normalisation and a speaker map, every file's features are computed first, then predicted together.
 */
export async function predictFiles(model: EmotionModel, files: readonly string[], onResult?: (p: Prediction) => void, options: PredictFilesOptions = {}): Promise<Prediction[]> {
  return modelApi().predictFiles(model, files, onResult, options);
}

/** Runs the whole pipeline on a small synthetic corpus, as `ser demo` (`npm start`) does, under one folder. */
export async function demo(options: DemoOptions): Promise<DemoSummary> {
  return demoApi().runDemo(options);
}
