#!/bin/bash
# A busy guest (the boot sector rewrites 55 MiB of its RAM between ticks) under a tight
# downtime and bandwidth limit cannot converge in pre-copy; the move must still complete
# (auto-converge, then post-copy after 3 s) without stopping or restarting the guest.
# First, a move cancelled after 1.5 s (hv_migrate_cancel) leaves it running on host1.
export LAB_NAME=lbz
source "$(dirname "$0")/lib.sh"
lab_up 2
guest_make bz1 64 busy shared >/dev/null
boot_on 1 bz1
wait_ticks bz1 1 20 || fail "busy guest does not tick"
# a cancelled move leaves it running on host1, untouched
set +e
msg=$(hv 1 migrate bz1 "$(turi 2)" --live --dest "$(uri 2)" --bandwidth 20 --postcopy-after 0 \
      --cancel-after 1500 2>&1); rc=$?
set -e
[ $rc = 21 ] || fail "cancelled move: expected exit 21 (canceled), got $rc: $msg"
[ "$(hv 1 state bz1)" = running ] || fail "bz1 not running on host1 after the cancel"
hv 2 state bz1 >/dev/null 2>&1 && fail "bz1 defined on host2 after the cancel"
n=$(console_ticks bz1); wait_ticks bz1 "$n" 10 || fail "bz1 stopped counting after the cancel"
log "cancel OK: $(echo "$msg" | tail -1)"
out=$(hv 1 migrate bz1 "$(turi 2)" --live --dest "$(uri 2)" --max-downtime 5 --bandwidth 40 \
      --postcopy-after 3000 --json)
log "result: $out"
verify_moved bz1 2 1
