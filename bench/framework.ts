// The benchmark machinery shared by every suite: the Suite contract, a benchmark.js runner, the machine
// description, the markdown report and an atomic file write. Suites themselves live in bench/suites/*.ts
// and are registered in bench/suites.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Benchmark from 'benchmark';

import { execFileSync } from 'child_process';

import { writeFileAtomic } from '../src/io/atomic';
import { provenanceLine } from './readme-figures';

/** One timed function. `unitsPerOp` converts ops/s into the suite's unit (frames per op, audio seconds per op). */
export interface BenchCase {
  name: string;
  fn: () => void;
  unitsPerOp: number;
}

/** What a suite's setup hands back: the cases to time, lines for the report, and a cleanup hook. */
export interface PreparedSuite {
  cases: BenchCase[];
  /** Facts about the workload (input size, agreement check result, ...) printed under the table. */
  details?: string[];
  dispose?(): void;
}

export interface CaseResult {
  name: string;
  /** benchmark.js ops/s. */
  hz: number;
  /** Relative margin of error, percent. */
  rme: number;
  samples: number;
  unitsPerOp: number;
  /** hz * unitsPerOp, in the suite's unit. */
  rate: number;
}

export interface Suite {
  /** Short id used by --only. */
  name: string;
  title: string;
  /** The derived unit's column header, e.g. "frames/s" or "x real time". */
  unit: string;
  /** The case under test (the native core); targets are about it. Every other case is a peer. */
  baseline: string;
  /** Builds inputs, checks that the cases do the same work (throw if not), returns the cases. */
  setup(): Promise<PreparedSuite> | PreparedSuite;
  /** One line about the targets, given this run's results. */
  note(results: ResultLookup): string;
}

export interface ResultLookup {
  /** The derived rate of a case (throws when the case did not run). */
  rate(caseName: string): number;
  results: readonly CaseResult[];
}

export interface SuiteResult {
  name: string;
  title: string;
  unit: string;
  baseline: string;
  cases: CaseResult[];
  details: string[];
  note: string;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** SIMD flags of the CPU from /proc/cpuinfo (null when unreadable). */
  simdFlags: string[] | null;
  loadAverage: number[];
}

export interface BenchReport {
  date: string;
  /** The commit measured (`git rev-parse --short HEAD`, '+changes' when the tree differs from it). */
  commit: string;
  /** The command that ran, for the provenance lines. */
  command: string;
  quick: boolean;
  /** benchmark.js maxTime per case, seconds. */
  maxTime: number;
  machine: MachineInfo;
  suites: SuiteResult[];
  scenarios: ScenarioResult[];
}

/**
 * A benchmark that is one long run per case (e.g. preparing a whole corpus in a fresh process), not a
 * function benchmark.js can repeat: it measures itself and returns its report section.
 */
export interface Scenario {
  name: string;
  title: string;
  run(options: { quick: boolean; log: (line: string) => void }): Promise<string[]>;
}

export interface ScenarioResult {
  name: string;
  title: string;
  /** Markdown lines of the section body. */
  lines: string[];
}

export interface RunOptions {
  /** Short runs for smoke checks (maxTime 0.3 s per case unless maxTime is given). */
  quick?: boolean;
  /** Suite names to run; all when empty or missing. */
  only?: readonly string[];
  /** benchmark.js maxTime per case in seconds (default 2, quick 0.3). */
  maxTime?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export const DEFAULT_MAX_TIME = 2;
export const QUICK_MAX_TIME = 0.3;

const SIMD_FLAGS = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl', 'avx512_vnni'];

export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  let simdFlags: string[] | null = null;
  try {
    const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
    if (line) {
      const flags = new Set(line[1].trim().split(/\s+/));
      simdFlags = SIMD_FLAGS.filter((f) => flags.has(f));
    }
  } catch {
    simdFlags = null;
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    platform: `${os.platform()} ${os.arch()} (${os.release()})`,
    simdFlags,
    loadAverage: os.loadavg(),
  };
}

function timeCase(benchCase: BenchCase, maxTime: number): CaseResult {
  // No setup/teardown options: benchmark.js then calls fn through a reference instead of decompiling it,
  // so closures work.
  const bench = new Benchmark(benchCase.name, benchCase.fn, { maxTime, minSamples: 5, async: false });
  bench.run();
  if (bench.error) throw new Error(`case ${benchCase.name} failed: ${bench.error.message}`);
  if (bench.aborted || !Number.isFinite(bench.hz)) throw new Error(`case ${benchCase.name} aborted`);
  return {
    name: benchCase.name,
    hz: bench.hz,
    rme: bench.stats.rme,
    samples: bench.stats.sample.length,
    unitsPerOp: benchCase.unitsPerOp,
    rate: bench.hz * benchCase.unitsPerOp,
  };
}

function lookup(results: readonly CaseResult[]): ResultLookup {
  return {
    results,
    rate(caseName: string): number {
      const found = results.find((r) => r.name === caseName);
      if (!found) throw new Error(`no result for case ${caseName}`);
      return found.rate;
    },
  };
}

export async function runSuite(suite: Suite, maxTime: number, log: (line: string) => void): Promise<SuiteResult> {
  log(`# ${suite.name}: setting up`);
  const prepared = await suite.setup();
  try {
    if (!prepared.cases.some((c) => c.name === suite.baseline)) {
      throw new Error(`suite ${suite.name}: baseline case ${suite.baseline} is not among its cases`);
    }
    const cases: CaseResult[] = [];
    for (const benchCase of prepared.cases) {
      const result = timeCase(benchCase, maxTime);
      log(
        `${suite.name} / ${result.name}: ${formatNumber(result.hz)} ops/s ±${result.rme.toFixed(1)}% ` +
          `(${result.samples} samples) = ${formatNumber(result.rate)} ${suite.unit}`,
      );
      cases.push(result);
    }
    return {
      name: suite.name,
      title: suite.title,
      unit: suite.unit,
      baseline: suite.baseline,
      cases,
      details: prepared.details ?? [],
      note: suite.note(lookup(cases)),
    };
  } finally {
    prepared.dispose?.();
  }
}

/** The commit of the checkout being measured, '+changes' when its tracked files differ; 'unknown' outside git. */
export function currentCommit(): string {
  try {
    const root = packageRoot();
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** The host in a provenance line: CPU model, cores and the widest SIMD it has. */
export function hostLine(machine: MachineInfo): string {
  const isa = machine.simdFlags === null ? 'ISA unknown' : machine.simdFlags.includes('avx512f') ? 'AVX-512' : machine.simdFlags.includes('avx2') ? 'AVX2' : 'no AVX2';
  return `${machine.cpuModel} (${machine.cores} logical cores, ${isa})`;
}

/** Runs the selected suites, then the selected scenarios, one after the other. */
export async function runSuites(
  all: readonly Suite[],
  options: RunOptions = {},
  scenarios: readonly Scenario[] = [],
): Promise<BenchReport> {
  const quick = options.quick ?? false;
  const maxTime = options.maxTime ?? (quick ? QUICK_MAX_TIME : DEFAULT_MAX_TIME);
  const log = options.log ?? ((): void => undefined);
  const only = options.only ?? [];
  const names = [...all.map((s) => s.name), ...scenarios.map((s) => s.name)];
  for (const name of only) {
    if (!names.includes(name)) throw new Error(`unknown suite ${name} (available: ${names.join(', ')})`);
  }
  const selected = only.length === 0 ? all : all.filter((s) => only.includes(s.name));
  const machine = describeMachine();
  const date = new Date().toISOString();
  const suites: SuiteResult[] = [];
  for (const suite of selected) suites.push(await runSuite(suite, maxTime, log));
  const scenarioResults: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    if (only.length > 0 && !only.includes(scenario.name)) continue;
    log(`# ${scenario.name}: running`);
    scenarioResults.push({ name: scenario.name, title: scenario.title, lines: await scenario.run({ quick, log }) });
  }
  const command = `node dist/bench/run.js${quick ? ' --quick' : ''}${only.length > 0 ? ` --only ${only.join(',')}` : ''}`;
  return { date, commit: currentCommit(), command, quick, maxTime, machine, suites, scenarios: scenarioResults };
}

// ---------------------------------------------------------------------------------------------------
// Formatting

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatRate(value: number, unit: string): string {
  return unit.startsWith('x ') ? `${formatNumber(value)}x` : formatNumber(value);
}

export function formatRatio(value: number): string {
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)}x`;
}

function peersOf(suite: SuiteResult): CaseResult[] {
  return suite.cases.filter((c) => c.name !== suite.baseline);
}

export function renderTable(suite: SuiteResult): string {
  const peers = peersOf(suite);
  const header = ['case', 'ops/s', '±%', suite.unit, ...peers.map((p) => `ratio to ${p.name}`)];
  const rows = suite.cases.map((c) => [
    c.name === suite.baseline ? `**${c.name}**` : c.name,
    formatNumber(c.hz),
    c.rme.toFixed(1),
    formatRate(c.rate, suite.unit),
    ...peers.map((p) => formatRatio(c.rate / p.rate)),
  ]);
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function renderMachine(machine: MachineInfo): string {
  const simd =
    machine.simdFlags === null
      ? 'unknown (/proc/cpuinfo not readable)'
      : `AVX2 ${machine.simdFlags.includes('avx2') ? 'yes' : 'no'}, AVX-512 ${
          machine.simdFlags.some((f) => f.startsWith('avx512')) ? 'yes' : 'no'
        } (flags: ${machine.simdFlags.join(' ') || 'none of ' + SIMD_FLAGS.join(' ')})`;
  return [
    `- CPU: ${machine.cpuModel}, ${machine.cores} logical cores (benchmarks run on one thread)`,
    `- SIMD: ${simd}`,
    `- Memory: ${machine.memoryGiB.toFixed(1)} GiB`,
    `- Node.js: ${machine.node} on ${machine.platform}`,
    `- Load average at start: ${machine.loadAverage.map((l) => l.toFixed(2)).join(', ')}`,
  ].join('\n');
}

export function renderMarkdown(report: BenchReport): string {
  const lines: string[] = [
    '# ser-native benchmarks',
    '',
    `Generated by \`npm run bench\` (bench/run.ts) on ${report.date}.`,
    report.quick
      ? `**Quick run** (\`--quick\`: benchmark.js maxTime ${report.maxTime} s per case): indicative numbers only.`
      : `benchmark.js maxTime ${report.maxTime} s per case; ±% is benchmark.js's relative margin of error.`,
    '',
    '## Machine',
    '',
    renderMachine(report.machine),
  ];
  const provenance = provenanceLine(report.commit, hostLine(report.machine), report.date.slice(0, 10), report.command);
  for (const suite of report.suites) {
    lines.push('', `## ${suite.name}: ${suite.title}`, '', renderTable(suite), '');
    for (const detail of suite.details) lines.push(`- ${detail}`);
    if (suite.details.length > 0) lines.push('');
    lines.push(suite.note, '', provenance);
  }
  for (const scenario of report.scenarios) lines.push('', `## ${scenario.name}: ${scenario.title}`, '', ...scenario.lines, '', provenance);
  lines.push('');
  return lines.join('\n');
}

/**
 * A run of some suites (--only) merged into an existing results.md: its sections replace those of the
 * same name (or are added at the end), every other section keeps its text and its provenance line.
 */
export function mergeResults(existing: string, fresh: string): string {
  const split = (text: string) => {
    const parts = text.split(/^(?=## [a-z0-9-]+: )/m);
    return { head: parts[0], sections: parts.slice(1) };
  };
  const nameOf = (section: string) => /^## ([a-z0-9-]+): /.exec(section)?.[1] ?? '';
  const old = split(existing);
  const updates = new Map(split(fresh).sections.map((s) => [nameOf(s), s.replace(/\n*$/, '\n\n')]));
  const merged = old.sections.map((s) => updates.get(nameOf(s)) ?? s);
  for (const [name, section] of updates) if (!old.sections.some((s) => nameOf(s) === name)) merged.push(section);
  return `${old.head}${merged.join('')}`.replace(/\n*$/, '\n');
}

/** Writes the report atomically with the project's own helper (tmp + fsync + rename). */
export function writeReportAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, Buffer.from(text, 'utf8'));
}

/** The package root: the nearest folder above this file with a package.json (dist/bench -> root). */
export function packageRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error('package root not found');
}
