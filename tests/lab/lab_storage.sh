#!/bin/bash
# Storage migration (copy-storage-all) of a guest whose disk is on host-local storage; a
# plain live move of it is refused first with words that say what to do.
export LAB_NAME=lst
source "$(dirname "$0")/lib.sh"
lab_up 2
guest_make st1 64 idle local 1 >/dev/null
boot_on 1 st1
set +e
msg=$(hv 1 migrate st1 "$(turi 2)" --live --dest "$(uri 2)" 2>&1); rc=$?
set -e
[ $rc = 17 ] || fail "live move of a local-disk VM: expected exit 17 (not shared), got $rc: $msg"
echo "$msg" | grep -q -- "--storage" || fail "refusal does not say to use --storage: $msg"
log "refused as expected: $(echo "$msg" | tail -1)"
hv 1 migrate st1 "$(turi 2)" --storage --dest "$(uri 2)"
[ -s "$(hdir 2)/$LOCAL_DIR/st1.qcow2" ] || fail "no copied disk in host2's local storage"
verify_moved st1 2 1
