#!/bin/bash
# bench/run.sh [NAME...] — build (Release) and run benchmarks; each prints JSON lines
# {"bench":..., "metric":..., "value":..., "unit":..., <parameters>}. Default: all.
# A benchmark NAME is the script bench/NAME.sh, called with the build dir as $1.
#   DROVER_BENCH_BUILD=DIR   build tree to use (default ./build/release)
#   DROVER_BENCH_OUT=FILE    also append every JSON line to FILE
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./deploy/setup.sh build
bdir=${DROVER_BENCH_BUILD:-$root/build/release}
cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$bdir" -j"$(nproc)" >/dev/null

available=()
for f in bench/*.sh; do available+=("$(basename "$f" .sh)"); done
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${available[@]}")
rc=0
for n in "${names[@]}"; do
  if [ ! -f "bench/$n.sh" ]; then
    echo "bench/run.sh: no benchmark '$n' (have: ${available[*]})" >&2
    exit 2
  fi
  echo "== bench $n" >&2
  if [ -n "${DROVER_BENCH_OUT:-}" ]; then
    bash "bench/$n.sh" "$bdir" | tee -a "$DROVER_BENCH_OUT" || rc=1
  else
    bash "bench/$n.sh" "$bdir" || rc=1
  fi
done
exit $rc
