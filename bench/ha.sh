#!/bin/bash
# bench/ha.sh BUILD_DIR — HA figures of issue 7 in a 3-host lab: restart_after_death_ms
# (p50/p99/max), drain_makespan_ms, drain_vs_ideal, link_bandwidth_mib_s. JSON lines on
# stdout (bench/ha/ha_lab.sh says how each is measured). Needs root; prints one skip line
# and exits 0 otherwise.
set -euo pipefail
BUILD=${1:?usage: bench/ha.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "bench ha: skipped: needs root (lab namespaces)" >&2; exit 0; fi
cmake --build "$BUILD" --target drover drctl ha_linkbw >/dev/null
exec bash "$ROOT/bench/ha/ha_lab.sh" "$BUILD"
