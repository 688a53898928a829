#!/bin/bash
# LMDB durable committed writes per second (state dir under /var/tmp: a real disk, not tmpfs)
d=$(mktemp -d /var/tmp/drover-bench-store-XXXXXX)
trap 'rm -rf "$d"' EXIT
"$1/bench/core/bench_store" "$d" "${DROVER_BENCH_SECS:-2}"
