#!/usr/bin/env bash
# Builds the libFuzzer targets with AddressSanitizer and UBSan (clang and its fuzzer runtime from
# Debian: apt-get install clang-14 libclang-rt-14-dev) and runs each for the given seconds.
#   native/fuzz/run.sh [seconds per target, default 60] [jobs, default 1]
# Corpora, logs and crash files go to native/fuzz/.work/<target>/ (ignored by git); a second run
# continues from the corpora. Exit status 1 on any finding.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
native="$(dirname "$here")"
seconds="${1:-60}"
jobs="${2:-1}"
clang="$(command -v clang++-14 || command -v clang++ || true)"
if [[ -z "$clang" ]]; then
  echo "run.sh: clang++ not found; install clang-14 and libclang-rt-14-dev" >&2
  exit 2
fi
work="$here/.work"
mkdir -p "$work"
sources=("$native"/dsp/*.cc)
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -I"$native" -DSER_NO_CLONES -Wno-psabi
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
status=0
for target in fuzz_wav fuzz_params; do
  echo "building $target"
  dir="$work/$target"
  mkdir -p "$dir/corpus"
  "$clang" "${flags[@]}" "$here/$target.cc" "${sources[@]}" -o "$dir/$target"
  echo "running $target for ${seconds}s"
  parallel=()
  # With more than one job, libFuzzer forks workers that log to fuzz-<n>.log in the working folder.
  ((jobs > 1)) && parallel=(-jobs="$jobs" -workers="$jobs")
  if ! (cd "$dir" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "./$target" corpus -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      "${parallel[@]}" -print_final_stats=1 >"$target.log" 2>&1); then
    echo "$target: FOUND SOMETHING, see $dir/$target.log (and fuzz-*.log, crash-* there)" >&2
    status=1
  fi
  logs=("$dir/$target.log")
  ((jobs > 1)) && logs=("$dir"/fuzz-*.log)
  runs="$(grep -h 'stat::number_of_executed_units' "${logs[@]}" 2>/dev/null | awk '{s += $2} END {print s + 0}')"
  echo "$target: $runs executions in ${seconds}s, $(ls "$dir/corpus" | wc -l) corpus files"
done
exit "$status"
