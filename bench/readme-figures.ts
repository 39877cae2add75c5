// The README's benchmark figures come from bench/results.md, never typed by hand: each figure block
// in the README names a section of results.md and is that section's table(s) with the commit and host
// that measured it. `npm run docs:bench` rewrites the blocks; test/readme.test.ts fails when a block
// differs from what results.md gives (a figure edited by hand, or results.md re-measured without it).
//
// A block: <!-- results:<section>[:<table>,<table>...] --> ... <!-- /results --> (tables 1-based, in
// the order the section lists them; default: the first).
import * as fs from 'fs';

import { writeFileAtomic } from '../src/io/atomic';

/** One `## name: title` section of results.md. */
export interface ResultSection {
  name: string;
  title: string;
  /** The markdown tables of the section, each as its lines joined. */
  tables: string[];
  /** Its provenance line's content (commit, host, date and command), or null when it has none. */
  provenance: string | null;
}

/** The line every measured section carries; the bench writes it, a README block repeats it. */
export const PROVENANCE_PREFIX = 'Provenance: ';

/** A provenance line: the commit measured, the host (CPU model and ISA) and the date, and how it was run. */
export function provenanceLine(commit: string, host: string, date: string, command: string): string {
  return `${PROVENANCE_PREFIX}commit ${commit}, ${host}, ${date}, \`${command}\`.`;
}

export function parseResults(markdown: string): Map<string, ResultSection> {
  const sections = new Map<string, ResultSection>();
  let current: ResultSection | null = null;
  let table: string[] = [];
  const endTable = () => {
    if (current && table.length > 0) current.tables.push(table.join('\n'));
    table = [];
  };
  for (const line of markdown.split('\n')) {
    const heading = /^## ([a-z0-9-]+): (.*)$/.exec(line);
    if (heading || /^## /.test(line)) {
      endTable();
      current = heading ? { name: heading[1], title: heading[2], tables: [], provenance: null } : null;
      if (current) sections.set(current.name, current);
      continue;
    }
    if (!current) continue;
    if (line.startsWith('|')) {
      table.push(line);
      continue;
    }
    endTable();
    if (line.startsWith(PROVENANCE_PREFIX)) current.provenance = line.slice(PROVENANCE_PREFIX.length);
  }
  endTable();
  return sections;
}

/** The text of one README block: where it comes from, then the chosen tables. */
export function figureBlock(sections: ReadonlyMap<string, ResultSection>, name: string, tableNumbers: readonly number[]): string {
  const section = sections.get(name);
  if (!section) throw new Error(`README asks for the results section ${name}, which bench/results.md does not have`);
  if (!section.provenance) throw new Error(`bench/results.md section ${name} has no ${PROVENANCE_PREFIX.trim()} line (commit and host)`);
  const tables = tableNumbers.map((n) => {
    const table = section.tables[n - 1];
    if (table === undefined) throw new Error(`bench/results.md section ${name} has ${section.tables.length} table(s), not ${n}`);
    return table;
  });
  return [`_From [bench/results.md](bench/results.md), ${name}: ${section.provenance.replace(/\.$/, '')}._`, '', tables.join('\n\n')].join('\n');
}

const BLOCK = /<!-- results:([a-z0-9-]+)(?::([\d,]+))? -->\n[\s\S]*?<!-- \/results -->/g;

/** The README with every figure block rewritten from results.md. */
export function renderReadmeFigures(readme: string, results: string): string {
  const sections = parseResults(results);
  return readme.replace(BLOCK, (_match, name: string, tables: string | undefined) => {
    const numbers = tables ? tables.split(',').map(Number) : [1];
    return `<!-- results:${name}${tables ? `:${tables}` : ''} -->\n${figureBlock(sections, name, numbers)}\n<!-- /results -->`;
  });
}

/** The names of the README's figure blocks, in order. */
export function readmeFigureSections(readme: string): string[] {
  return [...readme.matchAll(BLOCK)].map((m) => m[1]);
}

/** `npm run docs:bench`: rewrites the README's figure blocks from bench/results.md. */
export function writeReadmeFigures(readmeFile: string, resultsFile: string): void {
  const readme = fs.readFileSync(readmeFile, 'utf8');
  writeFileAtomic(readmeFile, Buffer.from(renderReadmeFigures(readme, fs.readFileSync(resultsFile, 'utf8')), 'utf8'));
}
