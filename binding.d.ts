// Hand-written contract between TypeScript and the C++ addon (build/Release/ser_native.node).
// Every export of native/binding*.cc is declared here; src/native.ts is the only place that loads it.
// All functions are synchronous and throw an Error with a readable message on bad input.

export type FeatureKind = 'mfcc' | 'logmel' | 'power';
export type MelScale = 'slaney' | 'htk';
export type MelNorm = 'slaney' | 'none';

/** Every field is required at this level; src/features/config.ts fills defaults and validates. */
export interface NativeFeatureConfig {
  kind: FeatureKind;
  sampleRate: number;
  nFft: number;
  winLength: number;
  hopLength: number;
  nMels: number;
  nMfcc: number;
  fmin: number;
  fmax: number;
  melScale: MelScale;
  melNorm: MelNorm;
  /** dB below the clip's maximum to floor at; null: no floor. */
  topDb: number | null;
  center: boolean;
  power: number;
  ref: number;
  amin: number;
}

/** Time-major matrix: data[frame * coeffs + coeff]. */
export interface FeatureMatrix {
  data: Float32Array;
  frames: number;
  coeffs: number;
}

export interface WavFeatures extends FeatureMatrix {
  /** The file's own rate (the audio was resampled to config.sampleRate when it differed). */
  sourceSampleRate: number;
  /** Duration of the file's audio. */
  seconds: number;
}

export interface DecodedWav {
  sampleRate: number;
  channels: number;
  /** Container size of one sample. */
  bitsPerSample: number;
  sampleFormat: 'pcm' | 'float';
  /** Mono: the mean of the channels; integer PCM scaled like soundfile (int16 / 32768, ...). */
  samples: Float32Array;
}

export interface MelOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fmin: number;
  fmax: number;
  melScale: MelScale;
  melNorm: MelNorm;
}

/** Row-major [rows][cols]. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export function decodeWav(bytes: Uint8Array | ArrayBuffer): DecodedWav;
/** 16-bit PCM mono WAV; samples outside [-1, 1) are clipped. */
export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array;
/** scipy.signal.resample_poly(x, up, down) with up/down = toRate/fromRate reduced; length ceil(n * up / down). */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array;
export function computeFeatures(samples: Float32Array, config: NativeFeatureConfig): FeatureMatrix;
/** What clipRowInto did. */
export interface ClipRowResult {
  /** The file's own rate (the clip was resampled to config.sampleRate when it differed). */
  sourceSampleRate: number;
  /** Length of the file's audio (seconds, at its own rate). */
  seconds: number;
  /** Samples of the clip at config.sampleRate. */
  resampledLength: number;
  /** False when the clip has no more than cropStart samples: nothing was written. */
  written: boolean;
}
/**
 * One cache row, as prepare writes it: the WAV at config.sampleRate, cropped to cropLength samples from
 * cropStart (zeros past its end), its features written into `features` (frames x coeffs of cropLength
 * samples) and the cropped audio into `audio` when given. The same values as decodeWav, resample, the
 * crop and computeFeatures, without the arrays in between.
 */
export function clipRowInto(
  bytes: Uint8Array | ArrayBuffer,
  config: NativeFeatureConfig,
  cropStart: number,
  cropLength: number,
  features: Float32Array,
  audio?: Float32Array | null,
): ClipRowResult;
/** decodeWav + resample to config.sampleRate + computeFeatures in one call. */
export function wavToFeatures(bytes: Uint8Array | ArrayBuffer, config: NativeFeatureConfig): WavFeatures;
/**
 * wavToFeatures of a WAV file of at most maxBytes, read and computed on libuv's thread pool (N-API
 * async work); null for a longer file or one that is not a regular file (stream it instead). Rejects
 * with an Error whose message says what is wrong ('no such file', 'is a directory', a WAV error); the
 * caller names the file. Bad arguments (path, config, maxBytes) throw at the call.
 */
export function wavFileToFeatures(path: string, config: NativeFeatureConfig, maxBytes: number): Promise<WavFeatures | null>;

export interface FeatureStreamInfo {
  /** Whether the WAV header has been read (the fields below are null until then). */
  headerKnown: boolean;
  sampleRate: number | null;
  channels: number | null;
  bitsPerSample: number | null;
  /** Sample frames of the file decoded so far. */
  sourceFrames: number;
  /** Feature rows completed so far. */
  frames: number;
  /** Values per unfloored row: nMels (logmel, mfcc) or nFft/2 + 1 (power). */
  unflooredWidth: number;
  /** Values per finished row. */
  coeffs: number;
}

/**
 * Features of a WAV file of any length, fed a block of bytes at a time (decoding, resampling and framing
 * carry their state across blocks): the rows equal wavToFeatures of the whole file. push() and finish()
 * return the rows they completed before the top_db floor, which needs the whole file's maximum;
 * finishRows() floors such rows (and takes the DCT for mfcc) once finish() has been called.
 */
export class FeatureStream {
  constructor(config: NativeFeatureConfig);
  push(bytes: Uint8Array): Float32Array;
  /** keepRows: the rows stay in the stream for keptFeatures(). */
  push(bytes: Uint8Array, keepRows: true): null;
  finish(): Float32Array;
  finish(keepRows: true): null;
  finishRows(unfloored: Float32Array): Float32Array;
  /** After finish(): the features of the rows kept in the stream, floored, as one array; the rows are dropped. */
  keptFeatures(): Float32Array;
  info(): FeatureStreamInfo;
  /** Frees the stream's native buffers now (V8 does not see them); any later call throws. */
  release(): void;
}

export interface AudioStreamInfo {
  headerKnown: boolean;
  sampleRate: number | null;
  channels: number | null;
  bitsPerSample: number | null;
  /** Sample frames of the file decoded so far. */
  sourceFrames: number;
}

/**
 * WAV bytes fed a block at a time to mono samples at targetRate: equal to resample(decodeWav(file).samples)
 * of the whole file. push() and finish() return the samples they completed.
 */
export class AudioStream {
  constructor(targetRate: number);
  push(bytes: Uint8Array): Float32Array;
  finish(): Float32Array;
  info(): AudioStreamInfo;
  /** Frees the stream's native buffers now (V8 does not see them); any later call throws. */
  release(): void;
}

/** librosa.filters.mel: [nMels][nFft/2 + 1]. */
export function melFilterbank(options: MelOptions): Matrix;
/**
 * Real FFT of each row of `frames` (rows of nFft samples, nFft even): bins 0..nFft/2 interleaved re/im,
 * unnormalised. Writes into `output` when given (length rows * (nFft/2 + 1) * 2).
 */
export function rfft(frames: Float32Array, nFft: number, output?: Float32Array): Float32Array;

// --- feature rows made ready for a model (native/dsp/standardise.cc): the bits of the JavaScript
// definitions in the comments. ---
/**
 * In place, frame by frame (values: frames x coeffs): v = (v - mean[c]) / std[c]. Throws when values
 * are not whole frames or mean/std do not hold coeffs floats.
 */
export function standardiseFrames(values: Float32Array, coeffs: number, mean: Float32Array, std: Float32Array): void;
/**
 * Mixup: out row r = fround(own * row r) + fround(other * row partner[r]) (rounded to float), values
 * holding `rows` rows of equal width; own and other are taken as floats (pass Math.fround of them;
 * beyond float's range throws). out has values' length and must not overlap it; every partner is a row
 * index.
 */
export function mixRows(values: Float32Array, rows: number, partner: Int32Array, own: number, other: number, out: Float32Array): void;

// --- augmentation (native/dsp/augment.cc). Inputs must be non-empty and finite; bad parameters throw. ---

/** Colour of added noise: flat (white) or 1/f (pink). */
export type NoiseColor = 'white' | 'pink';
/** A time shift rolls the clip around, or shifts it in with zeros. */
export type ShiftMode = 'roll' | 'zero';

/** The accepted parameter ranges, defined once in native/dsp/augment.h. */
export interface AugmentLimits {
  /** Range of timeStretch rates and changeSpeed factors. */
  readonly minRate: number;
  readonly maxRate: number;
  /** pitchShift accepts |semitones| up to this. */
  readonly maxSemitones: number;
  readonly minSnrDb: number;
  readonly maxSnrDb: number;
}
export const augmentLimits: AugmentLimits;

/** The feature configuration's limits, defined once in native/dsp (features.h, fft.h, resample.h). */
export interface FeatureLimits {
  /** Highest sample rate, Hz (resample.h). */
  readonly maxSampleRate: number;
  /** Largest nFft. */
  readonly maxFftSize: number;
  /** nFft / 2 may have no prime factor above this (fft.h: the mixed-radix FFT's largest radix). */
  readonly maxFftPrimeFactor: number;
  /** Most mel bands. */
  readonly maxMels: number;
  /** nMels x (nFft / 2 + 1) at most: the dense mel basis. */
  readonly maxMelBasisFloats: number;
}
export const featureLimits: FeatureLimits;

/** x plus Gaussian noise (pink: -3 dB/octave) scaled so 20 log10(rms(x) / rms(noise)) = snrDb. Silent x throws. */
export function addNoise(samples: Float32Array, snrDb: number, seed: number, color?: NoiseColor): Float32Array;
/** Positive shiftSamples moves the audio later; roll wraps around, zero fills with silence. Same length. */
export function timeShift(samples: Float32Array, shiftSamples: number, mode: ShiftMode): Float32Array;
/** WSOLA: tempo times `rate` (> 1 faster) at unchanged pitch; length round(n / rate). */
export function timeStretch(samples: Float32Array, rate: number, sampleRate: number): Float32Array;
/** Pitch times 2^(semitones / 12), same length: stretch, then resample (librosa's recipe). */
export function pitchShift(samples: Float32Array, semitones: number, sampleRate: number): Float32Array;
/** Pitch and tempo times `factor` (resampling only); length about n / factor. */
export function changeSpeed(samples: Float32Array, factor: number): Float32Array;

// --- training kernels (native/nn/gemm.cc, native/nn/conv.cc) for the `native` TensorFlow.js backend. ---
// The caller allocates every output; lengths are checked and a mismatch throws. Row-major float32.

/**
 * out[i] = op(a[i]) x op(b[i]) for i < batch, where op transposes when asked; op(a) is m x k, op(b) k x n.
 * a or b may hold a single matrix, which every batch entry then shares.
 */
export function matMul(
  a: Float32Array, b: Float32Array, out: Float32Array,
  batch: number, m: number, n: number, k: number, transposeA: boolean, transposeB: boolean,
): void;

/** NHWC convolution geometry, as tfjs's computeConv2DInfo reports it (filters are [fh, fw, inC, outC]). */
export interface Conv2DGeometry {
  batch: number; inHeight: number; inWidth: number; inChannels: number;
  outHeight: number; outWidth: number; outChannels: number;
  filterHeight: number; filterWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  padTop: number; padLeft: number;
}
/** y = conv2d(x, filter); y is overwritten. */
export function conv2d(x: Float32Array, filter: Float32Array, y: Float32Array, geometry: Conv2DGeometry): void;
/** dx = gradient of conv2d with respect to x, from dy; dx is overwritten. */
export function conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Conv2DGeometry): void;
/** dFilter = gradient of conv2d with respect to the filter, from x and dy; dFilter is overwritten. */
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dFilter: Float32Array, geometry: Conv2DGeometry): void;
/** The GEMM micro-kernel chosen at load time: 'avx512', 'avx2' or 'portable' (SER_GEMM_ISA caps it). */
export function gemmIsa(): 'avx512' | 'avx2' | 'portable';

/** What the addon knows of an NVIDIA GPU (native/nn/gpu.h's probeGpu); never throws. */
export interface GpuInfo {
  /** The addon was compiled with CUDA (SER_CUDA=ON). */
  built: boolean;
  /** A device, its driver and cuBLAS 13 can be used now. */
  available: boolean;
  /** Why not, when not available. */
  reason: string | null;
  deviceCount: number;
  /** Device 0's name, when a device answered. */
  name: string | null;
  /** Device 0's compute capability, e.g. '9.0'. */
  computeCapability: string | null;
  memoryBytes: number;
  /** CUDA's encoding, 1000 x major + 10 x minor; 0 when unknown. */
  driverVersion: number;
  runtimeVersion: number;
}
export function gpuInfo(): GpuInfo;

// --- elementwise, reductions, pooling and copies (native/nn/elementwise.cc, reduce.cc, pool.cc, layout.cc) ---

/** out = op(a, b) with NumPy broadcasting of aShape and bShape; shapes that do not broadcast throw. */
export function binaryOp(
  op: 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'squaredDifference',
  a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[], out: Float32Array,
): void;
/** relu: max(x, 0); step: x > 0 ? 1 : alpha (the ReLU gradient mask), NaN stays NaN; floor; square; tanh (within 2 ulp of libm's, vectorised). */
export function unaryOp(op: 'relu' | 'step' | 'floor' | 'square' | 'tanh', x: Float32Array, alpha: number, out: Float32Array): void;
/** out = scale * (sum of x over `axes`), the kept axes in order; sums accumulate in double. */
export function reduceSum(x: Float32Array, shape: readonly number[], axes: readonly number[], scale: number, out: Float32Array): void;

/** NHWC pooling geometry, as tfjs's computePool2DInfo reports it. */
export interface Pool2DGeometry {
  batch: number; inHeight: number; inWidth: number; channels: number;
  outHeight: number; outWidth: number; filterHeight: number; filterWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  padTop: number; padLeft: number;
}
/** y = the largest x of each window (padding never wins). */
export function maxPool(x: Float32Array, y: Float32Array, geometry: Pool2DGeometry): void;
/** dx = dy routed to the first largest x of each window; dx is overwritten. */
export function maxPoolBackprop(dy: Float32Array, x: Float32Array, dx: Float32Array, geometry: Pool2DGeometry): void;

/** out = x[begin : begin + size] on every axis. */
export function slice(x: Float32Array, shape: readonly number[], begin: readonly number[], size: readonly number[], out: Float32Array): void;
/** out = x repeated reps[axis] times along each axis. */
export function tile(x: Float32Array, shape: readonly number[], reps: readonly number[], out: Float32Array): void;
/** out = x with the listed axes reversed. */
export function reverse(x: Float32Array, shape: readonly number[], axes: readonly number[], out: Float32Array): void;
/** out = x with axis d of the output taken from axis perm[d] of x. */
export function transpose(x: Float32Array, shape: readonly number[], perm: readonly number[], out: Float32Array): void;

// --- the training engine's fused ops and thread pool (native/nn) -----------------------------------

/** Threads the training kernels use, the caller included (1..256). Results never depend on it. */
export function setThreads(threads: number): void;
export function threadCount(): number;

export type LstmGateActivation = 'hardSigmoid' | 'sigmoid';

export interface LstmShape {
  batch: number;
  steps: number;
  inputSize: number;
  units: number;
  /** The recurrent (gate) activation; tfjs-layers' LSTM default is hardSigmoid. */
  gates: LstmGateActivation;
}

/** One direction's weights in tfjs-layers' layout: kernel [inputSize, 4 units], recurrent [units, 4 units], bias [4 units]. */
export interface LstmWeights {
  kernel: Float32Array;
  recurrent: Float32Array;
  bias: Float32Array | null;
}

/** Floats the forward pass keeps for the backward pass. */
export function bilstmWorkspaceFloats(shape: LstmShape): number;
/** x [batch, steps, inputSize] -> y [batch, steps, 2 units] (forward direction's h, then the backward direction's). */
export function bilstmForward(shape: LstmShape, x: Float32Array, forward: LstmWeights, backward: LstmWeights, y: Float32Array, workspace: Float32Array): void;
/** Backpropagation through time; the gradients are overwritten and the workspace is clobbered. dx may be null. */
export function bilstmBackward(
  shape: LstmShape, forward: LstmWeights, backward: LstmWeights, workspace: Float32Array, dy: Float32Array,
  dx: Float32Array | null, dForward: LstmWeights, dBackward: LstmWeights,
): void;

/** Conv2D (no bias) -> batch norm on the batch's statistics -> ReLU -> max pooling (window = stride, no padding). */
export interface ConvBlockShape {
  conv: Conv2DGeometry;
  poolHeight: number;
  poolWidth: number;
  epsilon: number;
  /** Dropout folded onto the pooled output (default 0: none); its mask is dropoutMask(dropoutSeed, ...)'s. */
  dropoutRate?: number;
  dropoutSeed?: number;
}

export function convBlockWorkspaceFloats(block: ConvBlockShape): number;
/** y [batch, outHeight / poolHeight, outWidth / poolWidth, channels]; the batch's mean and variance [channels]. */
export function convBlockForward(
  block: ConvBlockShape, x: Float32Array, filter: Float32Array, gamma: Float32Array, beta: Float32Array,
  y: Float32Array, batchMean: Float32Array, batchVariance: Float32Array, workspace: Float32Array,
): void;
/** Inference: batch norm with the given (moving) statistics, no dropout; the workspace is scratch. */
export function convBlockInfer(
  block: ConvBlockShape, x: Float32Array, filter: Float32Array, gamma: Float32Array, beta: Float32Array,
  mean: Float32Array, variance: Float32Array, y: Float32Array, workspace: Float32Array,
): void;
/** dx may be null; the workspace is the forward pass's and is clobbered. */
export function convBlockBackward(
  block: ConvBlockShape, x: Float32Array, filter: Float32Array, gamma: Float32Array, batchMean: Float32Array, batchVariance: Float32Array, workspace: Float32Array, dy: Float32Array,
  dx: Float32Array | null, dFilter: Float32Array, dGamma: Float32Array, dBeta: Float32Array,
): void;

/** One Adam step of a variable with tfjs's Adam arithmetic; the three outputs are overwritten. */
export interface AdamStep {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  /** 1 - beta1^t and 1 - beta2^t, as float32. */
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  /** 1 - beta1 and 1 - beta2. */
  oneMinusBeta1: number;
  oneMinusBeta2: number;
}
export function adamUpdate(
  step: AdamStep, value: Float32Array, m: Float32Array, v: Float32Array, gradient: Float32Array,
  newValue: Float32Array, newM: Float32Array, newV: Float32Array,
): void;

/** Fills out with a dropout mask: 1 / (1 - rate) where kept, else 0; a function of (seed, index) alone. */
export function dropoutMask(seed: number, rate: number, out: Float32Array): void;

/** Where the engine's time went since the last reset (for the benchmark). */
export interface EngineCounters {
  /** Kernel calls from JS and their wall time. */
  kernelCalls: number;
  kernelSeconds: number;
  /** Time inside GEMM, summed over the pool's threads. */
  gemmThreadSeconds: number;
}
export function engineCounters(): EngineCounters;
export function resetEngineCounters(): void;

// --- the whole-model training step (native/nn/model_step.h, native/binding_trainer.cc) ---

/** Where a trainer keeps its tensors and runs its steps. */
export type StepDevice = 'cpu' | 'gpu';
/** An engine trainer (opaque); freed by trainerDispose, or when collected. */
export interface TrainerHandle { readonly __trainer: unique symbol }
/** The model of src/train/model.ts: 3 x 3 'same' conv blocks pooled 2 x 2, BiLSTM, attention pooling, dense softmax. */
export interface TrainerConfig {
  maxBatch: number; frames: number; coeffs: number; classes: number;
  convFilters: readonly number[]; lstmUnits: number; attentionUnits: number;
  /** After each block and after the attention pooling. */
  dropoutRate: number;
  batchNormMomentum: number; batchNormEpsilon: number;
  gates: LstmGateActivation;
}
/** Throws with the reason when device is 'gpu' and no GPU can be used (always in a build without CUDA). */
export function createTrainer(config: TrainerConfig, device: StepDevice): TrainerHandle;
/** The trainer's tensors: the model's weights in tfjs order, then name/m, name/v per trainable weight, then name/average. */
export function trainerTensors(trainer: TrainerHandle): { name: string; shape: number[] }[];
export function trainerDevice(trainer: TrainerHandle): StepDevice;
/** Whole tensors by index into trainerTensors(); the length must be the tensor's size. */
export function trainerWrite(trainer: TrainerHandle, index: number, values: Float32Array): void;
export function trainerRead(trainer: TrainerHandle, index: number, out: Float32Array): void;
export interface TrainerStepInputs {
  /** [batch, frames, coeffs] and [batch, classes] (targets may be mixed). */
  x: Float32Array; y: Float32Array; batch: number;
  classWeights: Float32Array | null;
  adam: AdamStep;
  /** One per convolution block, then the one after the attention pooling. */
  dropoutSeeds: readonly number[];
  /** The weight average's decay this step and 1 - decay (computed in double), or null: no average. */
  averageDecay: number | null;
  averageOneMinusDecay: number | null;
}
/** One training step; loss is the batch's mean cross-entropy, hits the rows whose top class is the target's. */
export function trainerStep(trainer: TrainerHandle, inputs: TrainerStepInputs): { loss: number; hits: number };
export function trainerDispose(trainer: TrainerHandle): void;

// --- the process's allocator settings (native/binding_memory.cc) ---

/** What the module's allocator settings came to in this process (glibc on Linux; elsewhere all off).
 * Growth not yet advised is advised first, so the record describes the heap as it is at the call. */
export interface HeapAdvice {
  /** glibc's trim and mmap thresholds were set (false where the user set their own glibc options). */
  glibcTuned: boolean;
  /** How far the main heap (glibc's brk heap) has grown since the module loaded. */
  heapGrowthBytes: number;
  /** The huge page size the main heap's growth is marked with; 0 where it is not marked. */
  hugePageBytes: number;
  /** Bytes of heap growth the kernel accepted the huge-page advice for, and refused it for. */
  advisedBytes: number;
  refusedBytes: number;
  /** errno of the last refusal (0 if none). */
  lastRefusalErrno: number;
}
export function heapAdvice(): HeapAdvice;
