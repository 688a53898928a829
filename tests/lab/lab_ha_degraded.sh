#!/bin/bash
# Issue 7, point 2: degradation. 3 hosts, one cluster, 4 protected tick guests (two on
# host1). `drover host degraded host1 on` (the operator-set health signal): host1's guests
# are evacuated like a drain while it can still migrate (live: counters continue, one
# boot) and host1 gets no new VMs: when host2 is then killed, its guests restart on host3
# only. `degraded host1 off` clears the flag. No double run, sampled throughout. host1
# (degraded, not failed) and host3 must neither self-fence nor destroy a VM
# (no_collateral). LAB_LOAD=saturated runs all of it with every core and the disk busy
# (lab_ha_degraded_loaded).
export LAB_NAME=lhg
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
ha_setup hg 1 1 2 3
sampler_start "${VMS[@]}"
load_start
declare -A before
for vm in "${VMS[@]}"; do before[$vm]=$(tick_dec "$vm"); done
flag_of() { ha_q "$1" ".hosts[] | select(.name == \"$2\") | .degraded_flag"; }

dr_expect 0 3 host degraded host1 on
t=$SECONDS
until [ "$(flag_of 1 host1)" = true ]; do
  [ $((SECONDS - t)) -lt 5 ] || fail "host1's degraded flag is '$(flag_of 1 host1)' after 'degraded host1 on'"
  sleep 0.2
done
t0=$(date +%s%N)
for vm in hg1 hg2; do
  w=$(wait_running_once "$vm" 60 1) || fail "$vm not evacuated from degraded host1 in 60 s: QEMUs on [$(hosts_running "$vm")]"
  log "$vm evacuated to host$w"
done
log "host1 (degraded, admin $(admin_of 1 host1)) evacuated in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(placement_line)"
keep=(); for vm in "${VMS[@]}"; do keep+=("$vm:${before[$vm]}"); done
final_check "${keep[@]}"

# no new VMs on a degraded host: host2's guests must restart on host3
gone=(); for vm in "${VMS[@]}"; do [ "$(hosts_running "$vm")" = 2 ] && gone+=("$vm"); done
log "killing host2 (runs ${gone[*]:-nothing})"
host_failed 2
t0=$(date +%s%N)
host_kill 2
for vm in "${gone[@]}"; do
  w=$(wait_running_once "$vm" 60 2) || fail "$vm not restarted after host2 died: QEMUs on [$(hosts_running "$vm")]"
  [ "$w" = 3 ] || fail "$vm restarted on host$w, but host1 is degraded: only host3 may take it"
  log "$vm restarted on host3 (not on degraded host1) $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
done
log "restart_after_death: $(( ($(date +%s%N) - t0) / 1000000 )) ms (all of host2's protected guests)"
keep=(); for vm in "${VMS[@]}"; do
  [[ " ${gone[*]} " == *" $vm "* ]] || keep+=("$vm:${before[$vm]}")
done
final_check "${keep[@]}"

dr_expect 0 3 host degraded host1 off
t=$SECONDS
until [ "$(flag_of 3 host1)" = false ]; do
  [ $((SECONDS - t)) -lt 5 ] || fail "host1's degraded flag is '$(flag_of 3 host1)' after 'degraded host1 off'"
  sleep 0.2
done
log "degraded host1 off: flag cleared, admin $(admin_of 3 host1): $(placement_line)"
final_check "${keep[@]}"
no_collateral
