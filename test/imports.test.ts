// The module graph of src/ runs one way: no file imports one that (through others) imports it back,
// and the CLI is the only importer of commander.
import * as fs from 'fs';
import * as path from 'path';

import { ROOT } from './helpers/paths';

const SRC = path.join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports of a file (type-only ones too: a cycle of types is still a cycle of design). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1]);
  return specifiers.map((s) => {
    const base = path.resolve(path.dirname(file), s);
    const candidates = [`${base}.ts`, `${base}.d.ts`, path.join(base, 'index.ts')];
    const found = candidates.find((c) => fs.existsSync(c));
    if (!found) throw new Error(`${file}: cannot resolve ${s}`);
    return found;
  }).filter((f) => f.startsWith(SRC));
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

test('no import cycles in src/', () => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => path.relative(SRC, f)).join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  expect(cycles).toEqual([]);
});

test('the graph is read (index.ts reaches every role folder) and only src/cli imports commander', () => {
  const reached = new Set<string>();
  const walk = (file: string): void => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const next of graph.get(file) ?? []) walk(next);
  };
  walk(path.join(SRC, 'index.ts'));
  const roles = new Set([...reached].map((f) => path.relative(SRC, f).split(path.sep)[0]).filter((p) => !p.endsWith('.ts')));
  expect([...roles].sort()).toEqual(['augment', 'backend', 'data', 'demo', 'eval', 'features', 'report', 'synth', 'train', 'workers']);
  const commanderUsers = files.filter((f) => /from 'commander'/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(SRC, f).split(path.sep)[0]);
  expect([...new Set(commanderUsers)]).toEqual(['cli']);
});
