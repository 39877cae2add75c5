#!/usr/bin/env bash
# Sets up the Python benchmark peers (bench/peers/keras_seed.py, bench/peers/torch_seed.py).
# Python is used only by these peers, never by the package at run time.
#
# Layout chosen: ONE interpreter for both peers.
#   - PyTorch comes from Debian (python3-torch, 1.13.1 on bookworm), which is built for /usr/bin/python3
#     (3.11 on bookworm) and lives in /usr/lib/python3/dist-packages.
#   - bench/.venv is created FROM /usr/bin/python3 WITH --system-site-packages, so it sees Debian's torch,
#     and tensorflow-cpu==2.21.0 is pip-installed into it. The only tensorflow-cpu 2.21.0 wheel is
#     cp311 manylinux_2_27 x86_64: /usr/bin/python3 is 3.11 and bookworm's glibc is 2.36, so it fits.
#   - numpy is pinned below 2 in the venv: TF 2.21 needs numpy >= 1.26 (Debian ships 1.24, so pip puts a
#     newer one in the venv, which shadows Debian's), while Debian's torch 1.13 is compiled against the
#     numpy 1.x ABI (torch < 2.3 is not expected to work with numpy 2). numpy 1.26.x satisfies both.
#   - libopenblas0-openmp is installed too: Debian's torch is built with BLAS_INFO=generic and calls whatever
#     libblas.so.3 the alternatives system points at; with only libblas3 (netlib reference BLAS) the LSTM and
#     Linear matmuls are slow (measured ~18 vs ~46 samples/s at 1 thread). Installing OpenBLAS switches the
#     libblas.so.3 alternative to it (priority 100 > 10). The OpenMP flavour is chosen because torch itself
#     parallelises with OpenMP, so both share one pool and OMP_NUM_THREADS/torch.set_num_threads bound both.
#     This is a system-wide switch; this project's own native code does not link BLAS.
#   - bench/.venv gets its own .gitignore ("*") so it stays out of git even if the top-level .gitignore
#     does not list it.
#   - The first run takes a few minutes here, mostly pip retrying an unreachable default index before it
#     uses the configured mirror; later runs skip pip when tensorflow-cpu and numpy are already right.
#   - Do not use a pyenv/other python3 from PATH: Debian's torch is not importable there.
# run-peer.ts picks the interpreter: $SER_BENCH_PYTHON, else bench/.venv/bin/python, else python3.
#
# Usage: bash bench/peers/setup.sh          (root, or sudo available, for the apt-get step)
# Re-running is safe: it reuses an existing bench/.venv.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(dirname "$HERE")"
VENV="$BENCH_DIR/.venv"
SYS_PY=/usr/bin/python3
TF_VERSION=2.21.0

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup.sh: need root (or sudo) to run: $*" >&2; return 1
  fi
}

# 1. Debian packages: PyTorch for /usr/bin/python3, venv support (ensurepip) for that interpreter, OpenBLAS.
need_apt=()
dpkg -s python3-torch >/dev/null 2>&1 || need_apt+=(python3-torch)
dpkg -s python3-venv >/dev/null 2>&1 || need_apt+=(python3-venv)
dpkg -s libopenblas0-openmp >/dev/null 2>&1 || need_apt+=(libopenblas0-openmp)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup.sh: apt-get install ${need_apt[*]}" >&2
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_apt[@]}"
fi

# 2. Check the interpreter fits the tensorflow-cpu 2.21 wheel (cp311, x86_64, glibc >= 2.27).
"$SYS_PY" - <<'EOF'
import platform, sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"setup.sh: /usr/bin/python3 is {platform.python_version()}; tensorflow-cpu 2.21.0 here is a cp311 wheel "
             "and Debian's python3-torch targets this interpreter: use Debian bookworm (Python 3.11)")
if platform.machine() != "x86_64":
    sys.exit(f"setup.sh: machine is {platform.machine()}; tensorflow-cpu 2.21.0 wheel is x86_64 only")
libc, ver = platform.libc_ver()
if libc == "glibc" and tuple(int(x) for x in ver.split(".")[:2]) < (2, 27):
    sys.exit(f"setup.sh: glibc {ver} is older than the wheel's manylinux_2_27")
EOF

# 3. The virtual environment (from /usr/bin/python3, seeing Debian's site-packages).
if [ ! -x "$VENV/bin/python" ]; then
  "$SYS_PY" -m venv --system-site-packages "$VENV"
fi
# Keep the venv out of git even where bench/.venv is not listed in .gitignore.
[ -f "$VENV/.gitignore" ] || printf '*\n' > "$VENV/.gitignore"

# 4. TensorFlow (pip uses this machine's pip configuration, i.e. its package mirror).
# Skipped when already in place (pip's index look-ups are slow here when it also tries an unreachable index).
if ! "$VENV/bin/python" - "$TF_VERSION" >/dev/null 2>&1 <<'EOF'
import sys
from importlib.metadata import version
assert version("tensorflow-cpu") == sys.argv[1]
assert version("numpy").startswith("1.") and tuple(int(x) for x in version("numpy").split(".")[:2]) >= (1, 26)
EOF
then
  "$VENV/bin/python" -m pip install --upgrade "tensorflow-cpu==$TF_VERSION" "numpy>=1.26,<2"
fi

# 5. Check both frameworks import from the one interpreter.
TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/python" - <<'EOF'
import numpy, tensorflow as tf, keras, torch
blas = [l.split()[-1] for l in open("/proc/self/maps") if "libblas" in l or "openblas" in l]
print(f"torch BLAS: {sorted(set(blas)) or 'unknown'}")
print(f"ok: python {__import__('sys').version.split()[0]}, numpy {numpy.__version__}, "
      f"tensorflow {tf.__version__}, keras {keras.__version__}, torch {torch.__version__}")
EOF
echo "setup.sh: interpreter for both peers: $VENV/bin/python"
