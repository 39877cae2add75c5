// The benchmark suites and the one entry point that runs them, shared by bench/run.ts (npm run bench)
// and any future CLI command. To add a suite: write bench/suites/<name>.ts exporting a `Suite` and list
// it in ALL_SUITES.
import type { BenchReport, RunOptions, Scenario, Suite } from './framework';
import { runSuites } from './framework';
import { pitchSuite, stretchSuite } from './suites/augment';
import { fft512Suite } from './suites/fft512';
import { gemmScenario } from './suites/gemm';
import { longRecordingScenario } from './suites/long-recording';
import { mfccE2eSuite } from './suites/mfcc-e2e';
import { prepareBundleScenario } from './suites/prepare-bundle';
import { serveScenario } from './suites/serve';
import { trainScenario } from './suites/train';
import { trainBundleScenario } from './suites/train-bundle';
import { trainEngineScenario } from './suites/train-engine';

export type { BenchCase, BenchReport, CaseResult, MachineInfo, PreparedSuite, RunOptions, Suite, SuiteResult } from './framework';
export { describeMachine, renderMarkdown, renderTable, writeReportAtomic } from './framework';

export const ALL_SUITES: readonly Suite[] = [fft512Suite, mfccE2eSuite, pitchSuite, stretchSuite];

export const ALL_SCENARIOS: readonly Scenario[] = [prepareBundleScenario, longRecordingScenario, gemmScenario, trainScenario, trainBundleScenario, trainEngineScenario, serveScenario];

export function suiteNames(): string[] {
  return [...ALL_SUITES, ...ALL_SCENARIOS].map((s) => s.name);
}

/** Runs the suites selected by `options.only` (all by default) on this thread and returns the results. */
export function runBenchSuites(options: RunOptions = {}): Promise<BenchReport> {
  return runSuites(ALL_SUITES, options, ALL_SCENARIOS);
}
