#!/bin/bash
# bench/gossip.sh BUILD_DIR — gossip failure detection, dissemination and bandwidth.
# mode "sim": the real core on the deterministic simulated network, n = 64, 256, 1024
# (DROVER_GOSSIP_BENCH_N overrides the list).  Every host re-publishes a 320-byte status
# record every 300 s (the rate docs/gossip.md recommends: on change, plus a refresh);
# one extra run at n=256 shows the cost of a 60 s refresh.
# mode "proc": 16 and 32 real drover agents on 127.0.0.x (zmq + CURVE), SIGKILL one per
# trial, detection from each agent's log (gossip/proc_compare.sh); side by side, 16 real
# serf agents (memberlist, LAN profile) on loopback timed the same way
# (gossip/serf_compare.sh), and the drover/serf ratio of detect_p99_ms at equal N.
set -euo pipefail
bdir=${1:?usage: bench/gossip.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
exe=$bdir/bench/gossip/gossip_bench
[ -x "$exe" ] || { echo "gossip.sh: $exe not built" >&2; exit 1; }
seed=${DROVER_SIM_SEED:-1}
for n in ${DROVER_GOSSIP_BENCH_N:-64 256 1024}; do
  trials=20
  [ "$n" -ge 1024 ] && trials=8
  "$exe" --n "$n" --trials "$trials" --seed "$seed" --status-period-ms 300000
done
[ -n "${DROVER_GOSSIP_BENCH_N:-}" ] && exit 0
"$exe" --n 256 --trials 10 --seed "$seed" --status-period-ms 60000

# real agents ("proc") and serf side by side at equal N
serf_n=${DROVER_GOSSIP_SERF_N:-16}
"$exe" --n "$serf_n" --trials 10 --seed "$seed" --status-period-ms 300000
ours=$(bash "$here/gossip/proc_compare.sh" "$bdir" "$serf_n" 3 || true)
echo "$ours"
bash "$here/gossip/proc_compare.sh" "$bdir" 32 3 || true
theirs=$(bash "$here/gossip/serf_compare.sh" "$serf_n" 3 || true)
echo "$theirs"
[ -n "$ours" ] && [ -n "$theirs" ] || exit 0
p99() { grep '"metric":"detect_p99_ms"' | sed 's/.*"value":\([0-9.]*\).*/\1/'; }
a=$(echo "$ours" | p99)
b=$(echo "$theirs" | p99)
awk -v a="$a" -v b="$b" -v n="$serf_n" 'BEGIN { if (b > 0) printf "{\"bench\":\"gossip\",\"system\":\"drover/serf\",\"mode\":\"proc\",\"n\":%d,\"hosts\":%d,\"metric\":\"detect_p99_ratio\",\"value\":%.3f,\"unit\":\"ratio\"}\n", n, n, a / b }'
