#!/bin/bash
# Issue 11, point 4: fast restart by a confirmed fence. 3 hosts, one cluster, whose agents
# have `[ha] fence_command` = the lab's PDU (deploy/lab.sh fence: freeze the named lab
# host's whole process tree, SIGKILL every PID of it, exit 0 once all of it is gone).
# fence_timeout is 120 s here: no lease can run out during the test, so a restart can
# only come from a confirmed fence. Host C (not the coordinator) is cut off the lab
# switch: alone it is not dead, it keeps its guests running. Once gossip suspects it and
# its lease reports have been missing for fence_after (1 s), the coordinator runs the
# fence command for C (with C's name and address), C is gone,
# and its two protected guests restart on the other hosts, each exactly once (sampled
# throughout); the other guests keep running untouched and no other host self-fences or
# destroys a VM. Prints the times from the cut to the fence command and to all of C's
# guests running elsewhere. LAB_LOAD=saturated runs it under load (lab_ha_lib.sh).
export LAB_NAME=lhf
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
# the agents run `sh -c CMD drover-fence HOST ADDR` (docs/ha.md); each call is recorded
mkdir -p "$LAB"
FENCE_CALLS=$LAB/fence.calls
: > "$FENCE_CALLS"
cat > "$LAB/fence.sh" <<EOF
#!/bin/bash
# lab_ha_fencecmd's fence_command: the lab's PDU for lab host \$1 (address \$2)
echo "\$(date +%s%N) on \$(hostname): \$*" >> '$FENCE_CALLS'
LAB='$LAB' LAB_NAME='$LAB_NAME' LAB_NET='${LAB_NET:-10.77.0}' exec bash '$ROOT/deploy/lab.sh' fence "\$@"
EOF
chmod +x "$LAB/fence.sh"
# shellcheck disable=SC2016   # $1 and $2 are sh -c's, expanded by the agent's shell
export LAB_FENCE_COMMAND="$LAB/fence.sh \"\$1\" \"\$2\"" LAB_FENCE_TIMEOUT=120s

ha_cluster_up
grep -q '^fence_command = ' "$(hdir 1)/drover.conf" || fail "drover.conf has no fence_command"
L=$(leader_of 1); L=${L#host}
[ -n "$L" ] || fail "no leader"
A=; B=; C=
for i in 3 2 1; do
  [ "$i" = "$L" ] && continue
  if [ -z "$C" ]; then C=$i; else A=$i; fi
done
B=$L
log "coordinator host$L; host$C will be cut off and fenced; guests on host$A, host$B, 2 on host$C"
ha_guests hf "$A" "$B" "$C" "$C"
sampler_start "${VMS[@]}"
load_start
b1=$(tick_dec hf1); b2=$(tick_dec hf2)

host_failed "$C"
t0=$(date +%s%N)
ip -n "${NAME}sw" link set "${NAME}v$C" down
log "host$C cut off"
t=$SECONDS
until [ -s "$FENCE_CALLS" ]; do
  [ $((SECONDS - t)) -lt 60 ] || fail "no fence command 60 s after host$C was cut off: $(cluster_summary)"
  sleep 0.1
done
log "fence command called $(( ($(date +%s%N) - t0) / 1000000 )) ms after the cut: $(cat "$FENCE_CALLS")"
for vm in hf3 hf4; do
  w=$(wait_running_once "$vm" 60 "$C") ||
    fail "$vm not running exactly once off host$C 60 s after the cut (its lease has 120 s): QEMUs on [$(hosts_running "$vm")]"
  log "$vm runs on host$w $(( ($(date +%s%N) - t0) / 1000000 )) ms after the cut"
done
log "restart_after_fence: $(( ($(date +%s%N) - t0) / 1000000 )) ms from the cut to all of host$C's protected guests running elsewhere"

# the fence really happened, to host C only, and the coordinator took its exit 0
[ -z "$(host_pids "$C" | while read -r p; do
          st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) && [ "$st" != Z ] && echo "$p"; done)" ] ||
  fail "host$C still has live processes after its fence"
bad=$(grep -vE ": host$C( |\$)" "$FENCE_CALLS" || true)
[ -z "$bad" ] || fail "the fence command was run for another host: $bad"
DV_TIMEOUT=10 dv "$L" events --kind fence --limit 1000 --json > "$LAB/coord-fence.json" 2>/dev/null || true
jq -r .message "$LAB/coord-fence.json" | grep -q "^fence_command for host$C: exit 0" ||
  fail "host$L's journal has no 'fence_command for host$C: exit 0': $(jq -r .message "$LAB/coord-fence.json" | tail -5)"
log "host$L: $(jq -r .message "$LAB/coord-fence.json" | grep "^fence_command for host$C" | head -1)"
# host C was killed running: it never had to self-fence (its lease had 120 s)
grep -q ' -> fenced' "$(hdir "$C")/drover.log" && log "note: host$C self-fenced before its fence: $(grep ' -> fenced' "$(hdir "$C")/drover.log" | head -1)"

final_check "hf1:$b1" "hf2:$b2"
for vm in hf3 hf4; do
  [ "$(console_boots "$vm")" = 2 ] || fail "$vm booted $(console_boots "$vm") times (expected 2: once, once after the restart)"
done
no_collateral
log "after the fence of host$C: $(placement_line)"
