// Where the compiled worker entries are and how many workers a pool gets, without loading Piscina: the
// library's calls that start a thread of their own (train, loadModel) read these on the caller's thread.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * A compiled worker entry `src/<folder>/<name>.js`: next to the caller's compiled file in dist/, or in
 * dist/ when running from TS sources.
 */
export function compiledEntry(folder: string, name: string, besideDir: string = __dirname): string {
  const beside = path.join(besideDir, `${name}.js`);
  if (fs.existsSync(beside)) return beside;
  for (let dir = besideDir; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'dist', 'src', folder, `${name}.js`);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`ser-native: dist/src/${folder}/${name}.js is missing; run \`npm run build:ts\``);
}

/** Worker threads when none are asked for: one per core. */
export function defaultWorkerCount(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}
