// `ser augment <in.wav> -o <out.wav> [effects]`: apply chosen effects to one file and write 16-bit PCM,
// so a person can listen to what each augmentation does.
import { Command, Option } from 'commander';

import { augment, writeWav16, type NoiseColor, type ShiftMode } from '../index';
import { parseInteger, parseNumber } from './options';

interface AugmentCliOptions {
  output: string;
  noiseSnr?: number;
  noiseColor: NoiseColor;
  shift?: number;
  shiftMode: ShiftMode;
  stretch?: number;
  pitch?: number;
  speed?: number;
  seed: number;
  sampleRate?: number;
  json?: boolean;
}

export function augmentCommand(): Command {
  return new Command('augment')
    .description('apply augmentations to one WAV file and write 16-bit PCM (to listen to each effect)')
    .argument('<in.wav>', 'input WAV file')
    .requiredOption('-o, --output <out.wav>', 'output WAV file')
    .option('--noise-snr <dB>', 'add noise at this SNR against the clip RMS', parseNumber)
    .addOption(new Option('--noise-color <color>', 'noise colour').choices(['white', 'pink']).default('white'))
    .option('--shift <seconds>', 'move the audio later (negative: earlier)', parseNumber)
    .addOption(new Option('--shift-mode <mode>', 'wrap around or fill with silence').choices(['roll', 'zero']).default('roll'))
    .option('--stretch <rate>', 'tempo factor without pitch change (0.5..2, > 1 faster)', parseNumber)
    .option('--pitch <semitones>', 'pitch shift without tempo change (-12..12)', parseNumber)
    .option('--speed <factor>', 'speed perturbation: tempo and pitch together (0.5..2)', parseNumber)
    .option('--seed <n>', 'seed of the noise', parseInteger, 0)
    .option('--sample-rate <Hz>', 'resample to this rate before the effects (default: keep the file rate)', parseInteger)
    .option('--json', 'print a JSON summary')
    .action(async (input: string, opts: AugmentCliOptions) => {
      const result = await augment(input, {
        noiseSnrDb: opts.noiseSnr, noiseColor: opts.noiseColor, shiftSeconds: opts.shift, shiftMode: opts.shiftMode,
        stretchRate: opts.stretch, pitchSemitones: opts.pitch, speedFactor: opts.speed, seed: opts.seed, sampleRate: opts.sampleRate,
      });
      writeWav16(opts.output, result.samples, result.sampleRate);
      const summary = {
        output: opts.output, sampleRate: result.sampleRate, inputSeconds: result.inputSeconds, outputSeconds: result.samples.length / result.sampleRate, steps: result.steps,
      };
      process.stdout.write(opts.json
        ? `${JSON.stringify(summary)}\n`
        : `wrote ${opts.output} (${summary.outputSeconds.toFixed(3)} s at ${result.sampleRate} Hz): ${result.steps.map((s) => s.kind).join(' -> ')}\n`);
    });
}
