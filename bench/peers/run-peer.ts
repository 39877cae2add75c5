// Runs one Python benchmark peer (bench/peers/keras_seed.py or torch_seed.py: the `seed` model trained on random
// data in Keras 3/TensorFlow or PyTorch) and returns what it measured. Python is used only here, for the
// benchmark, never by the package at run time. Set the interpreter up with `bash bench/peers/setup.sh`.
//
// Interpreter: $SER_BENCH_PYTHON, else <package root>/bench/.venv/bin/python, else `python3` from PATH.
// The scripts print one JSON line on stdout and exit 3 when their framework is not importable; that, a missing
// interpreter, or any other failure becomes {ok: false, reason}. No number is ever made up here: samples/s,
// versions and parameter counts are the ones the peer printed.
import { execFile, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { packageRoot } from '../framework';

export type PeerName = 'keras-tensorflow' | 'pytorch';

export interface PeerOptions {
  /** Intra-op threads of the framework (inter-op is 1). */
  threads: number;
  batch: number;
  /** Timed training steps. */
  steps: number;
  /** Untimed steps first. */
  warmup: number;
  /** CPU list for `taskset -c` (e.g. "0" or "0-1"); ignored when taskset is not installed. */
  pinCpus?: string;
  /** Kill the peer after this long (default: no limit). */
  timeoutMs?: number;
  /** Further arguments for the peer script (e.g. ['--recurrent-activation', 'sigmoid']). */
  extraArgs?: readonly string[];
}

export interface PeerSuccess {
  ok: true;
  peer: PeerName;
  version: string;
  threads: number;
  params: number;
  samplesPerSecond: number;
  recurrentActivation: string;
  /** The CPU list the peer ran under (taskset -c), or null when it was not pinned. */
  pinnedTo: string | null;
}

export interface PeerFailure {
  ok: false;
  peer: PeerName;
  reason: string;
}

export type PeerResult = PeerSuccess | PeerFailure;

const SCRIPTS: Record<PeerName, string> = {
  'keras-tensorflow': 'keras_seed.py',
  pytorch: 'torch_seed.py',
};

/** Exit code the peer scripts use when their framework cannot be imported. */
const EXIT_NOT_IMPORTABLE = 3;

/** The interpreter to run the peers with (see the header). */
export function peerPython(): string {
  const fromEnv = process.env.SER_BENCH_PYTHON;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv;
  const venv = path.join(packageRoot(), 'bench', '.venv', 'bin', 'python');
  if (fs.existsSync(venv)) return venv;
  return 'python3';
}

/** The peer scripts live in the source tree (tsc does not copy them to dist/). */
export function peerScript(peer: PeerName): string {
  return path.join(packageRoot(), 'bench', 'peers', SCRIPTS[peer]);
}

let tasksetPresent: boolean | undefined;
function hasTaskset(): boolean {
  if (tasksetPresent === undefined) {
    const probe = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
    tasksetPresent = probe.error === undefined && probe.status === 0;
  }
  return tasksetPresent;
}

interface RunOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError?: { code: string; message: string };
}

function run(command: string, args: readonly string[], timeoutMs: number | undefined): Promise<RunOutput> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { encoding: 'utf8', maxBuffer: 16 << 20, timeout: timeoutMs ?? 0, windowsHide: true },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, signal: null, stdout, stderr });
          return;
        }
        // execFile's error carries the exit code (number) or, when spawning failed, an errno string in `code`.
        if (typeof error.code === 'string') {
          resolve({ code: null, signal: null, stdout, stderr, spawnError: { code: error.code, message: error.message } });
          return;
        }
        resolve({ code: typeof error.code === 'number' ? error.code : null, signal: error.signal ?? null, stdout, stderr });
      },
    );
  });
}

/** The last meaningful line of the peer's stderr (its own one-line message comes last). */
function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length > 0 ? lines[lines.length - 1] : '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Finds the peer's JSON line in stdout and checks its fields; returns a reason string when it is unusable. */
function parseReport(peer: PeerName, stdout: string, pinnedTo: string | null): PeerSuccess | string {
  const lines = stdout.split('\n').filter((l) => l.trim().startsWith('{'));
  if (lines.length === 0) return 'the peer printed no JSON line';
  let parsed: unknown;
  try {
    parsed = JSON.parse(lines[lines.length - 1]);
  } catch (e) {
    return `the peer's JSON line does not parse: ${(e as Error).message}`;
  }
  if (!isRecord(parsed)) return "the peer's JSON line is not an object";
  const { version, threads, params, samplesPerSecond, recurrentActivation } = parsed;
  if (parsed.peer !== peer) return `the JSON line names peer ${JSON.stringify(parsed.peer)}, expected ${peer}`;
  if (typeof version !== 'string') return 'the JSON line has no string "version"';
  if (typeof threads !== 'number' || !Number.isInteger(threads)) return 'the JSON line has no integer "threads"';
  if (typeof params !== 'number' || !Number.isInteger(params)) return 'the JSON line has no integer "params"';
  if (typeof samplesPerSecond !== 'number' || !Number.isFinite(samplesPerSecond) || samplesPerSecond <= 0) {
    return 'the JSON line has no positive finite "samplesPerSecond"';
  }
  if (typeof recurrentActivation !== 'string') return 'the JSON line has no string "recurrentActivation"';
  return { ok: true, peer, version, threads, params, samplesPerSecond, recurrentActivation, pinnedTo };
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`runPeer: ${name} must be an integer >= ${min}`);
}

/**
 * Runs one peer and reports its training throughput. Throws only on invalid options; everything that goes
 * wrong with the peer itself (no interpreter, framework not installed, crash, bad output) is {ok: false}.
 */
export async function runPeer(peer: PeerName, options: PeerOptions): Promise<PeerResult> {
  checkCount('threads', options.threads, 1);
  checkCount('batch', options.batch, 1);
  checkCount('steps', options.steps, 1);
  checkCount('warmup', options.warmup, 0);
  if (options.pinCpus !== undefined && !/^[0-9]+([-,][0-9]+)*$/.test(options.pinCpus)) {
    throw new RangeError(`runPeer: pinCpus must be a CPU list like "0" or "0-1" or "0,2", got "${options.pinCpus}"`);
  }

  const script = peerScript(peer);
  if (!fs.existsSync(script)) return { ok: false, peer, reason: `peer script not found: ${script}` };
  const python = peerPython();
  const scriptArgs = [
    script,
    '--threads',
    String(options.threads),
    '--batch',
    String(options.batch),
    '--steps',
    String(options.steps),
    '--warmup',
    String(options.warmup),
    ...(options.extraArgs ?? []),
  ];
  const pinnedTo = options.pinCpus !== undefined && hasTaskset() ? options.pinCpus : null;
  const [command, args] =
    pinnedTo !== null ? ['taskset', ['-c', pinnedTo, python, ...scriptArgs]] : [python, scriptArgs];

  const out = await run(command, args, options.timeoutMs);
  if (out.spawnError !== undefined) {
    const why = out.spawnError.code === 'ENOENT' ? 'not found' : out.spawnError.message;
    return {
      ok: false,
      peer,
      reason: `cannot run ${command} (${why}); run bench/peers/setup.sh or set SER_BENCH_PYTHON`,
    };
  }
  if (out.code === EXIT_NOT_IMPORTABLE) {
    const detail = lastLine(out.stderr) || `${peer} framework not importable`;
    return { ok: false, peer, reason: `${detail} (run bench/peers/setup.sh or set SER_BENCH_PYTHON)` };
  }
  if (out.code !== 0) {
    const how = out.signal !== null ? `was killed by ${out.signal}` : `exited with code ${String(out.code)}`;
    const detail = lastLine(out.stderr);
    return { ok: false, peer, reason: `${python} ${path.basename(script)} ${how}${detail ? `: ${detail}` : ''}` };
  }
  const report = parseReport(peer, out.stdout, pinnedTo);
  return typeof report === 'string' ? { ok: false, peer, reason: report } : report;
}
