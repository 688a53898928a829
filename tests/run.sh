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
# libFuzzer smoke run of every network/untrusted-input decoder (targets named fuzz_*,
# registered with drover_fuzz()); long runs are a separate job
if command -v clang >/dev/null && [ -z "$labels" ]; then
  echo "== [fuzz] build + 20000 runs per target"
  fz=$bdir/fuzz
  if CC=clang cmake -S "$root" -B "$fz" -DCMAKE_BUILD_TYPE=Debug -DDROVER_FUZZ=ON >/dev/null; then
    targets=$(cmake --build "$fz" --target help | sed -n 's/^\.\.\. \(fuzz_[a-z_]*\).*/\1/p')
    if cmake --build "$fz" -j"$jobs" --target $targets > "$fz/build.log" 2>&1; then
      corpus=$fz/corpus-envelope; mkdir -p "$corpus"
      "$(find "$fz" -name fuzz_corpus_envelope -type f -perm -u+x | head -1)" "$corpus"
      more=$fz/corpus-seeds; mkdir -p "$more"   # DIR/<target>/ for tests/fuzz's other targets
      "$(find "$fz" -name fuzz_corpus_seeds -type f -perm -u+x | head -1)" "$more"
      for t in $targets; do
        case $t in fuzz_corpus_*) continue ;; esac
        f=$(find "$fz" -name "$t" -type f -perm -u+x | head -1)
        seeds=(); [ "$t" = fuzz_envelope_open ] && seeds=("$corpus")
        [ -d "$more/$t" ] && seeds=("$more/$t")
        # undefined behaviour fails the smoke run like a crash (printed and passed before)
        if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
           "$f" -runs=20000 -max_len=4096 "${seeds[@]}" > "$fz/$t.log" 2>&1; then
          echo "fuzz $t: 20000 runs, no crash"
        else
          tail -30 "$fz/$t.log"; echo "fuzz $t: FAILED"; rc=1
        fi
      done
    else
      grep -E 'error' "$fz/build.log" | head -20; echo "== [fuzz] BUILD FAILED"; rc=1
    fi
  else
    echo "== [fuzz] CONFIGURE FAILED"; rc=1
  fi
fi
if [ $rc = 0 ]; then echo "tests/run.sh: ALL PASSED (release + asan)"; else echo "tests/run.sh: FAILED"; fi
exit $rc
