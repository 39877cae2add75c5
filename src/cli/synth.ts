// `ser synth <dir>`: write a synthetic emotional-speech corpus in the real corpora's layouts (src/synth/).
import { Command, Option } from 'commander';

import { OptionsError, synthesize, SYNTH_DEFAULTS, type SynthCorpus } from '../index';
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

/** The library names options in camelCase; the command line user typed flags. */
function flagNames(message: string): string {
  return message
    .replace(/^clipsPerClass\b/, '--clips-per-class')
    .replace(/^(speakers|seconds|seed|corpus)\b/, '--$1');
}

export function synthCommand(): Command {
  return new Command('synth')
    .description('write a synthetic emotional-speech corpus (RAVDESS, CREMA-D, TESS, SAVEE or the Kaggle bundle layout)')
    .argument('<dir>', 'output folder (created; existing files of the same names are replaced)')
    .addOption(new Option('--corpus <name>', 'layout, names and sample rate to imitate').choices([...CORPUS_CHOICES]).default('bundle'))
    .option('--speakers <n>', `speakers per corpus (default ${SYNTH_DEFAULTS.speakers}, TESS 2; the bundle caps it at each corpus's real count)`, parseInteger)
    .option('--clips-per-class <n>', `clips per speaker and emotion (default ${SYNTH_DEFAULTS.clipsPerClass}; capped by what each naming allows)`, parseInteger)
    .option('--seconds <s>', `nominal clip length, 0.5..10 (default ${SYNTH_DEFAULTS.seconds}; each clip varies +-25% with speaking rate)`, parseNumber)
    .option('--seed <n>', `seed (default ${SYNTH_DEFAULTS.seed}): the same options give byte-identical files`, parseInteger)
    .option('--json', 'print {dir, clips, seconds, corpora} as JSON')
    .action(async (dir: string, opts: SynthCliOptions) => {
      const progress = new ProgressReporter('synth', 'clips');
      const started = performance.now();
      let summary;
      try {
        summary = await synthesize(dir, {
          corpus: opts.corpus, speakers: opts.speakers, clipsPerClass: opts.clipsPerClass, seconds: opts.seconds, seed: opts.seed,
          onProgress: (p) => progress.update(p, p.done === p.total),
        });
      } catch (error) {
        if (error instanceof OptionsError) throw new OptionsError(flagNames(error.message));
        throw error;
      }
      const corpora: Record<string, number> = {};
      for (const clip of summary.files) corpora[clip.corpus] = (corpora[clip.corpus] ?? 0) + 1;
      if (opts.json) {
        const { dir: out, clips, seconds: audioSeconds } = summary;
        process.stdout.write(`${JSON.stringify({ dir: out, clips, seconds: audioSeconds, corpora })}\n`);
      } else {
        process.stdout.write(`wrote ${summary.clips} clips (${summary.seconds.toFixed(1)} s of audio) to ${summary.dir} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      }
    });
}
