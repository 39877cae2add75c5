// The public entry documents itself: every export of src/index.ts carries a TSDoc comment, and the
// package's main, types and exports map point at the built entry.
import * as fs from 'fs';
import * as path from 'path';

import * as ts from 'typescript';

import { ROOT } from './helpers/paths';

test('every export of src/index.ts has TSDoc', () => {
  const entry = path.join(ROOT, 'src', 'index.ts');
  const program = ts.createProgram([entry], { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry) as ts.SourceFile) as ts.Symbol;
  const exported = checker.getExportsOfModule(moduleSymbol);
  expect(exported.length).toBeGreaterThan(40);
  const undocumented = exported.filter((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '';
  }).map((s) => s.name);
  expect(undocumented).toEqual([]);
}, 60_000);

test('main, types and the exports map name the built entry for require and import', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    main: string; types: string; exports: { '.': Record<string, string> }; files: string[];
  };
  expect(path.normalize(pkg.main)).toBe(path.normalize('dist/src/index.js'));
  expect(path.normalize(pkg.types)).toBe(path.normalize('dist/src/index.d.ts'));
  expect(Object.keys(pkg.exports['.'])[0]).toBe('types');
  expect(pkg.exports['.']).toMatchObject({ types: './dist/src/index.d.ts', require: './dist/src/index.js', import: './dist/src/index.js' });
  expect(pkg.files).toContain('dist/src/');
  // The features alone, as a subpath that loads no TensorFlow.js (test/package.test.ts imports it).
  expect((pkg.exports as Record<string, Record<string, string>>)['./features']).toMatchObject({
    types: './dist/src/features-entry.d.ts', require: './dist/src/features-entry.js', import: './dist/src/features-entry.js',
  });
});
