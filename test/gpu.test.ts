// The GPU engine's CPU-side behaviour: the default addon says it has no CUDA and why; where nvcc exists,
// the CUDA build (SER_CUDA=ON) compiles, its addon loads and falls back to the CPU without a driver, and
// its check binary runs the CPU trainer's seed-preset step and refuses the GPU checks with the reason. Where a
// GPU is present the same binary's op checks (every GPU op against the CPU engine) run and must pass.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { gpuInfo } from '../src/index';
import { ROOT, tempDir } from './helpers/paths';

test('the addon reports its GPU state, and why it cannot use one', () => {
  const info = gpuInfo();
  if (info.available) {
    expect(info.built).toBe(true);
    expect(info.reason).toBeNull();
    expect(info.deviceCount).toBeGreaterThan(0);
  } else {
    expect(typeof info.reason).toBe('string');
    expect((info.reason ?? '').length).toBeGreaterThan(10);
  }
  if (!info.built) {
    expect(info.available).toBe(false);
    expect(info.reason).toMatch(/built without CUDA.*SER_CUDA=ON/);
  }
});

/** nvcc from CUDACXX, PATH or /usr/local/cuda-*, or null. */
function findNvcc(): string | null {
  if (process.env.CUDACXX && fs.existsSync(process.env.CUDACXX)) return process.env.CUDACXX;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'nvcc'))) return path.join(dir, 'nvcc');
  }
  const local = fs.existsSync('/usr/local') ? fs.readdirSync('/usr/local').filter((d) => /^cuda(-[\d.]+)?$/.test(d)).sort() : [];
  for (const dir of local.reverse()) {
    const nvcc = path.join('/usr/local', dir, 'bin', 'nvcc');
    if (fs.existsSync(nvcc)) return nvcc;
  }
  return null;
}

const nvcc = findNvcc();
const cublasRoot = process.env.SER_CUBLAS_ROOT;
const cublasHeaders = !!cublasRoot && fs.existsSync(path.join(cublasRoot, 'include', 'cublas_v2.h'));
// .ci/run fetches the headers wherever nvcc exists and sets SER_REQUIRE_CUDA_BUILD: there the build must run.
const required = process.env.SER_REQUIRE_CUDA_BUILD === '1';
const canBuild = nvcc !== null && cublasHeaders;
const why = nvcc === null ? 'no nvcc (CUDACXX, PATH, /usr/local/cuda-*)' : 'no cuBLAS 13 headers (set SER_CUBLAS_ROOT; .ci/run fetches them)';

if (required && !canBuild) {
  test('the CUDA build can run here (.ci/run asked for it)', () => {
    throw new Error(`SER_REQUIRE_CUDA_BUILD=1 but ${why}`);
  });
}

(canBuild ? describe : describe.skip)(`the CUDA build (SER_CUDA=ON)${canBuild ? '' : `: skipped, ${why}`}`, () => {
  const out = tempDir('cuda-build');
  let built = false;

  beforeAll(() => {
    // cmake-js as `npm install` runs it, into a folder of its own: the addon and ser_gpu_check.
    const cmakeJs = path.join(ROOT, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
    const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', out], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, SER_CUDA: 'ON', CUDACXX: nvcc ?? '' },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (result.status !== 0) throw new Error(`the CUDA build failed (${result.status}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
    built = true;
  }, 600_000);

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test('its addon loads, reports CUDA built in, and runs the CPU engine', () => {
    expect(built).toBe(true);
    const script = `
      const addon = require(${JSON.stringify(path.join(out, 'Release', 'ser_native.node'))});
      const a = Float32Array.from([1, 2, 3, 4]), c = new Float32Array(4);
      addon.matMul(a, a, c, 1, 2, 2, 2, false, false);
      console.log(JSON.stringify({ info: addon.gpuInfo(), product: Array.from(c) }));`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    const { info, product } = JSON.parse(result.stdout) as { info: ReturnType<typeof gpuInfo>; product: number[] };
    expect(product).toEqual([7, 10, 15, 22]);
    expect(info.built).toBe(true);
    expect(info.runtimeVersion).toBeGreaterThanOrEqual(13000);
    if (!info.available) {
      // No driver here: CUDA's own error names the reason, and the addon stays on the CPU.
      expect(info.reason).toMatch(/cudaError\w+|no device|cuBLAS/);
      expect(info.deviceCount).toBe(0);
    }
  });

  test("its check binary runs the CPU trainer's seed-preset step on any machine", () => {
    const result = spawnSync(path.join(out, 'ser_gpu_check'), ['--cpu-only', '--threads', '2'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const bench = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.bench);
    expect(bench).toMatchObject({ bench: 'seed-model-step', engine: 'cpu', batch: 32, steps: 3 });
    expect(Number.isFinite(bench?.loss)).toBe(true);
    expect(bench?.samplesPerSecond).toBeGreaterThan(0);
  });

  test('its check binary runs every GPU op check where a GPU is present, and says why not elsewhere', () => {
    const binary = path.join(out, 'ser_gpu_check');
    const probe = spawnSync(binary, ['--parity-only'], { encoding: 'utf8', timeout: 300_000 });
    const lines = probe.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    if (lines[0].available !== true) {
      expect(probe.status).toBe(3);
      expect(probe.stderr).toMatch(/no usable GPU: .+/);
      return;
    }
    const checks = lines.filter((l) => l.check);
    expect(checks.length).toBeGreaterThan(40);
    expect(checks.filter((c) => c.pass !== true)).toEqual([]);
    expect(probe.status).toBe(0);
  }, 300_000);
});
