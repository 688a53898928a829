#!/bin/bash
# A busy guest (the boot sector rewrites 55 MiB of its RAM between ticks) under a tight
# downtime and bandwidth limit cannot converge in pre-copy; the move must still complete
# (auto-converge, then post-copy after 3 s) without stopping or restarting the guest.
export LAB_NAME=lbz
source "$(dirname "$0")/lib.sh"
lab_up 2
guest_make bz1 64 busy shared >/dev/null
boot_on 1 bz1
wait_ticks bz1 1 20 || fail "busy guest does not tick"
out=$(hv 1 migrate bz1 "$(turi 2)" --live --dest "$(uri 2)" --max-downtime 5 --bandwidth 40 \
      --postcopy-after 3000 --json)
log "result: $out"
verify_moved bz1 2 1
