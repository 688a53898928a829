#!/bin/bash
# Issue 7 (c): isolation. 3 hosts, one cluster, 4 protected tick guests (two on host3).
# host3's link is cut (its veth on the lab switch goes down). host3's agent, with no
# contact to the quorum for fence_timeout (2 s in the lab), destroys its protected
# guests (self-fence); the coordinator restarts them on host1/host2 only after host3's
# lease has surely expired. For the whole partition (PARTITION_S) every guest runs
# exactly once and none on host3; the link heals, host3 rejoins the cluster, reconciles
# and starts nothing it does not own: still exactly once, sampled throughout. host1 and
# host2 kept quorum: neither may self-fence or destroy a VM (no_collateral). LAB_LOAD=
# saturated runs all of it with every core and the disk busy (lab_ha_isolate_loaded).
export LAB_NAME=lhi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
PARTITION_S=${PARTITION_S:-20}
ha_setup hi 1 2 3 3
sampler_start "${VMS[@]}"
load_start
b1=$(tick_dec hi1); b2=$(tick_dec hi2)
log "coordinator (Raft leader): $(leader_of 1); cutting host3 off"

host_failed 3
t0=$(date +%s%N)
ip -n "${NAME}sw" link set "${NAME}v3" down
fenced=
for vm in hi3 hi4; do
  t=$SECONDS
  while qemu_alive 3 "$vm"; do
    [ $((SECONDS - t)) -lt 30 ] || fail "host3 did not destroy $vm 30 s into the partition (no self-fence)"
    sleep 0.1
  done
  fenced="$fenced $vm@$(( ($(date +%s%N) - t0) / 1000000 ))ms"
done
log "host3 self-fenced:$fenced; its fence state: $(ha_q 3 '.fence.mode // "?"')"
for vm in hi3 hi4; do
  w=$(wait_running_once "$vm" 60 3) ||
    fail "$vm not running exactly once off host3 60 s into the partition: QEMUs on [$(hosts_running "$vm")]"
  log "$vm runs on host$w $(( ($(date +%s%N) - t0) / 1000000 )) ms after the cut"
done
sampler_check
# hold the partition: every guest exactly once, none on host3, every second
t=$SECONDS
while [ $((SECONDS - t)) -lt "$PARTITION_S" ]; do
  for vm in "${VMS[@]}"; do
    w=$(hosts_running "$vm")
    [ "$(echo "$w" | wc -w)" = 1 ] || fail "$vm runs on [$w] $((SECONDS - t)) s into the held partition"
    [ "$w" != 3 ] || fail "$vm runs on the isolated host3"
  done
  sleep 1
done
sampler_check
log "partition held $PARTITION_S s: every guest ran exactly once, none on host3: $(placement_line)"

ip -n "${NAME}sw" link set "${NAME}v3" up
cluster_wait 3 60 || fail "host3 did not rejoin in 60 s: $(cluster_summary)"
log "healed; host3 rejoined: $(cluster_summary)"
sleep 5
final_check "hi1:$b1" "hi2:$b2"
for vm in hi3 hi4; do
  qemu_alive 3 "$vm" && fail "host3 started $vm again after the heal"
done
no_collateral
log "after the heal: $(placement_line)"
