#!/bin/bash
# tests/run.sh — install what is missing, build Release and ASan+UBSan, run every test in both.
#   DROVER_TEST_LABELS=unit|sim   restrict to labels (ctest -L regex); default: everything
#   DROVER_BUILD_ROOT=DIR         where the two build trees go (default ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./deploy/setup.sh build lab

bdir=${DROVER_BUILD_ROOT:-$root/build}
jobs=$(nproc)
labels=${DROVER_TEST_LABELS:-}
werror=ON          # warnings are errors everywhere we test, so CI and developers agree

run_tree() {   # name, cmake args...
  local name=$1; shift
  local dir=$bdir/$name
  echo "== [$name] configure + build"
  cmake -S "$root" -B "$dir" -DDROVER_WERROR=$werror "$@" >/dev/null
  if ! cmake --build "$dir" -j"$jobs" > "$dir/build.log" 2>&1; then
    grep -E 'error|warning' "$dir/build.log" | head -40; tail -20 "$dir/build.log"
    echo "== [$name] BUILD FAILED (full log: $dir/build.log)"; return 1
  fi
  echo "== [$name] ctest"
  local args=(--test-dir "$dir" --output-on-failure --timeout 900)
  [ -n "$labels" ] && args+=(-L "$labels")
  ctest "${args[@]}"
}

rc=0
run_tree release -DCMAKE_BUILD_TYPE=Release || rc=1
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  run_tree asan -DCMAKE_BUILD_TYPE=Debug -DDROVER_SANITIZE=ON || rc=1
# libFuzzer smoke run of every network decoder (long runs are a separate job)
if command -v clang >/dev/null && [ -z "$labels" ]; then
  echo "== [fuzz] build + 20000 runs per target"
  if CC=clang cmake -S "$root" -B "$bdir/fuzz" -DCMAKE_BUILD_TYPE=Debug -DDROVER_FUZZ=ON >/dev/null &&
     cmake --build "$bdir/fuzz" -j"$jobs" --target fuzz_envelope_open fuzz_corpus_envelope > "$bdir/fuzz/build.log" 2>&1; then
    corpus=$bdir/fuzz/corpus-envelope; mkdir -p "$corpus"
    "$bdir/fuzz/tests/fuzz/fuzz_corpus_envelope" "$corpus"
    for f in "$bdir"/fuzz/tests/fuzz/fuzz_*_open; do
      [ -x "$f" ] || continue
      if "$f" -runs=20000 -max_len=4096 "$corpus" > "$bdir/fuzz/$(basename "$f").log" 2>&1; then
        echo "fuzz $(basename "$f"): 20000 runs, no crash"
      else
        tail -30 "$bdir/fuzz/$(basename "$f").log"; echo "fuzz $(basename "$f"): FAILED"; rc=1
      fi
    done
  else
    tail -20 "$bdir/fuzz/build.log" 2>/dev/null; echo "== [fuzz] BUILD FAILED"; rc=1
  fi
fi
if [ $rc = 0 ]; then echo "tests/run.sh: ALL PASSED (release + asan)"; else echo "tests/run.sh: FAILED"; fi
exit $rc
