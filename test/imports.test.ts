// The module graph of src/ runs one way: no file imports one that (through others) imports it back,
// no folder imports one that imports it back, and the CLI is the only importer of commander.
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

/** The role folder of a file under src/, or null for the files at its top (errors, native, version). */
function folderOf(file: string): string | null {
  const parts = path.relative(SRC, file).split(path.sep);
  return parts.length > 1 ? parts[0] : null;
}

/** Folder-level edges: a -> b when a file in a imports a file in b, with one such import named. */
export function folderEdges(fileGraph: ReadonlyMap<string, readonly string[]>): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const [file, imports] of fileGraph) {
    const from = folderOf(file);
    if (from === null) continue;
    for (const imported of imports) {
      const to = folderOf(imported);
      if (to === null || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      edges.get(from)?.set(to, `${path.relative(SRC, file)} imports ${path.relative(SRC, imported)}`);
    }
  }
  return edges;
}

/** Each cycle of folders found by a depth-first walk, with the import that makes each of its steps. */
export function folderCycles(edges: ReadonlyMap<string, ReadonlyMap<string, string>>): string[] {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (folder: string): void => {
    state.set(folder, 'open');
    stack.push(folder);
    for (const next of edges.get(folder)?.keys() ?? []) {
      if (state.get(next) === 'open') {
        const loop = [...stack.slice(stack.indexOf(next)), next];
        cycles.push(loop.slice(1).map((to, i) => `${loop[i]} -> ${to} (${edges.get(loop[i])?.get(to)})`).join(', '));
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(folder, 'done');
  };
  for (const folder of edges.keys()) if (!state.has(folder)) visit(folder);
  return cycles;
}

test('no import cycles between the folders of src/: each role depends one way', () => {
  expect(folderCycles(folderEdges(graph))).toEqual([]);
});

test('the folder check finds a cycle when one is there', () => {
  // The real graph with one import added against the grain: io (the lowest folder) importing train.
  const withBackEdge = new Map(graph);
  const npy = path.join(SRC, 'io', 'npy.ts');
  withBackEdge.set(npy, [...(graph.get(npy) ?? []), path.join(SRC, 'train', 'run.ts')]);
  const cycles = folderCycles(folderEdges(withBackEdge));
  expect(cycles.length).toBeGreaterThan(0);
  expect(cycles.join('\n')).toMatch(/io -> train \(io\/npy\.ts imports train\/run\.ts\)/);
});

test('the graph is read (index.ts reaches every role folder), the CLI imports the public API only, and only src/cli imports commander', () => {
  const reached = new Set<string>();
  const walk = (file: string): void => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const next of graph.get(file) ?? []) walk(next);
  };
  walk(path.join(SRC, 'index.ts'));
  const roles = new Set([...reached].map((f) => path.relative(SRC, f).split(path.sep)[0]).filter((p) => !p.endsWith('.ts')));
  expect([...roles].sort()).toEqual(['augment', 'backend', 'clips', 'data', 'demo', 'eval', 'features', 'io', 'report', 'synth', 'train', 'workers']);
  // The CLI is a user of the public API: it imports src/index.ts and its own files, nothing inside.
  const cliReaches = files.filter((f) => folderOf(f) === 'cli').flatMap((f) => (graph.get(f) ?? []).filter((t) => folderOf(t) !== 'cli').map((t) => `${path.relative(SRC, f)} -> ${path.relative(SRC, t)}`));
  expect(cliReaches.filter((edge) => !edge.endsWith('-> index.ts'))).toEqual([]);
  expect(cliReaches.length).toBeGreaterThan(5);
  const commanderUsers = files.filter((f) => /from 'commander'/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(SRC, f).split(path.sep)[0]);
  expect([...new Set(commanderUsers)]).toEqual(['cli']);
});
