#!/usr/bin/env bash
# Sets up the Python benchmark peers (bench/peers/keras_seed.py, bench/peers/torch_seed.py) and, from the
# same tensorflow-cpu wheel, @tensorflow/tfjs-node built against TensorFlow's C library (section 6 below).
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
#        SER_SKIP_TFJS_NODE=1 bash bench/peers/setup.sh   (the Python peers only, no tfjs-node build)
# Re-running is safe: it reuses an existing bench/.venv, and skips the tfjs-node build when the built
# binding already loads on the wheel's TensorFlow version.
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
# The features peer of the long-recording suite (bench/peers/torchaudio_mfcc.py).
dpkg -s python3-torchaudio >/dev/null 2>&1 || need_apt+=(python3-torchaudio)
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

# ---------------------------------------------------------------------------------------------------------
# 6. @tensorflow/tfjs-node on the wheel's TensorFlow C library (what `ser train --backend tensorflow` loads).
#
# Why: tfjs-node's own install script downloads libtensorflow 2.9.1 from storage.googleapis.com, which is
# not reachable everywhere (and 2.9.1 is old). The tensorflow-cpu wheel installed above already contains
# TensorFlow's C API (TF_* / TFE_* symbols exported by libtensorflow_cc.so.2 and
# libtensorflow_framework.so.2), so the binding is compiled here against that library instead.
# tfjs-node stays an optional peer dependency of the package: nothing here writes package.json or
# package-lock.json, and node_modules is git-ignored. A later plain `npm install` / `npm ci` prunes tfjs-node
# again (it is not in the lockfile); re-run this script then.
# Needs: node + npm, a C++ compiler and make (node-gyp), the npm registry. Node's headers are taken from
# the local installation when present (e.g. /usr/include/node), otherwise node-gyp downloads them.
# ---------------------------------------------------------------------------------------------------------
if [ "${SER_SKIP_TFJS_NODE:-0}" = 1 ]; then
  echo "setup.sh: SER_SKIP_TFJS_NODE=1: tfjs-node left as it is" >&2
  exit 0
fi

ROOT="$(dirname "$BENCH_DIR")"
TFJS_NODE_VERSION=4.22.0   # the tfjs version the package pins (src/backend/select.ts TFJS_VERSION)
TFN="$ROOT/node_modules/@tensorflow/tfjs-node"

# 6a. Already done? The binding must load from the project root and report the wheel's TensorFlow version.
#     (Loading takes about a second; the full training check runs at the end either way.)
tfjs_node_loads() {
  (cd "$ROOT" && TF_CPP_MIN_LOG_LEVEL=3 node -e '
    const tf = require("@tensorflow/tfjs-node");
    const v = tf.backend().binding.TF_Version;
    process.exit(tf.version["tfjs-node"] === process.argv[1] && v === process.argv[2] ? 0 : 1);
  ' "$TFJS_NODE_VERSION" "$TF_VERSION") >/dev/null 2>&1
}

if tfjs_node_loads; then
  echo "setup.sh: tfjs-node $TFJS_NODE_VERSION already built on libtensorflow $TF_VERSION; skipping the build" >&2
else
  # 6b. Build tools for node-gyp (only what is missing).
  need_apt=()
  command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
  command -v make >/dev/null 2>&1 || need_apt+=(make)
  if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup.sh: apt-get install ${need_apt[*]}" >&2
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_apt[@]}"
  fi

  # 6c. The package itself, without running its install script (that script is the download above).
  #     --no-save: package.json and package-lock.json stay as they are.
  #     --save-prod: package.json lists tfjs-node as an OPTIONAL PEER dependency; for such a name npm takes
  #     `npm install <name>` as already satisfied and installs nothing ("up to date"). --save-prod makes it
  #     a regular dependency in npm's in-memory tree only (with --no-save it is never written), so npm
  #     really adds it and its dependencies, de-duplicated against the project's @tensorflow/tfjs 4.22.0
  #     (tfjs-node must register its backend with the project's single tfjs-core).
  installed_version="$(cd "$ROOT" && node -p 'require("@tensorflow/tfjs-node/package.json").version' 2>/dev/null || true)"
  if [ "$installed_version" != "$TFJS_NODE_VERSION" ]; then
    manifests_before="$(cd "$ROOT" && cat package.json package-lock.json | sha256sum)"
    (cd "$ROOT" && npm install --no-save --save-prod --ignore-scripts --no-audit --no-fund \
      "@tensorflow/tfjs-node@$TFJS_NODE_VERSION")
    if [ "$(cd "$ROOT" && cat package.json package-lock.json | sha256sum)" != "$manifests_before" ]; then
      echo "setup.sh: npm changed package.json or package-lock.json; tfjs-node must stay out of them" >&2
      exit 1
    fi
  fi
  [ -f "$TFN/binding.gyp" ] || { echo "setup.sh: $TFN/binding.gyp missing after npm install" >&2; exit 1; }

  # 6d. Stage the wheel's C library where binding.gyp looks: it compiles with -I deps/include (including
  #     tensorflow/c/c_api.h and tensorflow/c/eager/c_api.h), links -L deps/lib -ltensorflow
  #     -ltensorflow_framework, and sets the addon's RUNPATH to $ORIGIN/../../deps/lib, so the libraries
  #     must stay in deps/lib at run time.
  # The wheel's directory, found without importing TensorFlow (which is slow).
  TF_DIR="$("$VENV/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("tensorflow").origin))')"
  for f in libtensorflow_cc.so.2 libtensorflow_framework.so.2 include/tensorflow/c/c_api.h include/tensorflow/c/eager/c_api.h; do
    [ -e "$TF_DIR/$f" ] || { echo "setup.sh: $TF_DIR/$f not found in the tensorflow-cpu wheel" >&2; exit 1; }
  done
  rm -rf "$TFN/deps"
  mkdir -p "$TFN/deps/lib" "$TFN/deps/include/tensorflow"
  # Headers: all of tensorflow/c, plus the few headers elsewhere in the wheel's include tree that the C API
  # headers pull in (in 2.21: tensorflow/core/platform/ctstring*.h, tsl/platform/ctstring*.h,
  # xla/tsl/c/tsl_status.h). The preprocessor lists them (-MM -MG: dependencies only, system and missing
  # headers such as node_api.h skipped), so the list follows the wheel's version instead of being fixed here.
  cp -R "$TF_DIR/include/tensorflow/c" "$TFN/deps/include/tensorflow/"
  api_headers="$(cd "$TF_DIR/include" && c++ -std=c++17 -MM -MG -I. "$TFN"/binding/*.cc \
    | tr ' \\' '\n\n' | grep -vE '^$|^/|:$' | sort -u)"
  for h in $api_headers; do
    [ -f "$TF_DIR/include/$h" ] || continue
    mkdir -p "$TFN/deps/include/$(dirname "$h")"
    cp -f "$TF_DIR/include/$h" "$TFN/deps/include/$h"
  done
  # Libraries: hard links when node_modules and the venv share a filesystem (libtensorflow_cc.so.2 is
  # ~800 MB; a hard link costs no space and survives the venv being deleted), else copies. The link names:
  # -ltensorflow needs libtensorflow.so, -ltensorflow_framework needs libtensorflow_framework.so;
  # libtensorflow.so.2 is the name the old standalone libtensorflow had. The linker records the real
  # SONAMEs (libtensorflow_cc.so.2, libtensorflow_framework.so.2) in the addon, which the RUNPATH finds.
  for lib in libtensorflow_cc.so.2 libtensorflow_framework.so.2; do
    ln -f "$TF_DIR/$lib" "$TFN/deps/lib/$lib" 2>/dev/null || cp -f "$TF_DIR/$lib" "$TFN/deps/lib/$lib"
  done
  ln -sfn libtensorflow_cc.so.2 "$TFN/deps/lib/libtensorflow.so.2"
  ln -sfn libtensorflow.so.2 "$TFN/deps/lib/libtensorflow.so"
  ln -sfn libtensorflow_framework.so.2 "$TFN/deps/lib/libtensorflow_framework.so"

  # 6e. Compile the addon (lib/napi-v<N>/tfjs_binding.node, where tfjs-node's index.js looks for it).
  #     Not `npm rebuild @tensorflow/tfjs-node --build-from-source`: that runs the package's install script,
  #     which only builds when deps/lib/libtensorflow.so.2.9.1 exists and otherwise deletes deps/ and
  #     downloads libtensorflow 2.9.1. `node-pre-gyp rebuild --build-from-source` is the step that script
  #     ends with (it passes node-gyp the module name, path and N-API version from tfjs-node's package.json),
  #     without the download. --build-latest-napi-version-only: by default node-pre-gyp compiles the addon
  #     once per N-API version tfjs-node lists (3 to 8), but tfjs-node loads only the newest one this Node
  #     supports. JOBS defaults to 1 (two source files; a busy machine stays usable). Addons left from
  #     earlier builds are removed first so that only the one built here can be found.
  node_prefix="$(node -p 'require("path").resolve(process.execPath, "..", "..")')"
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
    export npm_config_nodedir="$node_prefix"   # local headers; otherwise node-gyp downloads them
  fi
  node_pre_gyp="$(node -p 'require.resolve("@mapbox/node-pre-gyp/bin/node-pre-gyp", { paths: [process.argv[1]] })' "$TFN")"
  rm -rf "$TFN"/lib/napi-v* "$TFN/build"
  (cd "$TFN" && JOBS="${JOBS:-1}" node "$node_pre_gyp" rebuild --build-from-source --build-latest-napi-version-only)

  if ! tfjs_node_loads; then
    echo "setup.sh: the built tfjs-node binding does not load or does not report TensorFlow $TF_VERSION" >&2
    exit 1
  fi
fi

# 6f. Prove the backend trains through libtensorflow (backend 'tensorflow', TF_Version, libtensorflow mapped
#     into the process, a 2-epoch fit whose loss changes); exits non-zero otherwise.
(cd "$ROOT" && node "$HERE/check-tfjs-node.js" "$TF_VERSION")
echo "setup.sh: tfjs-node $TFJS_NODE_VERSION built on libtensorflow $TF_VERSION in $TFN"
