#!/bin/bash
# Issue 7 (d): the coordinator dies in the middle of a drain. 3 hosts, one cluster; the
# coordinator is the Raft leader L (cordoned, so it takes no guests). Three protected
# tick guests on host D (not L), one on R (the third). `drover host drain hostD` (no
# --wait) is committed, and as
# soon as the drain is under way (host D draining, or a move in flight) L is killed
# outright. D and R elect a new leader, whose coordinator rebuilds from the replicated
# state (moves in flight included) and finishes the drain: D in maintenance, every guest
# on R exactly once, counters continuing (live moves only, no reboot), no double run.
# D and R must neither self-fence nor destroy a VM (no_collateral). LAB_LOAD=saturated
# runs all of it with every core and the disk busy (lab_ha_coordloss_loaded).
export LAB_NAME=lhc
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
ha_cluster_up
L=$(leader_of 1); L=${L#host}
[ -n "$L" ] || fail "no leader"
D=; R=
for i in 1 2 3; do
  [ "$i" = "$L" ] && continue
  if [ -z "$D" ]; then D=$i; else R=$i; fi
done
log "coordinator host$L; draining host$D; host$R takes the guests"
ha_guests hc "$D" "$D" "$D" "$R"
sampler_start "${VMS[@]}"
load_start
declare -A before
for vm in "${VMS[@]}"; do before[$vm]=$(tick_dec "$vm"); done

# L is cordoned first, so the drain sends everything to R: killing L then costs only the
# coordinator (a guest that had just moved to L would die with it and rightly be
# restarted, which lab_ha_death covers)
dr_expect 0 "$R" host cordon "host$L"
wait_admin "$R" "host$L" cordoned 5 || fail "host$L not cordoned"
dr_expect 0 "$R" host drain "host$D"
# kill in the middle: as soon as the coordinator (L itself, which knows its moves first)
# shows a move in flight; one status call per look, the whole drain takes ~1.5 s
t0=$(date +%s%N); st=
while :; do
  st=$(ha_status "$L" | jq -r --arg h "host$D" \
    '"\([.hosts[] | select(.name == $h) | .admin][0]) \((.moves | length) + ([.vms[] | select((.moving_to // "") != "" and .moving_to != -1)] | length))"' 2>/dev/null) || st=
  case "$st" in
    maintenance*) fail "the drain finished before the coordinator could be killed" ;;
    "draining "[1-9]*) break ;;
  esac
  [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ] || fail "no move in flight 5 s after the drain request (host$D: $st)"
done
log "drain under way (host$D $st moves in flight $(( ($(date +%s%N) - t0) / 1000000 )) ms after the request); killing host$L"
host_failed "$L"
t0=$(date +%s%N)
host_kill "$L"
t=$SECONDS
until nl=$(leader_of "$R") && [ -n "$nl" ] && [ "$nl" != "host$L" ] && [ "$(leader_of "$D")" = "$nl" ]; do
  [ $((SECONDS - t)) -lt 30 ] || fail "no new leader 30 s after host$L died: $(cluster_summary)"
  sleep 0.1
done
log "new coordinator $nl after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
wait_admin "$R" "host$D" maintenance 90 ||
  fail "host$D is '$(admin_of "$R" "host$D")' 90 s after the coordinator died, not maintenance: $(placement_line)"
log "drain finished by $nl $(( ($(date +%s%N) - t0) / 1000000 )) ms after the kill"
for vm in "${VMS[@]}"; do
  w=$(wait_running_once "$vm" 10 "$D") || fail "$vm is not on host$R alone: QEMUs on [$(hosts_running "$vm")]"
  [ "$w" = "$R" ] || fail "$vm runs on host$w, expected host$R"
done
keep=(); for vm in "${VMS[@]}"; do keep+=("$vm:${before[$vm]}"); done
final_check "${keep[@]}"
no_collateral
log "after the drain: $(placement_line)"
