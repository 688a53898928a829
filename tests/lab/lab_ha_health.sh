#!/bin/bash
# Issue 7, point 2, from a real health signal (lab_ha_degraded covers the operator flag):
# host1's migration network changes MTU (1500 -> 9000 inside its namespace; raising it
# keeps every TCP connection working). Its signed status record says so, the coordinator
# marks it degraded after the hysteresis and evacuates its protected guests live (counters
# continue, one boot). MTU back -> the signal clears (events say so). No double run.
export LAB_NAME=lhh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
ha_setup hh 1 1 2 3
sampler_start "${VMS[@]}"
declare -A before
for vm in "${VMS[@]}"; do before[$vm]=$(tick_dec "$vm"); done
leader=$(leader_of 2); li=${leader#host}
health_of() { ha_q "$li" ".hosts[] | select(.name == \"$1\") | .health // \"\""; }

ip -n "${NAME}h1" link set eth0 mtu 9000
t0=$(date +%s%N)
log "host1's eth0 MTU set to 9000; coordinator is $leader"
t=$SECONDS
until [ -n "$(health_of host1)" ]; do
  [ $((SECONDS - t)) -lt 40 ] || fail "the coordinator never saw host1's MTU change (ha.status: $(ha_status "$li" | jq -c '.hosts'))"
  sleep 0.3
done
log "coordinator sees host1 degraded after $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(health_of host1)"
for vm in hh1 hh2; do
  w=$(wait_running_once "$vm" 60 1) || fail "$vm not evacuated from degraded host1 in 60 s: QEMUs on [$(hosts_running "$vm")]"
  log "$vm evacuated to host$w"
done
log "host1 evacuated $(( ($(date +%s%N) - t0) / 1000000 )) ms after the MTU change (record refresh + 2 s hysteresis + moves): $(placement_line)"
keep=(); for vm in "${VMS[@]}"; do keep+=("$vm:${before[$vm]}"); done
final_check "${keep[@]}"

ip -n "${NAME}h1" link set eth0 mtu 1500
t=$SECONDS
until [ -z "$(health_of host1)" ]; do
  [ $((SECONDS - t)) -lt 40 ] || fail "host1 still degraded 40 s after its MTU came back: $(health_of host1)"
  sleep 0.3
done
DV_TIMEOUT=5 dv "$li" events --kind health --json | grep -q 'health signals good again' ||
  fail "no 'health signals good again' event on the coordinator"
log "MTU back to 1500: host1's signal cleared; $(placement_line)"
final_check "${keep[@]}"
