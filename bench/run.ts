// npm run bench -> node dist/bench/run.js [--quick] [--only <suite>[,<suite>]] [--max-time <s>] [--out <file>]
// Runs the suites, prints the report and writes it (atomically) to bench/results.md.
import * as fs from 'fs';
import * as path from 'path';
import { mergeResults } from './framework';
import { renderMarkdown, runBenchSuites, suiteNames, writeReportAtomic } from './suites';

interface CliArgs {
  quick: boolean;
  only: string[];
  maxTime?: number;
  out?: string;
}

const USAGE =
  'usage: node dist/bench/run.js [--quick] [--only <suite>[,<suite>...]] [--max-time <seconds>] [--out <file>]\n' +
  `suites: ${suiteNames().join(', ')}`;

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): CliArgs | 'help' {
  const args: CliArgs = { quick: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      i++;
      return next;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--quick') args.quick = true;
    else if (arg === '--only') args.only.push(...value().split(',').filter((s) => s !== ''));
    else if (arg === '--out') args.out = value();
    else if (arg === '--max-time') {
      const seconds = Number(value());
      if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError('--max-time must be a positive number of seconds');
      args.maxTime = seconds;
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  for (const name of args.only) {
    if (!suiteNames().includes(name)) throw new UsageError(`unknown suite ${name}`);
  }
  return args;
}

/** The package root: the nearest directory above this file with a package.json (dist/bench -> root). */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

async function main(): Promise<number> {
  let args: CliArgs | 'help';
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`bench: ${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  const report = await runBenchSuites({
    quick: args.quick,
    only: args.only,
    maxTime: args.maxTime,
    log: (line) => console.error(line),
  });
  const markdown = renderMarkdown(report);
  const out = path.resolve(args.out ?? path.join(packageRoot(), 'bench', 'results.md'));
  // A run of some suites updates their sections of the report and keeps the others (each section says
  // which commit and host measured it).
  writeReportAtomic(out, args.only.length > 0 && fs.existsSync(out) ? mergeResults(fs.readFileSync(out, 'utf8'), markdown) : markdown);
  console.log(markdown);
  console.error(`bench: wrote ${out}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
