// The README stays true: its CLI reference is the commands' own --help, every `ser` command it shows
// exists (--help exits 0) and accepts every option it names, and the npm scripts it names exist.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { mergeResults } from '../bench/framework';
import { parseResults, readmeFigureSections, renderReadmeFigures } from '../bench/readme-figures';
import { suiteNames } from '../bench/suites';
import { buildProgram } from '../src/cli/index';
import { cliReference, readmeReference } from '../src/cli/reference';
import { CLI, ROOT } from './helpers/paths';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

test('the CLI reference in the README is the current --help of every command (npm run docs:cli updates it)', () => {
  expect(readmeReference(readme)).toBe(cliReference());
});

test("ser bench --help names every suite --only takes", () => {
  const bench = buildProgram().commands.find((c) => c.name() === 'bench');
  const only = bench?.options.find((o) => o.long === '--only');
  expect(only).toBeDefined();
  for (const name of suiteNames()) expect(only?.description).toMatch(new RegExp(`[(, ]${name}[,)]`));
});

/** `ser ...` command lines in the README's shell blocks (with or without npx), continuation lines joined. */
function commandLines(): string[][] {
  const blocks = [...readme.matchAll(/```(?:sh|bash|yaml)\n([\s\S]*?)```/g)].map((m) => m[1]);
  const found: string[][] = [];
  for (const block of blocks) {
    for (const raw of block.replace(/\\\n/g, ' ').split('\n')) {
      const line = raw.replace(/#.*$/, '').replace(/^.*"sh", "-c", "/, '').replace(/"\]$/, '');
      const m = /(?:^|\s)(?:npx\s+)?ser\s+(\S.*)$/.exec(line.trim());
      if (m) found.push(m[1].trim().split(/\s+/));
    }
  }
  return found;
}

test('every ser command the README shows exists and accepts the options it names', () => {
  const program = buildProgram();
  const lines = commandLines();
  expect(lines.length).toBeGreaterThanOrEqual(8);
  const names = new Set<string>();
  for (const [name, ...args] of lines) {
    const command = program.commands.find((c) => c.name() === name);
    if (!command) throw new Error(`README shows 'ser ${name}', which does not exist`);
    names.add(name);
    const accepted = new Set(command.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f))));
    for (const flag of args.filter((a) => a.startsWith('-') && a !== '-')) {
      if (!accepted.has(flag.split('=')[0])) throw new Error(`README: 'ser ${name}' does not accept ${flag}`);
    }
  }
  for (const name of names) {
    const help = spawnSync(process.execPath, [CLI, name, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
  }
  expect([...names].sort()).toEqual(expect.arrayContaining(['eval', 'merge', 'predict', 'prepare', 'train']));
});

test('the npm scripts of the Quick start exist; npm start runs the demo', () => {
  const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Using the real Kaggle bundle'));
  for (const [, script] of quickStart.matchAll(/npm (?:run )?(start|test|install|run [\w:-]+)/g)) {
    const name = script.replace(/^run /, '');
    if (name !== 'install') expect(scripts[name]).toBeDefined();
  }
  expect(scripts.start).toMatch(/cli\/index\.js demo$/);
  expect(readme).toMatch(/npm run test:browser/);
  expect(scripts['test:browser']).toBeDefined();
});

describe('benchmark figures come from bench/results.md with their commit and host', () => {
  const results = fs.readFileSync(path.join(ROOT, 'bench', 'results.md'), 'utf8');

  test('every figure block of the README is what results.md gives (npm run docs:bench writes them)', () => {
    const blocks = readmeFigureSections(readme);
    expect(blocks).toEqual(expect.arrayContaining(['train-engine', 'train-bundle', 'long-recording', 'mfcc-e2e', 'prepare-bundle']));
    expect(renderReadmeFigures(readme, results)).toBe(readme);
    // Each block names a commit and a host.
    for (const line of readme.split('\n').filter((l) => l.startsWith('_From [bench/results.md]'))) {
      expect(line).toMatch(/: commit [0-9a-f]{7,}(\+changes)?, .*(Xeon|EPYC|Intel|AMD).*, \d{4}-\d{2}-\d{2}, `/);
    }
  });

  test('a figure edited by hand, or a section without provenance, is caught', () => {
    const edited = readme.replace(/\| ser-native, native engine \(whole-model step, as ser train runs it\) \| 1 \| [\d.]+ \|/, '| ser-native, native engine (whole-model step, as ser train runs it) | 1 | 999.9 |');
    expect(edited).not.toBe(readme);
    expect(renderReadmeFigures(edited, results)).not.toBe(edited);
    const stripped = results.replace(/^Provenance: .*\n/gm, '');
    expect(() => renderReadmeFigures(readme, stripped)).toThrow(/has no Provenance: line \(commit and host\)/);
  });

  test('a partial bench run replaces its sections and keeps the others with their provenance', () => {
    const existing = '# head\n\n## a: A\n\n| x |\n\nProvenance: commit 1111111, host A, 2026-01-01, `cmd`.\n\n## b: B\n\n| y |\n\nProvenance: commit 2222222, host B, 2026-01-01, `cmd`.\n';
    const fresh = '# other head\n\n## b: B\n\n| z |\n\nProvenance: commit 3333333, host C, 2026-02-02, `cmd --only b`.\n\n## c: C\n\n| w |\n\nProvenance: commit 3333333, host C, 2026-02-02, `cmd --only b`.\n';
    const merged = parseResults(mergeResults(existing, fresh));
    expect([...merged.keys()]).toEqual(['a', 'b', 'c']);
    expect(merged.get('a')).toMatchObject({ tables: ['| x |'], provenance: 'commit 1111111, host A, 2026-01-01, `cmd`.' });
    expect(merged.get('b')).toMatchObject({ tables: ['| z |'], provenance: 'commit 3333333, host C, 2026-02-02, `cmd --only b`.' });
    expect(mergeResults(existing, fresh).startsWith('# head\n')).toBe(true);
  });
});
