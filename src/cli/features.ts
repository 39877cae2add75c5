// `ser features <input.wav> -o <out.npy>`: one clip to a float32 NPY [frames, coeffs].
import { Command } from 'commander';

import { featuresToFile, OptionsError } from '../index';
import { addFeatureOptions, featureOptionsFrom } from './options';

export function featuresCommand(): Command {
  const command = new Command('features')
    .description('compute MFCC, log-mel or power spectrogram features of one WAV file')
    .argument('<input.wav>', 'WAV file (PCM 8/16/24/32-bit or float 32/64, any channels, any rate, any length); - reads standard input')
    .option('-o, --output <out.npy>', 'write float32 NPY [frames, coeffs] here')
    .option('--json', 'print {frames, coeffs, sampleRate, seconds} as JSON');
  addFeatureOptions(command);
  return command.action(async (input: string, opts: Record<string, unknown>) => {
    const output = opts.output as string | undefined;
    if (!output && !opts.json) throw new OptionsError('give -o <out.npy>, --json, or both');
    const features = await featuresToFile(input, output ?? null, featureOptionsFrom(opts));
    if (opts.json) {
      const summary = {
        frames: features.frames,
        coeffs: features.coeffs,
        sampleRate: features.config.sampleRate,
        sourceSampleRate: features.sourceSampleRate,
        seconds: features.seconds,
      };
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    }
  });
}
