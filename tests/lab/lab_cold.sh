#!/bin/bash
# Cold moves: a stopped guest (its definition moves, shared disk), a managed-saved guest and
# a paused guest (memory image through shared storage, restored paused on the destination:
# the counter continues from where it was, booted once).
export LAB_NAME=lcd
source "$(dirname "$0")/lib.sh"
lab_up 2
guest_make cd1 64 idle shared >/dev/null
hv 1 define "$LAB/cd1.xml"
hv 1 migrate cd1 "$(turi 2)" --cold --dest "$(uri 2)"
[ "$(hv 2 state cd1)" = shutoff ] || fail "stopped cd1 not defined (shut off) on host2"
hv 1 state cd1 >/dev/null 2>&1 && fail "cd1 still defined on host1"
log "OK: stopped cd1 moved; defined on host2 only"
for how in save suspend; do
  vm=cd_$how
  guest_make "$vm" 64 idle shared >/dev/null
  boot_on 1 "$vm"
  sleep 1
  if [ $how = save ]; then
    hv 1 save "$vm"
    [ "$(hv 1 state "$vm")" = saved ] || fail "$vm not in managed-save state"
  else
    virsh -q -c "$(uri 1)" suspend "$vm" >/dev/null
    [ "$(hv 1 state "$vm")" = paused ] || fail "$vm not paused"
  fi
  before=$((16#$(last_tick "$vm")))
  hv 1 migrate "$vm" "$(turi 2)" --cold --dest "$(uri 2)" --save-dir "$SHARED"
  [ "$(hv 2 state "$vm")" = paused ] || fail "$vm not restored paused on host2"
  [ -e "$SHARED/$vm.save" ] && fail "save image left behind"
  virsh -q -c "$(uri 2)" resume "$vm" >/dev/null
  verify_moved "$vm" 2 1
  after=$((16#$(last_tick "$vm")))
  [ "$after" -ge "$before" ] || fail "$vm counter restarted ($before -> $after)"
done
