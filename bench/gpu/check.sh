#!/usr/bin/env bash
# The GPU check in one command, for a GPU machine with no network and no Node (the lent H200: nvcc 13,
# CMake, ninja, PyTorch 2.11 cu130 whose environment holds cuBLAS 13). It
#   1. builds the engine and its check binary (ser_gpu_check) with CUDA, for sm_90 plus PTX;
#   2. runs every GPU op against the CPU engine (forward and every gradient, 1e-4 of the largest value)
#      and three whole-model Adam steps of the seed preset on the GPU and CPU trainers (1e-4 relative
#      L2 per tensor);
#   3. times the seed preset's whole training step (what `ser train --device gpu` runs) on the GPU and
#      on all of the machine's cores at batch 32 and 256;
#   4. times PyTorch's twin of the whole seed model (bench/peers/torch_seed.py --device cuda) at the
#      same batches;
# and writes gpu-check.jsonl, torch-cuda.jsonl, gpu-results.md and check.log into the output folder
# ($1, else $OUT, else bench/gpu/out). Exit status: 0 when every check passed and every run finished.
#
# Usage: bash bench/gpu/check.sh [output-folder]
# Environment: SER_CUBLAS_ROOT (a folder with include/cublas_v2.h), SER_CUBLAS_LIBRARY (libcublas.so.13;
# both found in python3's site-packages otherwise, as PyTorch's nvidia-cublas wheel puts them), CUDACXX
# (nvcc; found on PATH or under /usr/local/cuda* otherwise).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-${OUT:-$root/bench/gpu/out}}
mkdir -p "$out"
exec > >(tee "$out/check.log") 2>&1
started=$(date +%s)
status=0
say() { echo "[check $(($(date +%s) - started)) s] $*"; }

nvcc=${CUDACXX:-$(command -v nvcc || true)}
if [ -z "$nvcc" ]; then
  nvcc=$(ls -d /usr/local/cuda*/bin/nvcc 2>/dev/null | sort -V | tail -1)
fi
if [ -z "$nvcc" ] || [ ! -x "$nvcc" ]; then
  say "no nvcc found: set CUDACXX"; exit 1
fi

# cuBLAS 13: the headers to build, the library to open at run time. Each from the environment, else
# from python3's site-packages (PyTorch's nvidia-cublas wheel), else /usr and /opt.
sites=$(python3 -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null || true)
find_in() {  # find_in NAME PATH_PATTERN: the first match under site-packages, then /usr and /opt
  local hit=""
  for dir in $sites; do
    hit=$(find "$dir" -path "$2" -name "$1" 2>/dev/null | head -1)
    [ -n "$hit" ] && break
  done
  [ -z "$hit" ] && hit=$(find /usr /opt -path "$2" -name "$1" 2>/dev/null | head -1)
  echo "$hit"
}
if [ -z "${SER_CUBLAS_ROOT:-}" ]; then
  header=$(find_in cublas_v2.h '*nvidia*')
  [ -z "$header" ] && header=$(find_in cublas_v2.h '*')
  [ -n "$header" ] && SER_CUBLAS_ROOT=$(dirname "$(dirname "$header")")
fi
if [ -z "${SER_CUBLAS_ROOT:-}" ] || [ ! -f "$SER_CUBLAS_ROOT/include/cublas_v2.h" ]; then
  say "cuBLAS 13 headers not found: set SER_CUBLAS_ROOT (a folder with include/cublas_v2.h)"; exit 1
fi
if [ -z "${SER_CUBLAS_LIBRARY:-}" ]; then
  SER_CUBLAS_LIBRARY=$(find "$SER_CUBLAS_ROOT" "$SER_CUBLAS_ROOT/.." -maxdepth 3 -name 'libcublas.so.13' 2>/dev/null | head -1)
  [ -z "$SER_CUBLAS_LIBRARY" ] && SER_CUBLAS_LIBRARY=$(find_in 'libcublas.so.13' '*')
fi
export SER_CUBLAS_LIBRARY
say "nvcc: $nvcc ($("$nvcc" --version | tail -1))"
say "cuBLAS: $SER_CUBLAS_ROOT, library ${SER_CUBLAS_LIBRARY:-(the search path of the loader)}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

build=${SER_GPU_BUILD:-$root/build-gpu}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
say "building ser_gpu_check in $build"
if ! cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSER_CUDA=ON \
    -DSER_CUBLAS_ROOT="$SER_CUBLAS_ROOT" -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null ||
  ! cmake --build "$build" --target ser_gpu_check -j "$(nproc)"; then
  say "the build failed"; exit 1
fi

threads=$(nproc)
say "ser_gpu_check: parity, then the engine step on the GPU and on $threads cores"
"$build/ser_gpu_check" --threads "$threads" | tee "$out/gpu-check.jsonl"
check=${PIPESTATUS[0]}
[ "$check" -ne 0 ] && { say "ser_gpu_check exited $check"; status=1; }

: >"$out/torch-cuda.jsonl"
for batch in 32 256; do
  say "PyTorch twin, cuda, batch $batch"
  steps=$([ "$batch" -eq 32 ] && echo 50 || echo 20)
  if ! python3 "$root/bench/peers/torch_seed.py" --device cuda --batch "$batch" --steps "$steps" --warmup 5 \
      --threads "$threads" >>"$out/torch-cuda.jsonl"; then
    say "torch_seed.py failed at batch $batch"; status=1
  fi
done

python3 - "$out" <<'PY' || status=1
import json, sys
out = sys.argv[1]
def lines(name):
    try:
        with open(f"{out}/{name}") as f:
            return [json.loads(l) for l in f if l.strip().startswith("{")]
    except FileNotFoundError:
        return []
check, torch = lines("gpu-check.jsonl"), lines("torch-cuda.jsonl")
gpu = next((l for l in check if "gpu" in l), {})
checks = [l for l in check if "check" in l]
rate = {(l["engine"], l["batch"]): l["samplesPerSecond"] for l in check if l.get("bench") == "seed-model-step"}
peer = {l["batch"]: l for l in torch}
rows = [f"GPU: {gpu.get('gpu')} (compute {gpu.get('computeCapability')}), driver {gpu.get('driverVersion')}, "
        f"runtime {gpu.get('runtimeVersion')}", "",
        f"Op checks: {sum(c['pass'] for c in checks)} of {len(checks)} within 1e-4 "
        f"(worst {max((c.get('relativeMaxError', c.get('relativeL2Error', 0)) for c in checks), default=float('nan')):.2g})", "",
        "| batch | ser, GPU | ser, CPU (all cores) | GPU / CPU | PyTorch 2 eager, cuda | ser GPU / PyTorch |",
        "|---:|---:|---:|---:|---:|---:|"]
for batch in (32, 256):
    g, c, p = rate.get(("gpu", batch)), rate.get(("cpu", batch)), peer.get(batch, {}).get("samplesPerSecond")
    f = lambda v: f"{v:,.0f}" if v else "-"
    r = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
    rows.append(f"| {batch} | {f(g)} | {f(c)} | {r(g, c)} | {f(p)} | {r(g, p)} |")
rows += ["", "Samples/s of the seed preset's whole training step (forward, loss, backward, Adam), the batch uploaded "
         "each step. ser's LSTM gates are tfjs's hard sigmoid (own kernels); PyTorch's are cuDNN's sigmoid LSTM."]
with open(f"{out}/gpu-results.md", "w") as f:
    f.write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
say "done, status $status"
exit $status
