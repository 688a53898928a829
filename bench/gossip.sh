#!/bin/bash
# bench/gossip.sh BUILD_DIR — gossip failure detection, dissemination and bandwidth.
# mode "sim": the real core on the deterministic simulated network, n = 64, 256, 1024
# (DROVER_GOSSIP_BENCH_N overrides the list). mode "proc" and the serf side-by-side need
# the agent transport; see docs/gossip.md (TODO there).
set -euo pipefail
bdir=${1:?usage: bench/gossip.sh BUILD_DIR}
exe=$bdir/bench/gossip/gossip_bench
[ -x "$exe" ] || { echo "gossip.sh: $exe not built" >&2; exit 1; }
for n in ${DROVER_GOSSIP_BENCH_N:-64 256 1024}; do
  trials=20
  [ "$n" -ge 1024 ] && trials=10
  "$exe" --n "$n" --trials "$trials" --seed "${DROVER_SIM_SEED:-1}"
done
