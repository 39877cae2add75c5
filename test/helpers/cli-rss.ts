// Runs the built CLI in a child process and reports its exit code, output and peak resident memory
// (all threads), read from process.resourceUsage() as main() returns.
import { spawnSync } from 'child_process';
import * as path from 'path';

import { ROOT } from './paths';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  peakRssMiB: number;
}

export function runCliWithRss(args: string[], input?: Buffer): CliRun {
  const runner = `require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'index.js'))}).main(process.argv.slice(1)).then((code) => {
    process.stderr.write('\\nmaxrss ' + process.resourceUsage().maxRSS + '\\n'); process.exitCode = code; });`;
  const run = spawnSync(process.execPath, ['-e', runner, ...args], { encoding: 'utf8', input });
  const kib = Number(/maxrss (\d+)\n$/.exec(run.stderr)?.[1] ?? NaN);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr.replace(/\nmaxrss \d+\n$/, ''), peakRssMiB: kib / 1024 };
}
