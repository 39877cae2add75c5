// Runs the built CLI in a child process and reports its exit code, output and peak resident memory
// (all threads) as main() returns: VmHWM of /proc/self/status, the peak of the child's own address
// space. (getrusage's maxRSS survives execve, so a child spawned by a large process such as a jest
// worker would report its parent's size.)
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
    process.stderr.write('\\nmaxrss ' + ((/VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status','utf8'))||[])[1]||process.resourceUsage().maxRSS) + '\\n'); process.exitCode = code; });`;
  const run = spawnSync(process.execPath, ['-e', runner, ...args], { encoding: 'utf8', input });
  const kib = Number(/maxrss (\d+)\n$/.exec(run.stderr)?.[1] ?? NaN);
  return { status: run.status, stdout: run.stdout, stderr: run.stderr.replace(/\nmaxrss \d+\n$/, ''), peakRssMiB: kib / 1024 };
}
