#!/bin/bash
# A protected guest that powers itself off (ACPI S5, as an OS shutting down) is not
# started again — vSphere HA's rule — and `drover vm list` says why; started again by
# hand, HA keeps it running again. 3 hosts, two protected "off" tick guests (they power
# off after OFF_AFTER_TICKS ticks) on host1 and host2; no guest ever runs twice.
export LAB_NAME=lhs
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
export OFF_AFTER_TICKS=15
GUEST_KIND=off ha_setup hs 1 2
sampler_start "${VMS[@]}"
want_of() { ha_q "$1" ".vms[] | select(.name == \"$2\") | .want_running"; }

for vm in "${VMS[@]}"; do
  t0=$SECONDS
  while [ -n "$(hosts_running "$vm")" ]; do
    [ $((SECONDS - t0)) -lt 40 ] || fail "$vm did not power itself off in 40 s (ticks: $(console_ticks "$vm"))"
    sleep 0.2
  done
  log "$vm powered itself off after $(console_ticks "$vm") ticks"
done
# the coordinator would have started them again within ~1 s: give it 8
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 8 ]; do
  for vm in "${VMS[@]}"; do
    w=$(hosts_running "$vm")
    [ -z "$w" ] || fail "$vm was started again on host$w after its guest shut it down"
  done
  sleep 0.3
done
for vm in "${VMS[@]}"; do
  [ "$(want_of 3 "$vm")" = false ] || fail "$vm: want_running is '$(want_of 3 "$vm")' after the guest's shutdown"
done
dv 3 vm list > "$LAB/list" || fail "drover vm list failed"
grep -q "hs1.*shut down: not kept running" "$LAB/list" || { cat "$LAB/list" >&2; fail "vm list does not say hs1 was shut down"; }
log "both stay off, vm list says why: $(grep hs1 "$LAB/list" | tr -s ' ')"

# started again by hand on its owner: kept running from then on
v 1 start hs1 > /dev/null
t0=$SECONDS
until [ "$(want_of 3 hs1)" = true ]; do
  [ $((SECONDS - t0)) -lt 10 ] || fail "hs1 started by hand, but want_running is still '$(want_of 3 hs1)'"
  sleep 0.2
done
log "hs1 started by hand on host1: kept running again after $((SECONDS - t0)) s"
w=$(wait_running_once hs1 10) || fail "hs1 does not run exactly once"
[ "$w" = 1 ] || fail "hs1 runs on host$w, expected host1"
[ -z "$(hosts_running hs2)" ] || fail "hs2 runs again without being started"
sampler_check
log "PASS"
