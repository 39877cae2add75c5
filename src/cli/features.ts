// `ser features <input.wav> -o <out.npy>`: one clip to a float32 NPY [frames, coeffs].
import { Command } from 'commander';

import { extractFeaturesFromFile } from '../features/extract';
import { writeNpy } from '../data/npy';
import { UsageError } from './errors';
import { addFeatureOptions, featureConfigFrom } from './options';

export function featuresCommand(): Command {
  const command = new Command('features')
    .description('compute MFCC, log-mel or power spectrogram features of one WAV file')
    .argument('<input.wav>', 'WAV file (PCM 8/16/24/32-bit or float 32/64, any channels, any rate)')
    .option('-o, --output <out.npy>', 'write float32 NPY [frames, coeffs] here')
    .option('--json', 'print {frames, coeffs, sampleRate, seconds} as JSON');
  addFeatureOptions(command);
  return command.action((input: string, opts: Record<string, unknown>) => {
    const output = opts.output as string | undefined;
    if (!output && !opts.json) throw new UsageError('give -o <out.npy>, --json, or both');
    const config = featureConfigFrom(opts);
    const features = extractFeaturesFromFile(input, config);
    if (output) writeNpy(output, features.data, [features.frames, features.coeffs]);
    if (opts.json) {
      const summary = {
        frames: features.frames,
        coeffs: features.coeffs,
        sampleRate: config.sampleRate,
        sourceSampleRate: features.sourceSampleRate,
        seconds: features.seconds,
      };
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    }
  });
}
