#!/bin/bash
# bench/migrate.sh BUILD_DIR — live migration wall time and downtime of the tick guest at
# 64, 256 and 1024 MiB, in a 2-host lab (deploy/lab.sh), driven through drover's adapter.
# JSON lines on stdout. Needs root; prints one skip line and exits 0 otherwise.
#   BENCH_MIGRATE_RUNS=5  moves per size (alternating host1 <-> host2)
set -euo pipefail
BUILD=${1:?usage: bench/migrate.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_MIGRATE_RUNS:-5}
if [ "$(id -u)" != 0 ]; then echo "bench migrate: skipped: needs root (lab namespaces)" >&2; exit 0; fi
BIN=$BUILD/bench/migrate/migrate_bench
[ -x "$BIN" ] || cmake --build "$BUILD" --target migrate_bench >/dev/null
export LAB=/tmp/drover-bench-migrate LAB_NAME=bmg
# shellcheck source=../deploy/lab.sh
source "$ROOT/deploy/lab.sh"
trap 'lab_down 2>/dev/null' EXIT
lab_up 2 2>/dev/null
virt=$(cat "$LAB/virt")
for mem in 64 256 1024; do
  vm=bm$mem
  guest_make "$vm" "$mem" idle shared >/dev/null
  virsh -q -c "$(uri 1)" define "$LAB/$vm.xml" >/dev/null
  virsh -q -c "$(uri 1)" start "$vm" >/dev/null
  wait_ticks "$vm" 0 60 || { echo "bench migrate: $vm does not boot" >&2; exit 1; }
  # RUNS moves leave it on host1 (even) or host2 (odd)
  "$BIN" "$vm" "$(uri 1)" "$(turi 1)" "$(uri 2)" "$(turi 2)" "$mem" "$RUNS" "$virt"
  for h in 1 2; do
    virsh -q -c "$(uri $h)" destroy "$vm" >/dev/null 2>&1 || true
    virsh -q -c "$(uri $h)" undefine "$vm" >/dev/null 2>&1 || true
  done
done
