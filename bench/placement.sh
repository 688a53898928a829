#!/bin/bash
# placement planning time: evacuation_plan_ms, restart_plan_ms, admission_ms at
# hosts/vms 16/500, 64/2500, 256/10000 (median of DROVER_BENCH_REPS runs)
exec "$1/bench/placement/bench_placement" "${DROVER_BENCH_REPS:-15}"
