// The one place that loads the addon. Everything else imports the typed functions from here.
import * as path from 'path';
import type * as Binding from '../binding';

function loadAddon(): typeof Binding {
  // dist/src/native.js and src/native.ts (under jest) both sit two levels below the package root.
  const candidates = [
    path.resolve(__dirname, '..', 'build', 'Release', 'ser_native.node'),
    path.resolve(__dirname, '..', '..', 'build', 'Release', 'ser_native.node'),
  ];
  const errors: string[] = [];
  for (const file of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(file) as typeof Binding;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'MODULE_NOT_FOUND') throw error;
      errors.push(file);
    }
  }
  throw new Error(
    `ser-native: the native addon is not built (looked for ${errors.join(', ')}). ` +
      'Run `npm install` (needs cmake >= 3.15 and a C++17 compiler) or `npx cmake-js compile`.',
  );
}

export const native: typeof Binding = loadAddon();
export type {
  AdamStep,
  AugmentLimits,
  FeatureLimits,
  Conv2DGeometry,
  ConvBlockShape,
  EngineCounters,
  LstmGateActivation,
  LstmShape,
  LstmWeights,
  Pool2DGeometry,
  DecodedWav,
  FeatureKind,
  FeatureMatrix,
  Matrix,
  MelNorm,
  MelOptions,
  MelScale,
  NativeFeatureConfig,
  NoiseColor,
  ShiftMode,
  WavFeatures,
  FeatureStreamInfo,
  AudioStreamInfo,
  GpuInfo,
  StepDevice,
  TrainerHandle,
} from '../binding';
