#!/bin/bash
# Issue 7 (b): host failure. 3 hosts, one cluster, 4 protected tick guests (two on host2).
# Everything of host2 is SIGKILLed at once (agent, libvirtd, virtlockd, QEMUs: its own
# PIDs only, frozen first). Its guests must come up on host1/host3, each exactly once,
# without any guest ever running twice (sampled throughout); the others keep running
# untouched (counters continue, one boot). Prints the time from the kill until all of
# host2's guests run elsewhere (bench/ha.sh measures it over many trials). host1 and
# host3 must neither self-fence nor destroy a VM (no_collateral). LAB_LOAD=saturated
# runs all of it with every core and the disk busy (lab_ha_death_loaded).
export LAB_NAME=lhk
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
ha_setup hk 1 2 2 3
sampler_start "${VMS[@]}"
load_start
b1=$(tick_dec hk1); b4=$(tick_dec hk4)
lead=$(leader_of 1)
log "coordinator (Raft leader): $lead; killing host2"

host_failed 2
t0=$(date +%s%N)
host_kill 2
for vm in hk2 hk3; do
  w=$(wait_running_once "$vm" 60 2) ||
    fail "$vm not running exactly once elsewhere 60 s after host2 died: QEMUs on [$(hosts_running "$vm")]"
  log "$vm runs on host$w $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
done
log "restart_after_death: $(( ($(date +%s%N) - t0) / 1000000 )) ms (all of host2's protected guests)"
final_check "hk1:$b1" "hk4:$b4"
for vm in hk2 hk3; do
  [ "$(console_boots "$vm")" = 2 ] || fail "$vm booted $(console_boots "$vm") times (expected 2: once, once after the restart)"
done
# the decisions are in the journal with their reasons
DV_TIMEOUT=10 dv 1 events --json > "$LAB/events.json" 2>/dev/null || true
grep -q 'hk2' "$LAB/events.json" || fail "drover events on host1 says nothing about hk2"
log "events on host1 mention the restarts: $(grep -c 'hk[23]' "$LAB/events.json") lines"
# a while later: still exactly once each
sleep 5
final_check "hk1:$b1" "hk4:$b4"
no_collateral
log "after the death of host2: $(placement_line)"
