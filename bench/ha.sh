#!/bin/bash
# bench/ha.sh BUILD_DIR — HA figures of issues 7 and 11 in a 3-host lab, idle and under
# load ("load": idle|saturated), without and with a fence command ("fence": lease|command):
# restart_after_death_ms (p50/p99/max/count), collateral_destroys, double_runs,
# loop_lateness_us (p99.9/max), fence_called_after_death_ms; once (idle, lease)
# drain_makespan_ms, drain_vs_ideal, link_bandwidth_mib_s. JSON lines on stdout, progress
# on stderr (bench/ha/ha_lab.sh says how each is measured and which environment sets the
# trial counts). Needs root; prints one skip line and exits 0 otherwise.
set -euo pipefail
BUILD=${1:?usage: bench/ha.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "bench ha: skipped: needs root (lab namespaces)" >&2; exit 0; fi
cmake --build "$BUILD" --target drover drctl ha_linkbw >/dev/null
exec bash "$ROOT/bench/ha/ha_lab.sh" "$BUILD"
