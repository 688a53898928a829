#!/bin/bash
# envelope seal/open per second by payload size
exec "$1/bench/core/bench_envelope" "${DROVER_BENCH_SECS:-1}"
