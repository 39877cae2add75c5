// `ser bench`: the benchmark suites of `npm run bench` on this machine, or prepare throughput on the
// user's own clips with --data. The bench code (and its peers, dev dependencies) loads only here.
import { Command } from 'commander';

import { defaultWorkerCount, OptionsError } from '../index';
import { parseInteger } from './options';

export function benchCommand(): Command {
  return new Command('bench')
    .description('measure throughput on this machine: the npm run bench suites, or ser prepare on your own clips (--data)')
    .option('--data <dir>', 'benchmark ser prepare on this folder of clips (1 worker against --workers)')
    .option('--workers <n>', 'workers for --data (default: one per core)', parseInteger)
    .option('--only <suites>', 'comma-separated suites to run (fft512, mfcc-e2e, pitch, stretch, prepare-bundle, long-recording, gemm, train, train-bundle, train-engine, serve)')
    .option('--quick', 'short runs: indicative numbers only')
    .option('--json', 'print the results as JSON')
    .action(async (opts: { data?: string; workers?: number; only?: string; quick?: boolean; json?: boolean }) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const workers = opts.workers ?? defaultWorkerCount();
      if (!Number.isInteger(workers) || workers < 1) throw new OptionsError(`--workers must be a positive integer, got ${workers}`);
      if (opts.data) {
        const { benchUserData, renderUserData } = await import('../../bench/user-data');
        const report = await benchUserData(opts.data, workers, log);
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${renderUserData(report)}\n`);
        return;
      }
      let suites: typeof import('../../bench/suites');
      try {
        suites = await import('../../bench/suites');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
        // The suites measure against peers that are dev dependencies (kissfft-wasm, benchmark).
        throw new Error(`the benchmark suites need this package's dev dependencies: run them in a clone after npm install (${(error as Error).message.split('\n')[0]}); --data works anywhere`);
      }
      const only = opts.only ? opts.only.split(',').map((s) => s.trim()).filter(Boolean) : [];
      for (const name of only) if (!suites.suiteNames().includes(name)) throw new OptionsError(`--only: unknown suite ${name} (suites: ${suites.suiteNames().join(', ')})`);
      const report = await suites.runBenchSuites({ quick: Boolean(opts.quick), only, log });
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${suites.renderMarkdown(report)}\n`);
    });
}
