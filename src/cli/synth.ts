// `ser synth <dir>`: write a synthetic emotional-speech corpus in the real corpora's layouts (src/data/synth.ts).
import { Command, Option } from 'commander';

import { planCorpus, synthesizeCorpus, type SynthCorpus, type SynthOptions } from '../data/synth';
import { UsageError } from './errors';
import { parseInteger, parseNumber } from './options';
import { ProgressReporter } from './progress';

const CORPUS_CHOICES: readonly SynthCorpus[] = ['ravdess', 'crema', 'tess', 'savee', 'bundle'];

interface SynthCliOptions {
  corpus: SynthCorpus;
  speakers?: number;
  clipsPerClass?: number;
  seconds?: number;
  seed?: number;
  json?: boolean;
}

export function synthCommand(): Command {
  return new Command('synth')
    .description('write a synthetic emotional-speech corpus (RAVDESS, CREMA-D, TESS, SAVEE or the Kaggle bundle layout)')
    .argument('<dir>', 'output folder (created; existing files of the same names are replaced)')
    .addOption(new Option('--corpus <name>', 'layout, names and sample rate to imitate').choices([...CORPUS_CHOICES]).default('bundle'))
    .option('--speakers <n>', 'speakers per corpus (default 4, TESS 2; the bundle caps it at each corpus\'s real count)', parseInteger)
    .option('--clips-per-class <n>', 'clips per speaker and emotion (default 2; capped by what each naming allows)', parseInteger)
    .option('--seconds <s>', 'nominal clip length, 0.5..10 (default 2; each clip varies +-25% with speaking rate)', parseNumber)
    .option('--seed <n>', 'seed (default 1): the same options give byte-identical files', parseInteger)
    .option('--json', 'print {dir, clips, seconds, corpora} as JSON')
    .action((dir: string, opts: SynthCliOptions) => {
      const options: SynthOptions = {
        corpus: opts.corpus,
        speakers: opts.speakers,
        clipsPerClass: opts.clipsPerClass,
        seconds: opts.seconds,
        seed: opts.seed,
      };
      // Validate (and count) before touching the disk: a bad value is a usage error, exit 2.
      let total: number;
      try {
        total = planCorpus(options).length;
      } catch (error) {
        throw new UsageError(flagNames((error as Error).message));
      }
      const progress = new ProgressReporter('synth', 'clips');
      const started = process.hrtime.bigint();
      const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
      const summary = synthesizeCorpus(dir, options, (done) => progress.update({ done, total, elapsedSeconds: elapsed() }));
      const seconds = elapsed();
      progress.update({ done: summary.clips, total, elapsedSeconds: seconds }, true);
      const corpora: Record<string, number> = {};
      for (const clip of summary.files) corpora[clip.corpus] = (corpora[clip.corpus] ?? 0) + 1;
      if (opts.json) {
        const { dir: out, clips, seconds: audioSeconds } = summary;
        process.stdout.write(`${JSON.stringify({ dir: out, clips, seconds: audioSeconds, corpora })}\n`);
      } else {
        process.stdout.write(
          `wrote ${summary.clips} clips (${summary.seconds.toFixed(1)} s of audio) to ${summary.dir} in ${seconds.toFixed(1)} s\n`,
        );
      }
    });
}

/** The library names options in camelCase; the command line user typed flags. */
function flagNames(message: string): string {
  return message
    .replace(/^clipsPerClass\b/, '--clips-per-class')
    .replace(/^(speakers|seconds|seed|corpus)\b/, '--$1');
}
