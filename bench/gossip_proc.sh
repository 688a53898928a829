#!/bin/bash
# real agents on loopback, drover vs serf: detection times and bandwidth (n = 16 and 32)
exec bash "$(dirname "$0")/gossip_proc/proc_vs_serf.sh" "$1" ${DROVER_BENCH_SIZES:-16 32}
