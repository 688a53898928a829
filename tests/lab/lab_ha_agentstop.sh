#!/bin/bash
# Issue 11, point 3b: restarting the agent never reboots or destroys a VM. 3 hosts, one
# cluster, 4 protected tick guests (two on the victim host). The victim's agent (not the
# coordinator's) gets SIGTERM, as from `systemctl stop` or a package upgrade: it has the
# cluster freeze its host and stops. Its QEMUs run on without it for ABSENT_S, longer
# than any lease (3 x fence_timeout x 1.25): the same QEMU PIDs throughout, counters
# going on, nothing started anywhere else (the sampler: never twice), nobody self-fenced
# or destroyed a VM (no_collateral, all three hosts). The agent starts again: its guests
# are untouched (same PIDs, one boot each) and the host unfreezes itself. Then the same
# once for the coordinator's own host: a new coordinator honours the freeze.
export LAB_NAME=lha
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
FENCE_MS=2000   # LAB_FENCE_TIMEOUT's default in deploy/lab.sh
ABSENT_S=${ABSENT_S:-$(( (3 * FENCE_MS * 125 / 100 + 999) / 1000 ))}

qemu_pid() { cat "$(hdir "$1")/run/qemu/$2.pid" 2>/dev/null; }
frozen_of() { ha_q "$1" ".hosts[] | select(.name == \"host$2\") | .frozen"; }
# wait_frozen ASK I true|false SECONDS: host ASK's agent shows host I (un)frozen
wait_frozen() { wait_until "$4" "$3" frozen_of "$1" "$2"; }
guests_on() { local vm; for vm in "${VMS[@]}"; do [ "${HOME_OF[$vm]}" != "$1" ] || echo "$vm"; done; }

# SIGTERM to host I's agent (its own PID); wait until it has exited. Prints the ms it took.
agent_term() {
  local d pid t0 _; d=$(hdir "$1"); pid=$(cat "$d/drover.pid"); t0=$(date +%s%N)
  kill -TERM "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "host$1's agent (pid $pid) still runs 15 s after SIGTERM"
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}

# One absence of host I's agent: stop, hold ABSENT_S while checking its guests every
# 0.5 s, start again, wait for the unfreeze. ASK is a live host to ask.
absence() {
  local i=$1 ask=$2 vm t ms; local -A pid=()
  local mine; mine=$(guests_on "$i" | tr '\n' ' ')
  for vm in $mine; do pid[$vm]=$(qemu_pid "$i" "$vm"); done
  log "host$i: guests $mine with QEMU pids $(for vm in $mine; do printf '%s ' "${pid[$vm]}"; done); SIGTERM to its agent"
  ms=$(agent_term "$i")
  log "host$i's agent stopped $ms ms after SIGTERM"
  wait_frozen "$ask" "$i" true 10 || fail "host$ask does not show host$i frozen after its agent stopped"
  DV_TIMEOUT=10 dv "$ask" members > "$LAB/members" 2>&1 || true
  grep -q "^host$i .*frozen" "$LAB/members" || { cat "$LAB/members" >&2; fail "drover members on host$ask does not show host$i frozen"; }
  t=$SECONDS
  while [ $((SECONDS - t)) -lt "$ABSENT_S" ]; do
    for vm in $mine; do
      [ "$(qemu_pid "$i" "$vm")" = "${pid[$vm]}" ] && qemu_alive "$i" "$vm" ||
        fail "$vm's QEMU on host$i (pid ${pid[$vm]}) is gone $((SECONDS - t)) s into the agent's absence"
      [ "$(hosts_running "$vm")" = "$i" ] || fail "$vm runs on [$(hosts_running "$vm")] while host$i is frozen"
    done
    sleep 0.5
  done
  sampler_check
  log "host$i frozen for $ABSENT_S s: its guests ran on untouched: $(placement_line)"
  agent_start "$i"
  t=$SECONDS
  wait_frozen "$ask" "$i" false 30 || fail "host$i not unfrozen 30 s after its agent started again"
  log "host$i unfrozen $((SECONDS - t)) s after its agent started again (fence: $(ha_q "$i" '.fence.mode'))"
  for vm in $mine; do
    [ "$(qemu_pid "$i" "$vm")" = "${pid[$vm]}" ] && qemu_alive "$i" "$vm" ||
      fail "$vm's QEMU on host$i changed or went after the agent came back (was pid ${pid[$vm]})"
    [ "$(console_boots "$vm")" = 1 ] || fail "$vm booted $(console_boots "$vm") times"
  done
}

ha_setup ha 1 2 2 3
sampler_start "${VMS[@]}"
lead=$(leader_of 1); lead=${lead#host}
victim=2; [ "$lead" != 2 ] || victim=3
ask=1; [ "$lead" != 1 ] || [ "$victim" != 2 ] || ask=3
[ "$ask" != "$victim" ] || ask=1
declare -A before=()
for vm in "${VMS[@]}"; do before[$vm]=$(tick_dec "$vm"); done
log "coordinator: host$lead; stopping the agent of host$victim (not the coordinator's), asking host$ask"
absence "$victim" "$ask"

# the coordinator's own host, once: a new coordinator must honour the freeze
other=1; [ "$lead" != 1 ] || other=2
[ -n "$(guests_on "$lead")" ] || fail "the coordinator's host$lead has no guest to keep"
log "now the coordinator's host$lead"
absence "$lead" "$other"
log "coordinator after: $(leader_of "$other")"

sleep 3
final_check $(for vm in "${VMS[@]}"; do printf '%s:%s ' "$vm" "${before[$vm]}"; done)
no_collateral
# applied decisions are journalled on every host, the coordinator's own findings on it
DV_TIMEOUT=10 dv "$ask" events --json --limit 1000 > "$LAB/events.json" 2>/dev/null || true
for want in "host host$victim frozen: its agent is stopping" "host host$victim unfrozen: its agent is back"; do
  grep -q "$want" "$LAB/events.json" || fail "drover events on host$ask lacks '$want'"
done
DV_TIMEOUT=10 dv "$lead" events --json --limit 1000 > "$LAB/coord.json" 2>/dev/null || true
grep -q "host host$victim frozen for [0-9]* s: its [0-9]* protected VMs are not recovered" "$LAB/coord.json" ||
  fail "the coordinator's journal (host$lead) does not say it left host$victim's VMs alone"
grep -q "host host$victim: lease expired" "$LAB/coord.json" && fail "the coordinator took host$victim's lease as expired"
grep -h "frozen for" "$LAB/coord.json" | jq -r .message | head -2 | while read -r l; do log "coordinator: $l"; done
DV_TIMEOUT=10 dv "$victim" events --kind fence --json --limit 1000 > "$LAB/fence.json" 2>/dev/null || true
grep -q "host$victim frozen: agent stopping; its VMs are left alone" "$LAB/fence.json" ||
  fail "host$victim's own journal does not say it stopped frozen"
log "events: $(jq -r 'select(.message | test("frozen|unfrozen")) | .message' "$LAB/events.json" 2>/dev/null | sort | uniq -c | head -8 | tr -s ' ' | tr '\n' ';')"
log "PASS"
