// `ser augment <in.wav> -o <out.wav> [effects]`: apply chosen effects to one file and write 16-bit PCM,
// so a person can listen to what each augmentation does.
import * as fs from 'fs';

import { Command, Option } from 'commander';

import { applyAugmentPlan, type AugmentPlan, type AugmentStep } from '../augment/spec';
import { writeFileAtomic } from '../data/atomic';
import { ClipError } from '../features/extract';
import { native, type NoiseColor, type ShiftMode } from '../native';
import { UsageError } from './errors';
import { parseInteger, parseNumber } from './options';

interface AugmentOptions {
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

function requireWithin(flag: string, value: number, min: number, max: number): void {
  if (value < min || value > max) throw new UsageError(`${flag} must be from ${min} to ${max}, got ${value}`);
}

/** The steps the options ask for, in the library's application order, checked against the native limits. */
export function stepsFromOptions(opts: AugmentOptions): AugmentStep[] {
  const limits = native.augmentLimits;
  const steps: AugmentStep[] = [];
  if (opts.speed !== undefined) {
    requireWithin('--speed', opts.speed, limits.minRate, limits.maxRate);
    steps.push({ kind: 'speed', factor: opts.speed });
  }
  if (opts.pitch !== undefined) {
    requireWithin('--pitch', opts.pitch, -limits.maxSemitones, limits.maxSemitones);
    steps.push({ kind: 'pitch', semitones: opts.pitch });
  }
  if (opts.stretch !== undefined) {
    requireWithin('--stretch', opts.stretch, limits.minRate, limits.maxRate);
    steps.push({ kind: 'stretch', rate: opts.stretch });
  }
  if (opts.shift !== undefined) steps.push({ kind: 'shift', seconds: opts.shift, mode: opts.shiftMode });
  if (opts.noiseSnr !== undefined) {
    requireWithin('--noise-snr', opts.noiseSnr, limits.minSnrDb, limits.maxSnrDb);
    steps.push({ kind: 'noise', snrDb: opts.noiseSnr, color: opts.noiseColor, seed: opts.seed });
  }
  if (steps.length === 0) throw new UsageError('choose at least one of --noise-snr, --shift, --stretch, --pitch, --speed');
  return steps;
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
    .action((input: string, opts: AugmentOptions) => {
      if (opts.seed < 0 || !Number.isSafeInteger(opts.seed)) throw new UsageError('--seed must be a non-negative integer');
      const plan: AugmentPlan = { seed: opts.seed, steps: stepsFromOptions(opts) };
      let decoded;
      try {
        decoded = native.decodeWav(fs.readFileSync(input));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new ClipError(input, code === 'ENOENT' ? 'no such file' : (error as Error).message);
      }
      let samples = decoded.samples;
      let sampleRate = decoded.sampleRate;
      if (opts.sampleRate !== undefined && opts.sampleRate !== sampleRate) {
        try {
          samples = native.resample(samples, sampleRate, opts.sampleRate);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        sampleRate = opts.sampleRate;
      }
      let output: Float32Array;
      try {
        output = applyAugmentPlan(samples, sampleRate, plan);
      } catch (error) {
        throw new ClipError(input, (error as Error).message);
      }
      writeFileAtomic(opts.output, native.encodeWav16(output, sampleRate));
      const summary = { output: opts.output, sampleRate, inputSeconds: samples.length / sampleRate, outputSeconds: output.length / sampleRate, steps: plan.steps };
      process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `wrote ${opts.output} (${summary.outputSeconds.toFixed(3)} s at ${sampleRate} Hz): ${plan.steps.map((s) => s.kind).join(' -> ')}\n`);
    });
}
